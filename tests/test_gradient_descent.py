"""gradient_descent end to end: oracles agree (iteration counts included), reference full marks
with its figure, stub zero, each buggy submission loses exactly the parts it breaks with the
right code, correct variants keep full marks, and a diverging run stops instead of hanging."""
import json
import sys
import time

import numpy as np
import pytest

from autograder import cases, project
from autograder.oracle import Oracles, call_model
from autograder.report import to_json
from autograder.spec import Part, Probes
from tests.helpers import ROOT, codes_of, lost_parts, mutate, reference_source, stub_source

A = "gradient_descent"
SPEC = project.load_assignment(A)
GD = sys.modules[f"bpgrade_assignment_{A}"]  # the loaded assignment.py (its case makers and models)
EVERY_GD_PART = {"gradient_descent.slides", "gradient_descent.random", "gradient_descent.stopping"}


def group_cases(seed):
    """(lead part, case) for every case, generated per group exactly as the grader does."""
    leads = {}
    for part in SPEC.parts:
        leads.setdefault(part.cases_key, part)
    for key, lead in leads.items():
        for case in cases.generate(Part(key, lead.points, lead.function, lead.cases), (seed,)):
            yield lead, case


def test_reference_and_torch_agree_on_many_seeds():
    oracles = Oracles(SPEC, torch_oracle=project.load_torch_oracle(SPEC), reference=project.load_reference(SPEC))
    checked, lengths = 0, set()
    for seed in range(8):
        for lead, case in group_cases(seed):
            expected = oracles.expected(lead, case)  # raises OracleDisagreement, also on a different row count
            if lead.function == "gradient_descent":
                lengths.add(len(expected["history"]))
            checked += 1
    assert checked > 350
    assert len(lengths) > 15  # many different iteration counts, all matched exactly


def test_random_descent_cases_stay_clear_of_the_stopping_thresholds():
    part = SPEC.part("gradient_descent.random")
    for seed in range(25):
        for case in cases.generate(part, (seed,)):
            history, why, margins = GD._run(case.inputs)
            assert why == "delta_f" and min(margins) > GD.MARGIN and len(history) < 1000


def test_probes_stop_for_the_documented_reason():
    reference = project.load_reference(SPEC)
    got = {}
    for case in cases.generate(SPEC.part("gradient_descent.slides"), (0,)) + \
            cases.generate(SPEC.part("gradient_descent.stopping"), (0,)):
        history = call_model(reference, SPEC, "gradient_descent", case.inputs)["history"]
        _, why, margins = GD._run(case.inputs)
        assert min(margins, default=1.0) > GD.MARGIN, case.id
        got[case.probe] = (len(history), why)
    assert got["lr_0.1"] == (49, "delta_f") and got["lr_0.2"] == (26, "delta_f")  # 48 and 25 steps
    assert got["one_exact_step"] == (2, "grad")
    assert got["starts_at_minimum"] == (1, "grad")
    assert got["max_iters_25"] == (26, "max_iters")
    assert got["diverges_slides_x20"][1] == got["diverges_D8"][1] == "nonfinite"


def test_max_stable_lr_of_the_slides_example():
    reference = project.load_reference(SPEC)
    assert reference.max_stable_lr(GD.SLIDES_A) == pytest.approx(2 / (5 + np.sqrt(10)), rel=1e-12)


def test_reference_scores_full_marks_and_draws_the_paths(grade_source, tmp_path):
    report = grade_source(A, reference_source(A), figures_dir=tmp_path)
    assert report.score == report.max_score == 20
    assert all(p.diagnoses == [] for p in report.parts)
    png = tmp_path / f"{A}.gradient_descent.slides.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    parts = {p["name"]: p for p in json.loads(json.dumps(to_json(report)))["parts"]}
    assert parts["gradient_descent.slides"]["figures"] == [str(png)]
    assert all(not p["figures"] for name, p in parts.items() if name != "gradient_descent.slides")


