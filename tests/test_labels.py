"""Labels must be true: a combined factor names both pieces, no `transposed` where transposing
changes nothing, a rounding-level miss is "close, but outside the tolerance" with both numbers,
and a hint speaks only of the part it is shown with."""
import numpy as np
import pytest

from autograder import catalogue, diagnose, project
from tests.helpers import codes_of, mutate, part_of, reference_source

MSE, LOGISTIC = "mse_two_layer", "logistic_regression"


@pytest.mark.parametrize("factor, code, text", [
    pytest.param(10.0, "scaled_by_N", "2N times too large: the 1/N is missing and a factor 2 is added", id="2N"),
    pytest.param(5.0, "scaled_by_N", "N times too large: the 1/N is missing", id="N"),
    pytest.param(2.5, "scaled_by_N", "N/2 times too large: the 1/N is missing and a factor 1/2 is added", id="N/2"),
    pytest.param(0.1, "scaled_by_N", "2N times too small: there is one 1/N too many and a factor 1/2 is added",
                 id="1/(2N)"),
    pytest.param(-5.0, "sign_flipped", "N times too large: the 1/N is missing and the sign is flipped", id="-N"),
    pytest.param(0.5, "scaled_const", "2 times too small: a factor 1/2 is added", id="1/2"),
])
def test_a_factor_is_named_by_its_pieces(factor, code, text):
    assert diagnose.name_factor(factor, 5) == (code, {"factor": text})


def test_a_factor_no_mistake_explains_is_not_named():
    assert diagnose.name_factor(3.0, 5) is None and diagnose.name_factor(1.0, 5) is None
    assert diagnose.name_factor(5.0, None) is None  # no batch, no N


def test_sum_of_squares_gradient_is_off_by_2N_with_both_pieces_named(grade_source):
    """`2 * (Y_hat - Y)` with no 1/N (a lecture's "network in 20 lines") was scaled_const with a
    hint about the MSE's 1/2, and the missing 1/N was never mentioned."""
    src = mutate(reference_source(MSE), "return (Y_hat - Y) / Y.shape[0]", "return 2 * (Y_hat - Y)")
    report = grade_source(MSE, src)
    for name in ("output_grad", "backward.W2", "backward.b1"):  # backward starts from output_grad
        part = part_of(report, name)
        assert part.diagnoses[0] == "scaled_by_N", (name, part.diagnoses)
        assert "(2N times too large: the 1/N is missing and a factor 2 is added)" in part.feedback, name
        assert part.hint.startswith("dZ2 = (Y_hat - Y)/N: the 2 from differentiating the square cancels"), name


@pytest.mark.parametrize("shape", [(1, 1), (3, 3)], ids=["1x1", "symmetric"])
def test_no_transpose_is_named_where_transposing_changes_nothing(shape):
    expected = np.full(shape, 0.25) + np.eye(shape[0])
    for rounding in (1e-7, 3e-4):  # float32 rounding; an epsilon somewhere
        assert diagnose.detect_values(expected * (1 + rounding), expected, batch=None) is None
    assert diagnose.detect_values(expected + 1e-3 * np.eye(shape[0])[::-1], expected, batch=None) is None
    wrong = np.arange(9.0).reshape(3, 3)
    assert diagnose.detect_values(wrong, wrong.T, batch=None) == ("transposed", {})


def test_a_rounding_level_miss_reads_close_with_both_numbers_not_a_mistake(grade_source):
    """3e-4 relative on every sigmoid (an epsilon somewhere): near_miss on every case, the
    N = 1, D = 1 edge included, where a transpose used to be named."""
    ref = reference_source(LOGISTIC)
    src = mutate(ref, "    return out\n", "    return out * (1 + 3e-4)\n")
    report = grade_source(LOGISTIC, src)
    sigmoid = part_of(report, "sigmoid")
    # an edge whose sigmoids are all tiny may pass (3e-4 of them is below the floor's 1e-6):
    # it then does not count beside failing random cases (edge_only); every miss is near_miss
    assert sigmoid.score == 0 and "near_miss" in {c.code for c in sigmoid.cases}
    assert {c.code for c in sigmoid.cases} <= {"near_miss", "edge_only"}
    assert any(c.shape == "N=1, D=1" for c in sigmoid.cases)
    assert "is close, but outside the tolerance: relative error 0.0003, threshold 0.0001." in sigmoid.feedback
    assert "transposed" not in str(report.parts)
    mistake = grade_source(LOGISTIC, mutate(ref, "    return out\n", "    return out * 1.01\n"))
    # 100 x the threshold: the mistake is named (a case of tiny sigmoids may still be close)
    assert codes_of(mistake, "sigmoid")[0] == "scaled_const"


def test_hints_speak_only_of_the_part_they_are_shown_with(grade_source):
    ref = reference_source(LOGISTIC)
    report = grade_source(LOGISTIC, mutate(ref, "    return out\n", "    return out.T\n")
                          .replace("return float(np.mean(np.logaddexp(0.0, z) - y * z))",
                                   "return float(2 * np.mean(np.logaddexp(0.0, z) - y * z))"))
    sigmoid, loss = part_of(report, "sigmoid"), part_of(report, "bce_loss")
    assert sigmoid.diagnoses[0] == "transposed" and sigmoid.hint == catalogue.hint("transposed")
    assert loss.diagnoses[0] == "scaled_const" and loss.hint == catalogue.hint("scaled_const")
    assert "dW" not in sigmoid.feedback and "MSE" not in loss.feedback and "1/2" not in loss.feedback
    mse = grade_source(MSE, mutate(reference_source(MSE), "dW = dZ.T @ A_prev", "dW = A_prev.T @ dZ"))
    assert codes_of(mse, "linear_backward.dW")[0] == "transposed"
    assert "dW = dZ^T A_prev" in part_of(mse, "linear_backward.dW").hint


def test_a_declared_hint_is_not_shown_for_another_output(grade_source):
    """mse_two_layer declares a `dW = dZ^T A_prev` hint for its weight gradients only: a
    transposed Z1 gets the catalogue's generic one."""
    src = mutate(reference_source(MSE), "    return {\"Z1\": Z1, \"A1\": A1, \"Z2\": Z2}",
                 "    return {\"Z1\": Z1.T, \"A1\": A1, \"Z2\": Z2}")
    part = part_of(grade_source(MSE, src), "forward.Z1")
    assert part.diagnoses[0] == "transposed" and part.hint == catalogue.hint("transposed")


def test_declared_hints_are_catalogue_codes_and_catalogue_hints_are_generic():
    for aid in project.assignment_ids():
        for part in project.load_assignment(aid).parts:
            assert set(part.hints) <= set(catalogue.CATALOGUE), (aid, part.name, set(part.hints))
    for code in ("transposed", "scaled_by_N", "scaled_const", "sign_flipped", "reduced_wrong_axis", "log_of_zero"):
        text = catalogue.hint(code)
        assert not any(word in text for word in ("MSE", "dW", "sigmoid(z)", "1/2 of")), (code, text)


def test_the_readme_lists_every_catalogue_code():
    import re

    text = (project.root() / "README.md").read_text()
    listed = text[text.index("**Diagnosis codes**"):text.index("Their sentences and hints")]
    assert set(re.findall(r"`([A-Za-z_]+)`", listed)) == set(catalogue.CATALOGUE)
