"""logistic_regression end to end: oracles agree, reference full marks, stub zero, and each
buggy submission loses exactly the parts it breaks, labelled with the right code."""
import numpy as np

from autograder import cases, project
from tests.helpers import codes_of, lost_parts, mutate, part_of, reference_source

A = "logistic_regression"


REF = reference_source(A)


def test_transposed_product_is_named(grade_source):
    src = mutate(REF, "return X.T @ dz, float(np.sum(dz))", "return (dz[:, None] * X).T.sum(axis=1)[None, :].T, float(np.sum(dz))")
    report = grade_source(A, src)
    assert lost_parts(report) == {"gradients.dw"}
    assert "shape_mismatch" in codes_of(report, "gradients.dw")


def test_syntax_error_is_reported_and_nothing_crashes(grade_source):
    report = grade_source(A, REF.replace("def bce_loss(X, y, w, b):", "def bce_loss(X, y, w, b)"))
    assert report.score == 0
    assert "syntax error" in report.load_error and "line" in report.load_error
    assert all(p.diagnoses == ["load_error"] for p in report.parts)


def test_missing_function_costs_only_its_parts(grade_source):
    src = REF.replace("def grad_logits(", "def grad_logit(").replace("dz = grad_logits(", "dz = grad_logit(")
    report = grade_source(A, src)
    assert lost_parts(report) == {"grad_logits"}
    assert codes_of(report, "grad_logits") == ["missing_function"]
    assert "not defined" in part_of(report, "grad_logits").feedback


def test_infinite_loop_times_out_and_other_parts_are_graded(grade_source):
    src = mutate(REF, "    dz = grad_logits(X, y, w, b)\n    return X.T @ dz", "    while True:\n        pass\n    dz = grad_logits(X, y, w, b)\n    return X.T @ dz")
    report = grade_source(A, src)
    assert lost_parts(report) == {"gradients.dw", "gradients.db"}
    assert codes_of(report, "gradients.dw") == ["timeout"]
    assert report.score == 10 - 3


def test_right_numbers_in_another_representation_earn_the_points_with_a_note(grade_source):
    """A list, a numpy float32 scalar, a float32 array, an int array: converted, with a note in
    the grader's own words."""
    src = mutate(REF, "return sigmoid(X @ w + b)", "return list(sigmoid(X @ w + b))")
    src = mutate(src, "return X.T @ dz, float(np.sum(dz))", "return (X.T @ dz).astype(np.float32), np.float32(np.sum(dz))")
    src = mutate(src, "return float(np.mean(np.logaddexp(0.0, z) - y * z))", "return np.array(np.mean(np.logaddexp(0.0, z) - y * z))")
    report = grade_source(A, src)
    assert lost_parts(report) == set()
    assert "note: `p` was returned as a list; it was converted to a float64 array." in part_of(report, "predict_proba").feedback
    assert "`dw` was returned as a float32 array" in part_of(report, "gradients.dw").feedback
    assert "`db` was returned as a numpy float32 scalar; it was converted to a float" in part_of(report, "gradients.db").feedback
    assert "`loss` was returned as a 0-d array" in part_of(report, "bce_loss").feedback
    assert "note:" not in part_of(report, "sigmoid").feedback


def test_shapes_stay_strict_and_values_that_are_not_numbers_still_fail(grade_source):
    src = mutate(REF, "return sigmoid(X @ w + b)", "return sigmoid(X @ w + b)[None, :].tolist()")  # a (1, N) list
    src = mutate(src, "return float(np.mean(np.logaddexp(0.0, z) - y * z))", "return str(np.mean(np.logaddexp(0.0, z) - y * z))")
    report = grade_source(A, src)
    assert codes_of(report, "predict_proba")[0] == "shape_mismatch"
    assert "got shape (1, " in part_of(report, "predict_proba").feedback
    assert codes_of(report, "bce_loss") == ["wrong_type"]
    assert "`loss` is a string; expected a float of real numbers" in part_of(report, "bce_loss").feedback
    assert part_of(report, "bce_loss").score == 0
    report = grade_source(A, mutate(REF, "return X.T @ dz, float(np.sum(dz))", "return X.T @ dz, None"))
    assert lost_parts(report) == {"gradients.db"} and codes_of(report, "gradients.db") == ["wrong_type"]


def test_hidden_feedback_never_repeats_a_type_name_the_submission_chose(grade_source):
    src = REF + """
class MyVeryOwnArray(np.ndarray):
    pass

class MyVeryOwnNumber:
    def __float__(self):
        return 0.5

_sigmoid = sigmoid
def sigmoid(z):
    return _sigmoid(z).view(MyVeryOwnArray)

def bce_loss(X, y, w, b):
    return MyVeryOwnNumber()
"""
    report = grade_source(A, src)
    text = "\n".join(p.feedback for p in report.parts)
    assert "MyVeryOwn" not in text
    assert part_of(report, "sigmoid").score == 1 and "`s` was returned as a numpy array subclass" in text
    assert part_of(report, "bce_loss").score == 0


def test_input_mutation_fails_the_case(grade_source):
    src = mutate(REF, "    dz = grad_logits(X, y, w, b)\n    return X.T @ dz", "    dz = grad_logits(X, y, w, b)\n    X *= 1.0 + 0 * X\n    X[0] = 0\n    return X.T @ dz")
    report = grade_source(A, src)
    assert "input_mutated" in codes_of(report, "gradients.db")


