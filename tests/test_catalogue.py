"""The catalogue is the one list of diagnosis codes: every code the engine can emit is in it with
a kind, the categories other modules need are asked of it, and an assignment that declares a
code it does not have fails to load."""
import ast
from dataclasses import replace
from pathlib import Path

import pytest

from autograder import catalogue, project
from autograder.batch import gradebook
from autograder.catalogue import CATALOGUE, KINDS, MISTAKE, NOT_RUN
from autograder.spec import AuthorError

ENGINE = Path(catalogue.__file__).parent
#: the modules that decide a case's code (the batch adds grader_error: gradebook.GRADER_ERROR)
DECIDING = ("compare.py", "diagnose.py", "judge.py", "score.py", "shrink.py", "grade.py", "report.py")


def _strings(node: ast.AST):
    """The string constants an expression can evaluate to, through ``a if c else b`` and ``a or b``
    (and the members of a literal tuple, as in ``code in ("wrong_type", "wrong_dtype")``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)
    elif isinstance(node, (ast.BoolOp, ast.Tuple)):
        for value in node.values if isinstance(node, ast.BoolOp) else node.elts:
            yield from _strings(value)


def _names_a_code(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "code") or (isinstance(node, ast.Attribute) and node.attr == "code")


def _code_positions(tree: ast.AST):
    """Every expression in a place where the engine writes or tests a diagnosis code: a
    ``Judged`` or ``Verdict`` code argument, a ``code=`` keyword, the code a ``sentence`` is
    worded for, an assignment to ``code``, a comparison with a ``code``, and the first element of
    a returned tuple (``return "transposed", {}`` in the detectors, ``(code, text)`` elsewhere)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            index = {"Judged": 1, "Verdict": 2, "sentence": 0}.get(name)
            if index is not None and len(node.args) > index:
                yield node.args[index]
            yield from (kw.value for kw in node.keywords if kw.arg == "code")
        elif isinstance(node, ast.Assign) and any(_names_a_code(t) for t in node.targets):
            yield node.value
        elif isinstance(node, ast.Compare) and _names_a_code(node.left):
            yield from node.comparators
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
            yield node.value.elts[0]


def emitted_codes() -> dict[str, set[str]]:
    """Code -> the modules that name it, read from the engine's source."""
    found: dict[str, set[str]] = {}
    for name in DECIDING:
        for node in _code_positions(ast.parse((ENGINE / name).read_text())):
            for text in _strings(node):
                if text:
                    found.setdefault(text, set()).add(name)
    found.setdefault(gradebook.GRADER_ERROR, set()).add("gradebook.py")
    return found


def test_every_code_the_engine_can_emit_is_in_the_catalogue():
    found = emitted_codes()
    unknown = {code: sorted(where) for code, where in found.items() if code not in CATALOGUE}
    assert not unknown, f"codes the engine emits that the catalogue does not have: {unknown}"
    # the scan sees every layer (a scan that found nothing would pass the line above)
    assert {"shape_mismatch", "nonfinite", "transposed", "near_miss", "too_slow", "input_mutated", "property",
            "timeout", "crashed", "memory_limit", "error", "not_implemented", "forbidden_import", "load_error",
            "missing_function", "edge_only", "no_values_pass", "grader_error"} <= set(found)


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


def _redeclared(aid: str, part_name: str, **changes):
    """The assignment ``aid`` declared again with ``changes`` to one part (validated as on load)."""
    spec = project.load_assignment(aid)
    parts = [replace(p, **changes) if p.name == part_name else p for p in spec.parts]
    return replace(spec, parts=parts)


@pytest.mark.parametrize("field, declared, words", [
    pytest.param("variants", {"transposd": lambda inputs, expected: {}}, "a variant for unknown diagnosis code 'transposd'",
                 id="variant"),
    pytest.param("hints", {"sign_fliped": "Mind the sign."}, "a hint for unknown diagnosis code 'sign_fliped'", id="hint"),
    pytest.param("variants", {"timeout": lambda inputs, expected: {}}, "a variant for 'timeout', a code of kind 'not_run'",
                 id="variant-of-a-failure"),
])
def test_an_assignment_declaring_an_unknown_code_fails_to_load(field, declared, words):
    with pytest.raises(AuthorError) as err:
        _redeclared("logistic_regression", "sigmoid", **{field: declared})
    message = str(err.value)
    assert message.startswith("assignment 'logistic_regression': part 'sigmoid' declares "), message
    assert words in message, message


def test_the_shipped_assignments_declare_catalogue_codes_only():
    for aid in project.assignment_ids():
        for part in project.load_assignment(aid).parts:  # loading validates them
            assert set(part.variants) <= catalogue.codes(MISTAKE) and set(part.hints) <= set(CATALOGUE), part.name
