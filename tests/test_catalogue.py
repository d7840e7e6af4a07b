"""The catalogue is the one list of diagnosis codes: every code has a kind, and the categories
other modules need are asked of it."""
from autograder import catalogue, gradebook
from autograder.catalogue import CATALOGUE, KINDS, MISTAKE, NOT_RUN


def test_every_catalogue_code_has_one_kind_and_a_sentence():
    for code, mistake in CATALOGUE.items():
        assert mistake.code == code and mistake.kind in KINDS, code
        assert mistake.sentence and code.isidentifier(), code
    assert set().union(*(catalogue.codes(kind) for kind in KINDS)) == set(CATALOGUE)


def test_the_categories_other_modules_use_come_from_the_kinds():
    assert gradebook.FAILURE_CODES == catalogue.codes(NOT_RUN) == {
        "crashed", "timeout", "memory_limit", "load_error", "forbidden_import", "grader_error"}
    # what is shrunk: wrong answers only, never a hang, a crash, a missing function or a budget
    assert not {"timeout", "crashed", "memory_limit", "missing_function", "not_implemented", "forbidden_import",
                "load_error", "too_slow"} & catalogue.codes(MISTAKE)
    assert {"transposed", "error", "wrong_values", "input_mutated"} <= catalogue.codes(MISTAKE)