def test_check_mode_shows_public_values_but_grade_mode_hides_expected(grade_source):
    src = mutate(REF, "return X.T @ dz, float(np.sum(dz))", "return 2 * X.T @ dz, float(np.sum(dz))")
    public = grade_source(A, src, mode="check")
    hidden = grade_source(A, src, mode="grade")
    pub = next(p for p in public.parts if p.name == "gradients.dw")
    hid = next(p for p in hidden.parts if p.name == "gradients.dw")
    assert "expected" in pub.feedback and "got" in pub.feedback
    assert "expected " not in hid.feedback.replace("expected result", "")
    assert public.summary().startswith("public ") and "hidden tests run on submission" in public.summary()


def test_same_seed_same_cases_and_different_seed_different_cases():
    spec = project.load_assignment(A)
    part = spec.part("gradients.dw")
    a = cases.generate(part, (1,))
    b = cases.generate(part, (1,))
    c = cases.generate(part, (2,))
    assert [x.id for x in a] == [x.id for x in b]
    assert all(np.array_equal(x.inputs["X"], y.inputs["X"]) for x, y in zip(a, b))
    assert any(x.inputs["X"].shape != y.inputs["X"].shape or not np.allclose(x.inputs["X"], y.inputs["X"]) for x, y in zip(a, c))
    dims = [x.dims for x in a if x.dims]
    assert any(d["N"] == 1 for d in dims) and any(d["D"] == 1 for d in dims)
    assert any(d["N"] != d["D"] for d in dims)


FINITE_DIFFERENCES = """
def gradients(X, y, w, b, h=1e-6):
    dw = np.zeros_like(w)
    for i in range(len(w)):
        e = np.zeros_like(w)
        e[i] = h
        dw[i] = (bce_loss(X, y, w + e, b) - bce_loss(X, y, w - e, b)) / (2 * h)
    return dw, (bce_loss(X, y, w, b + h) - bce_loss(X, y, w, b - h)) / (2 * h)
"""


def test_finite_differences_are_flagged_by_the_time_budget(grade_source):
    src = REF.split("def gradients(")[0] + FINITE_DIFFERENCES
    report = grade_source(A, src)
    dw = part_of(report, "gradients.dw")
    slow = [c for c in dw.cases if c.code == "too_slow"]
    assert [c.id for c in slow] == ["gradients[N=10,D=20000,case=9]"]
    assert "reference took" in slow[0].detail
    assert dw.score == 0  # the budget costs the whole part
    # on small cases finite differences are accurate to the tolerance: only the budget catches them
    assert all(c.passed for c in dw.cases if c.code != "too_slow")


def test_a_one_off_cost_on_a_small_case_is_not_judged_by_the_budget(grade_source):
    # a lazy import or a warm-up on the first call: 0.4 s of CPU, over the 0.25 s floor, on a tiny case
    src = "import time\n" + REF.replace("def gradients(", "def _gradients(") + """
_warm = []

def gradients(X, y, w, b):
    if not _warm:
        _warm.append(True)
        start = time.process_time()
        while time.process_time() - start < 0.4:
            pass
    return _gradients(X, y, w, b)
"""
    report = grade_source(A, src)
    assert {p.name: p.score for p in report.parts if p.name.startswith("gradients")} == {"gradients.dw": 2, "gradients.db": 1}


def test_the_budget_is_judged_before_the_values(grade_source):
    # finite differences drift near the tolerance on the wide case; slow and off must still cost the part
    src = REF.split("def gradients(")[0] + FINITE_DIFFERENCES.replace("return dw,", "return dw * (1 + 3e-4),")
    report = grade_source(A, src, mode="check")
    dw = part_of(report, "gradients.dw")
    assert [c.code for c in dw.cases if not c.passed and c.code not in ("wrong_values", "near_miss")] == ["too_slow"]
    slow = next(c for c in dw.cases if c.code == "too_slow")
    # the values are shown beside the verdict, unless a loaded machine stretched the call past
    # its wall-clock limit (then no value came back; the verdict is the same)
    shown = "the values also differ" in slow.detail and "relative error" in slow.detail
    assert shown or "no answer within" in slow.detail, slow.detail
    assert dw.score == 0


def test_a_per_sample_loss_is_named_not_reduced_without_talking_of_a_bias(grade_source):
    report = grade_source(A, mutate(REF, "return float(np.mean(np.logaddexp(0.0, z) - y * z))",
                                    "return np.logaddexp(0.0, z) - y * z"))
    assert lost_parts(report) == {"bce_loss", "bce_loss_stable"}
    assert codes_of(report, "bce_loss") == ["not_reduced"]
    feedback = part_of(report, "bce_loss").feedback
    line = next(x for x in feedback.splitlines() if "[not_reduced]" in x)
    assert "`loss` has one value per sample" in line and "gradient" not in line.split(". (")[0]


def test_edge_cases_count_only_beside_a_passing_random_case(grade_source):
    # forgetting the 1/N is right at N = 1: those edges must not earn what the random cases lose
    report = grade_source(A, mutate(REF, "return (predict_proba(X, w, b) - y) / X.shape[0]", "return predict_proba(X, w, b) - y"))
    part = part_of(report, "grad_logits")
    assert part.score == 0 and part.diagnoses[0] == "scaled_by_N" and "edge_only" in part.diagnoses
    assert [c.shape.split(",")[0] for c in part.cases if c.code == "edge_only"] == ["N=1", "N=1"]
    # a right answer that breaks only at N = 1 (np.squeeze) keeps every other case
    report = grade_source(A, mutate(REF, "return (predict_proba(X, w, b) - y) / X.shape[0]",
                                    "return np.squeeze((predict_proba(X, w, b) - y) / X.shape[0])"))
    part = part_of(report, "grad_logits")
    assert [c.code for c in part.cases if not c.passed] == ["shape_mismatch", "shape_mismatch"]
    assert abs(part.score - 1.5 * 8 / 10) < 1e-4  # 10 cases with the budget's wide one; scores are rounded to 4 places
