"""Nothing for trivial answers: zeros, ones, a constant, an input echoed, each assignment's own
trivial answers (uniform or one-hot softmax rows, a descent that never moves...) and the public
answers hard-coded earn 0 on every part in hidden grading, while the reference keeps full marks;
probe and property parts count only beside a right random case; probes differ between the
public and the hidden seed and still fail the naive formulas they are there for."""
import numpy as np
import pytest

from autograder import cases, project, selftest, trivial
from autograder.grade import Grader
from autograder.spec import Probes, Tol
from tests.helpers import part_of, reference_source

IDS = project.assignment_ids()


def _graders(aid):
    return Grader(aid, mode="grade", shared=True).prepare(), Grader(aid, mode="check").prepare()


def _earned(report):
    return {p.name: p.score for p in report.parts if p.score > 0}


@pytest.mark.parametrize("aid", IDS)
def test_trivial_answers_and_copied_public_answers_earn_nothing(grade_source, aid):
    hidden, public = _graders(aid)
    sources = selftest.trivial_sources(selftest.load(aid), hidden, public)
    names = [name for name, _ in sources]
    assert names[:4] == ["zeros", "ones", "constant 0.5", "echo #1"] and names[-1] == "public answers"
    assert set(names) >= {name for fn in hidden.spec.functions for name in fn.trivial}
    earned = {}
    for name, source in sources:
        report = grade_source(aid, source)
        assert not report.load_error, (name, report.load_error)
        if report.score:
            earned[name] = _earned(report)
    assert earned == {}
    # the copied answers are the real ones: full marks on the public cases they were copied from
    copied = grade_source(aid, dict(sources)["public answers"], mode="check")
    assert copied.score == copied.max_score
    assert grade_source(aid, reference_source(aid)).score == hidden.spec.max_score


UNIFORM_SOFTMAX = """
import numpy as np

def softmax(Z):
    return np.full(Z.shape, 1.0 / Z.shape[1])

def cross_entropy(Z, Y):
    return float(np.log(Z.shape[1]))

def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / Z.shape[0]
"""
ONE_HOT_SOFTMAX = """
import numpy as np

def softmax(Z):
    return np.eye(Z.shape[1])[np.argmax(Z, axis=1)]
"""
DESCENT_RETURNS_X0 = """
import numpy as np

def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    return np.array([x0], dtype=float)
"""
STEP_SIGMOID = """
import numpy as np

def sigmoid(z):
    return (np.asarray(z) > 0).astype(float)
"""
ZERO_LOSS = """
def bce_loss(X, y, w, b):
    return 0.0
"""


@pytest.mark.parametrize("aid, source", [
    pytest.param("softmax_ce", UNIFORM_SOFTMAX, id="softmax_ce:uniform_rows"),
    pytest.param("softmax_ce", ONE_HOT_SOFTMAX, id="softmax_ce:one_hot_rows"),
    pytest.param("gradient_descent", DESCENT_RETURNS_X0, id="gradient_descent:x0_only"),
    pytest.param("logistic_regression", STEP_SIGMOID, id="logistic_regression:step"),
    pytest.param("logistic_regression", ZERO_LOSS, id="logistic_regression:zero_loss"),
])
def test_handwritten_trivial_answers_earn_nothing(grade_source, aid, source):
    report = grade_source(aid, source)
    assert report.score == 0, _earned(report)


@pytest.mark.parametrize("aid", [aid for aid in IDS if any(
    not p.values or isinstance(p.cases, Probes) for p in project.load_assignment(aid).parts)])
def test_probe_and_property_parts_count_only_beside_a_right_random_case(grade_source, aid):
    """Right answers on exactly the probe and property cases, copied from the hidden grading
    itself, and wrong ones everywhere else: those parts score 0, each case named."""
    hidden, _ = _graders(aid)
    spec = hidden.spec
    paired = [p for p in spec.parts if not p.values or isinstance(p.cases, Probes)]
    tables = {}
    for part in paired:
        fn = spec.function(part.function)
        for case in hidden.cases(part.cases_key):
            tables.setdefault(fn.name, []).append((selftest.call_args(fn, case.inputs), hidden.expected(part, case)))
    report = grade_source(aid, selftest.table_source(spec, tables), shared=True)
    for part in paired:
        result = part_of(report, part.name)
        assert result.score == 0 and result.passed == 0, part.name
        assert "no_values_pass" in result.diagnoses, (part.name, result.diagnoses)
        assert all(c.code == "no_values_pass" for c in result.cases), part.name
    assert "no random case of this function has the right values" in part_of(report, paired[0].name).feedback


def test_a_random_case_a_trivial_answer_gets_right_is_drawn_again():
    """Equal logits in every row: uniform rows are the right softmax, so the grader calls the
    case untelling (it would be drawn again); ordinary logits are telling."""
    grader = Grader("softmax_ce", mode="check")
    parts = cases.groups(grader.spec)["softmax"]
    case = grader.cases("softmax")[0]
    flat = cases.with_inputs(case, {"Z": np.ones_like(case.inputs["Z"]) * 0.3})
    flat = cases.Case(flat.part, flat.index, flat.seed, flat.inputs, dims=flat.dims, draw=99)  # its own cache key
    with grader._lock:
        assert grader._telling(parts, case)
        assert not grader._telling(parts, flat)


