"""One tolerance policy for every assignment (autograder/spec.py, Tol and SCALAR): correct math in
float32 inside and the usual smoothing of a log pass on ordinary cases, the stability probes
still fail naive formulas, and the course's mistakes stay far above it."""
import pytest

from autograder import project, selftest
from autograder.spec import SCALAR, Tol
from bench.bench_tolerance import collect
from tests.helpers import lost_parts, part_of

IDS = project.assignment_ids()
SEEDS = range(100, 130)  #: not the seeds the suites grade with


@pytest.mark.parametrize("aid", IDS)
def test_every_assignment_grades_with_the_policy(aid):
    """No assignment sets numbers of its own: each output has Tol() or, for one number that
    can be 0, SCALAR."""
    spec = project.load_assignment(aid)
    tols = {tol for part in spec.parts for _, _, tol in spec.graded(part)}
    assert tols <= {Tol(), SCALAR}, tols
    assert Tol().rtol == SCALAR.rtol == 1e-4


@pytest.mark.parametrize("aid", IDS)
def test_float32_inside_passes_every_case_of_many_seeds(aid):
    """The reference run in float32 inside (selftest's generated variant) passes every random
    and edge case and every probe of 30 seeds the suites do not grade with (probe inputs are
    chosen so float32 holds them exactly)."""
    found = [c for c in collect(aid, SEEDS, mistakes=False) if c.name == "float32_inside"]
    assert len(found) > 1000
    assert [c.where for c in found if c.ratio() > 1] == []


@pytest.mark.parametrize("aid", IDS)
def test_selftest_grades_the_float32_variant_to_full_marks(grade_source, aid):
    spec = project.load_assignment(aid)
    source = selftest.float32_variant(project.solution_path(aid).read_text(), sorted({p.function for p in spec.parts}))
    ok, detail = selftest.judge_float32(grade_source(aid, source))
    assert ok, detail


@pytest.mark.parametrize("aid", ["logistic_regression", "softmax_ce", "gradient_descent"])
def test_smoothing_inside_a_log_passes_ordinary_cases_and_fails_the_probes(aid):
    """np.clip(p, 1e-12, 1 - 1e-12) and np.log(p + 1e-8) pass every random and edge case where
    no probability of a labelled class is below 1e-4 (below it, the smoothing itself moves
    that sample's loss by more than 1e-4: `log(p + 1e-8) - log(p) ~ 1e-8 / p`); on the
    stability probes (saturated sigmoids, logits of 1e4) both fail."""
    found = [c for c in collect(aid, SEEDS, mistakes=False) if c.name != "float32_inside"]
    clip = [c for c in found if c.name.startswith("clip")]
    eps = [c for c in found if c.name.startswith("eps")]
    assert eps and (clip or aid == "gradient_descent")
    assert [c.where for c in clip if c.kind != "probe" and c.ratio() > 1] == []
    assert [c.where for c in eps if c.kind != "probe" and c.ratio() > 1 and c.labelled_p >= 1e-4] == []
    probes = [c for c in found if c.kind == "probe"]
    assert all(c.ratio() > 100 for c in probes if "saturated_wrong" in c.where or "huge_wrong_class" in c.where)
    assert aid == "gradient_descent" or probes


def test_float32_gradients_in_logistic_regression_earn_full_marks(grade_source):
    """float32 arithmetic inside, cast back, earns full marks (the grade is the math):
    logistic regression's tolerance was 1e-8 and failed it."""
    ref = project.solution_path("logistic_regression").read_text()
    report = grade_source("logistic_regression", ref + '''
_f64 = gradients
def gradients(X, y, w, b):
    dw, db = _f64(X.astype(np.float32), y.astype(np.float32), w.astype(np.float32), np.float32(b))
    return dw.astype(np.float64), float(db)
''')
    assert lost_parts(report) == set(), [(p.name, p.feedback) for p in report.parts if not p.ok]
    assert "relative error <= 0.0001" in part_of(report, "gradients.dw").tolerance