def test_stub_scores_zero_with_not_implemented_per_part(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.score == 0
    for part in report.parts:
        assert part.diagnoses == ["not_implemented"], part.name
        assert "not implemented" in part.feedback


REF = reference_source(A)
LOOP = "    for _ in range(max_iters):\n"
DELTA_F = "            if not np.isfinite(f_new) or abs(f_new - fx) < tol:\n"
FIT_LOSS = "        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)\n"
FIT_STEP = "        w, b = w - lr * dw, b - lr * db\n"
# (anchor in the reference, replacement, parts that must lose points, (part, first code))
MUTANTS = [
    pytest.param("return float(0.5 * x @ (A @ x) - b @ x)", "return float(x @ (A @ x) - b @ x)",
                 {"quadratic"}, ("quadratic", "scaled_const"), id="quadratic_missing_half"),
    pytest.param("return 0.5 * (A + A.T) @ x - b", "return A @ x - b",
                 {"quadratic_grad"}, ("quadratic_grad", "not_symmetrized"), id="grad_uses_A_not_its_symmetric_part"),
    pytest.param(DELTA_F, "            if not np.isfinite(f_new):\n",
                 {"gradient_descent.slides", "gradient_descent.random"},
                 ("gradient_descent.random", "stopping_rule"), id="stops_only_on_gradient_norm"),
    pytest.param("            if np.linalg.norm(g) < tol:\n                break\n", "",
                 {"gradient_descent.stopping"},
                 ("gradient_descent.stopping", "stopping_rule"), id="recap_loop_only_delta_f"),
    pytest.param("abs(f_new - fx) < tol", "fx - f_new < tol",
                 {"gradient_descent.stopping"},
                 ("gradient_descent.stopping", "stopping_rule"), id="decrease_without_abs"),
    pytest.param(LOOP, "    for _ in range(max_iters + 1):\n",
                 {"gradient_descent.stopping"},
                 ("gradient_descent.stopping", "stopping_rule"), id="one_step_past_max_iters"),
    pytest.param("    history = [x]\n", "    history = []\n",
                 EVERY_GD_PART, ("gradient_descent.random", "history_off_by_one"), id="history_without_x0"),
    pytest.param("    return np.array(history)", "    return np.array(history + history[-1:])",
                 EVERY_GD_PART, ("gradient_descent.random", "shape_mismatch"), id="last_row_twice"),
    pytest.param("x_new = x - lr * g", "x_new = x + lr * g",
                 EVERY_GD_PART, ("gradient_descent.random", "sign_flipped"), id="gradient_ascent"),
    pytest.param("return 2.0 / float(", "return 1.0 / float(",
                 {"max_stable_lr"}, ("max_stable_lr", "scaled_const"), id="one_over_lambda_max"),
    pytest.param("np.linalg.eigvalsh(0.5 * (A + A.T))", "np.linalg.eigvalsh(A)",
                 {"max_stable_lr"}, ("max_stable_lr", "not_symmetrized"), id="eigvalsh_of_nonsymmetric_A"),
    pytest.param(FIT_LOSS + "        dw, db = grad_fn(X, y, w, b)\n" + FIT_STEP,
                 "        dw, db = grad_fn(X, y, w, b)\n" + FIT_STEP + "        z = X @ w + b\n" + FIT_LOSS,
                 {"fit_logistic_regression.losses"}, ("fit_logistic_regression.losses", "history_off_by_one"),
                 id="loss_recorded_after_the_step"),
    pytest.param("w, b = np.zeros(X.shape[1]), 0.0", "w, b = np.ones(X.shape[1]), 0.0",
                 {"fit_logistic_regression.losses", "fit_logistic_regression.params"},
                 ("fit_logistic_regression.losses", "wrong_values"), id="fit_not_from_zeros"),
]


@pytest.mark.parametrize("old, new, broken, labelled", MUTANTS)
def test_buggy_submission_loses_exactly_its_parts(grade_source, old, new, broken, labelled):
    report = grade_source(A, mutate(REF, old, new))
    assert lost_parts(report) == broken
    part, code = labelled
    assert codes_of(report, part)[0] == code, codes_of(report, part)


CORRECT = [
    pytest.param((ROOT / "solutions" / "examples" / A / "correct_while_loop.py").read_text(), id="example_while_loop"),
    pytest.param(
        mutate(mutate(mutate(REF, "    return np.array(history)", "    return np.vstack(history)"),
                      "return 0.5 * (A + A.T) @ x - b", "return (A @ x + x @ A) / 2 - b"),
               "return 2.0 / float(np.linalg.eigvalsh(0.5 * (A + A.T)).max())",
               "return float(2 / np.max(np.linalg.eigvals((A + A.T) / 2).real))"),
        id="vstack_xA_eigvals"),
]


@pytest.mark.parametrize("source", CORRECT)
def test_correct_but_different_implementations_keep_full_marks(grade_source, source):
    report = grade_source(A, source)
    assert report.score == 20, [(p.name, p.diagnoses) for p in report.parts if p.score < p.max_score]


def test_diverging_run_stops_on_the_first_nonfinite_f():
    reference = project.load_reference(SPEC)
    for case in cases.generate(SPEC.part("gradient_descent.stopping"), (0,)):
        if not case.probe.startswith("diverges"):
            continue
        f, _ = GD.quadratic_objective(case.inputs["A"], case.inputs["b"])
        start = time.perf_counter()
        history = call_model(reference, SPEC, "gradient_descent", case.inputs)["history"]
        assert time.perf_counter() - start < 1.0
        assert 500 < len(history) < case.inputs["max_iters"] and np.all(np.isfinite(history))
        assert not np.isfinite(f(history[-1])) and all(np.isfinite(f(x)) for x in history[:-1])


def test_loop_without_cap_or_finite_check_times_out_only_on_diverging_probes(grade_source):
    """`while True` with only the two convergence tests: nan < tol is False, so a diverging run
    never ends. It costs one time limit, not the rest of the grading."""
    src = mutate(mutate(REF, LOOP, "    while True:\n"), DELTA_F, "            if abs(f_new - fx) < tol:\n")
    start = time.perf_counter()
    report = grade_source(A, src)
    assert time.perf_counter() - start < 30
    assert lost_parts(report) == {"gradient_descent.stopping"}
    stopping = next(p for p in report.parts if p.name == "gradient_descent.stopping")
    codes = {c.id.split("probe=")[1].rstrip("]"): c.code for c in stopping.cases}
    assert codes == {"one_exact_step": None, "starts_at_minimum": None, "max_iters_25": "shape_mismatch",
                     "diverges_slides_x20": "timeout", "diverges_D8": "timeout"}
    assert report.score == pytest.approx(20 - 3 * 3 / 5)