def test_the_catalogue_names_each_generic_trivial_answer():
    tol = {"out": Tol(rtol=1e-8)}
    x = np.arange(6.0).reshape(2, 3)
    assert trivial.right_on({"x": x}, {"out": np.zeros((2, 3))}, tol) == "zeros"
    assert trivial.right_on({"x": x}, {"out": np.ones((2, 3))}, tol) == "ones"
    assert trivial.right_on({"x": x}, {"out": np.full((2, 3), 0.25)}, tol) == "constant"
    assert trivial.right_on({"p": {"x": x}}, {"out": x.copy()}, tol) == "echo p.x"
    assert trivial.right_on({"x": x}, {"out": 2 * x}, tol) is None
    assert trivial.right_on({"x": x}, {"out": 2 * x}, tol, {"doubled": lambda i, e: {"out": 2 * i["x"]}}) == "doubled"
    assert trivial.right_on({"x": x}, {"out": np.array(0.25)}, tol) is None  # one number is always some constant


def _naive_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _overflows(fn, *args):
    with np.errstate(over="raise"):
        try:
            fn(*args)
        except FloatingPointError:
            return True
    return False


def _probe_inputs(aid, part, seed):
    seeds = seed if isinstance(seed, tuple) else (seed,)
    return {c.probe: c.inputs for c in cases.generate(project.load_assignment(aid).part(part), seeds)}


def _differ(a, b):
    if isinstance(a, dict):
        return any(_differ(a[k], b[k]) for k in a)
    a, b = np.asarray(a), np.asarray(b)
    return a.shape != b.shape or not np.array_equal(a, b)


SEEDS = range(40)


def _logistic_purposes(seed):
    """Every sigmoid probe overflows a naive sigmoid; every loss probe's logits saturate, so the
    loss computed as log(sigmoid) is not finite."""
    reference = project.load_reference(project.load_assignment("logistic_regression"))
    for probe, x in _probe_inputs("logistic_regression", "sigmoid_stable", seed).items():
        assert _overflows(_naive_sigmoid, x["z"]), (seed, probe)
    for probe, x in _probe_inputs("logistic_regression", "bce_loss_stable", seed).items():
        z = x["X"] @ x["w"] + x["b"]
        with np.errstate(all="ignore"):
            p = reference.sigmoid(z)
            naive = -np.mean(x["y"] * np.log(p) + (1 - x["y"]) * np.log(1 - p))
        assert np.min(np.abs(z)) > 750 and not np.isfinite(naive), (seed, probe)


def _softmax_purposes(seed):
    """Every softmax probe overflows exp(Z) / sum; every cross-entropy probe (never square) has a
    labelled class whose probability underflows, so log(softmax) is not finite."""
    reference = project.load_reference(project.load_assignment("softmax_ce"))

    def naive_softmax(Z):
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    for probe, x in _probe_inputs("softmax_ce", "softmax_stable", seed).items():
        assert _overflows(naive_softmax, x["Z"]), (seed, probe)
    for probe, x in _probe_inputs("softmax_ce", "cross_entropy_stable", seed).items():
        Z, Y = x["Z"], x["Y"]
        with np.errstate(all="ignore"):
            naive = -np.sum(Y * np.log(reference.softmax(Z))) / len(Z)
        assert Z.shape[0] != Z.shape[1] and not np.isfinite(naive), (seed, probe)


def _descent_purposes(seed):
    """Each run stops for its documented reason, clear of the thresholds; the run that starts at
    the minimum does not start at 0 (zeros would be its answer)."""
    import sys

    project.load_assignment("gradient_descent")
    model = sys.modules["bpgrade_assignment_gradient_descent"]  # the loaded assignment.py (its loop model)
    reasons = {"lr_0.1": "delta_f", "lr_0.2": "delta_f", "one_exact_step": "grad", "starts_at_minimum": "grad",
               "max_iters_25": "max_iters", "diverges_slides_x20": "nonfinite", "diverges_D8": "nonfinite"}
    if seed >= 8:  # the diverging runs take ~3000 steps each
        return
    for part in ("gradient_descent.slides", "gradient_descent.stopping"):
        for probe, x in _probe_inputs("gradient_descent", part, seed).items():
            history, why, margins = model._run(x)
            assert why == reasons[probe] and min(margins, default=1.0) > model.MARGIN, (seed, probe)
            if probe == "starts_at_minimum":
                assert len(history) == 1 and np.abs(x["x0"]).max() > 0, seed


PURPOSES = {"logistic_regression": _logistic_purposes, "softmax_ce": _softmax_purposes,
            "gradient_descent": _descent_purposes}


@pytest.mark.parametrize("aid", [aid for aid in IDS if any(isinstance(p.cases, Probes) for p in project.load_assignment(aid).parts)])
def test_probes_vary_with_the_seed_and_keep_their_purpose(aid):
    """The public and the hidden seed never share a probe (so answers copied from a local check
    are worth nothing), the same seed always gives the same one, and on every seed each probe
    still fails the naive formula it is there for."""
    hidden = project.shared_case_seed(project.assignment_key(aid))
    for part in project.load_assignment(aid).parts:
        if isinstance(part.cases, Probes):
            public, secret = _probe_inputs(aid, part.name, project.PUBLIC_SEED), _probe_inputs(aid, part.name, hidden)
            for probe in public:
                assert _differ(public[probe], secret[probe]), (part.name, probe)
                assert not _differ(public[probe], _probe_inputs(aid, part.name, project.PUBLIC_SEED)[probe])
    for seed in SEEDS:
        PURPOSES[aid](seed)
