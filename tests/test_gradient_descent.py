"""gradient_descent end to end: oracles agree (iteration counts included), reference full marks
with its figure, stub zero, each buggy submission loses exactly the parts it breaks with the
right code, correct variants keep full marks, and a diverging run stops instead of hanging."""
import json
import sys
import time

import numpy as np
import pytest

from autograder import cases, project
from autograder.oracle import call_model
from autograder.report import to_json
from autograder.spec import Part
from tests.helpers import codes_of, lost_parts, mutate, part_of, reference_source

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


REF = reference_source(A)
LOOP = "    for _ in range(max_iters):\n"
DELTA_F = "            if not np.isfinite(f_new) or abs(f_new - fx) < tol:\n"
# (anchor in the reference, replacement, parts that must lose points, (part, first code))
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
    stopping = part_of(report, "gradient_descent.stopping")
    codes = {c.id.split("probe=")[1].rstrip("]"): c.code for c in stopping.cases}
    assert codes == {"one_exact_step": None, "starts_at_minimum": None, "max_iters_25": "shape_mismatch",
                     "diverges_slides_x20": "timeout", "diverges_D8": "timeout"}
    assert report.score == pytest.approx(20 - 3 * 3 / 5)


def test_a_constant_factor_is_named_only_where_the_whole_result_has_one(grade_source):
    src = mutate(mutate(reference_source(A), "return 2.0 / float(np.linalg.eigvalsh", "return 1.0 / float(np.linalg.eigvalsh"),
                 "return float(0.5 * x @ (A @ x) - b @ x)", "return float(x @ (A @ x) - b @ x)")
    report = grade_source(A, src, mode="check")
    feedback = {p.name: p.feedback for p in report.parts}
    assert codes_of(report, "max_stable_lr")[0] == "scaled_const"
    assert "has a missing or extra constant factor (factor 0.5)." in feedback["max_stable_lr"]
    # x^T A x - b^T x is no multiple of x^T A x / 2 - b^T x: the code, but no made-up factor
    assert codes_of(report, "quadratic") == ["scaled_const"]
    assert "has a missing or extra constant factor." in feedback["quadratic"]
    assert "factor ()" not in feedback["quadratic"] and "(factor" not in feedback["quadratic"]


def test_losses_as_a_python_list_earn_full_marks_with_a_note(grade_source):
    """Issue 20: `losses` returned as a list of correct floats lost 2 points as wrong_type."""
    src = mutate(REF, "    losses = np.empty(epochs)\n", "    losses = []\n")
    src = mutate(src, "        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)\n",
                 "        losses.append(float(np.mean(np.logaddexp(0.0, z) - y * z)))\n")
    report = grade_source(A, src)
    assert lost_parts(report) == set()
    assert ("note: `losses` was returned as a list; it was converted to a float64 array."
            in part_of(report, "fit_logistic_regression.losses").feedback)
