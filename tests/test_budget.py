"""Only the math earns gradient points: every graded gradient has a CPU budget against the
reference on one wide case, and the verdict is the same on a loaded machine (a CPU hog on the
other core): the reference keeps every point, finite differences lose every budgeted part."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import project
from autograder.cases import is_edge
from autograder.cases import groups
from autograder.grade import Grader
from autograder.judge import budget_case
from autograder.spec import BUDGET_FLOOR
from tests.helpers import part_of, reference_source

pytestmark = pytest.mark.slow

IDS = project.assignment_ids()
FD = Path(__file__).resolve().parent / "redteam" / "finite_differences"
#: the graded gradients (issue 21): each must declare a budget
GRADIENTS = {
    "logistic_regression": {"grad_logits", "gradients.dw", "gradients.db"},
    "mse_two_layer": {"output_grad", "linear_backward.dA_prev", "linear_backward.dW", "linear_backward.db",
                      "sigmoid_backward", "backward.W1", "backward.b1", "backward.W2", "backward.b2"},
    "softmax_ce": {"softmax_ce_grad", "backward.W1", "backward.b1", "backward.W2", "backward.b2"},
    "gradient_descent": set(),  # quadratic_grad: no budget can tell Python loops from finite differences
}


@pytest.mark.parametrize("aid", IDS)
def test_every_graded_gradient_has_a_budget_judged_on_a_wide_case(aid, sandbox):
    grader = Grader(aid, mode="grade", shared=True)  # times the hidden reference (after the sandbox started)
    spec = grader.spec
    assert {p.name for p in spec.parts if p.budget} == GRADIENTS[aid]
    for key, parts in groups(spec).items():
        if not any(p.budget for p in parts):
            continue
        cases = grader.cases(key)
        widest = cases[budget_case(cases)]
        assert is_edge(parts[0], widest), widest.id  # a pinned wide case, the same in every grading
        # an honest answer has room (8x the reference at least), and the wide case stays cheap to grade
        grader.expected(parts[0], widest)
        seconds = grader.oracles.seconds(parts[0], widest)
        assert seconds < 0.01 and parts[0].budget * seconds < BUDGET_FLOOR, (widest.id, seconds)  # the floor decides


@pytest.fixture
def cpu_hog():
    """A busy process on the other core while the test grades."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.2)
    yield
    hog.kill()
    hog.wait()


@pytest.mark.parametrize("aid", [aid for aid in IDS if GRADIENTS[aid]])
def test_budget_verdicts_hold_with_a_cpu_hog(aid, grade_source, cpu_hog):
    honest = grade_source(aid, reference_source(aid))
    cheat = grade_source(aid, reference_source(aid) + "\n" + (FD / f"{aid}.py").read_text())
    for name in GRADIENTS[aid]:
        assert part_of(honest, name).score == part_of(honest, name).max_score, (name, part_of(honest, name).feedback)
        lost = part_of(cheat, name)
        assert lost.score == 0 and lost.diagnoses[0] == "too_slow", (name, lost.diagnoses)
    # the parts that grade no gradient are the honest forward's, full marks
    assert all(p.score == p.max_score for p in cheat.parts if p.name not in GRADIENTS[aid])


LOOPS = {  # correct math written the slow way, as students do: loops over every entry
    "logistic_regression": """
import math

def gradients(X, y, w, b):
    N, D = X.shape
    dw, db = [0.0] * D, 0.0
    for n in range(N):
        z = b
        for d in range(D):
            z += X[n, d] * w[d]
        g = (1.0 / (1.0 + math.exp(-z)) - y[n]) / N
        db += g
        for d in range(D):
            dw[d] += g * X[n, d]
    return np.array(dw), db
""",
    "mse_two_layer": """
def linear_backward(dZ, A_prev, W):
    N, K = dZ.shape
    H = A_prev.shape[1]
    dA, dW, db = np.zeros((N, H)), np.zeros((K, H)), np.zeros(K)
    for n in range(N):
        for k in range(K):
            g = dZ[n, k]
            db[k] += g
            for h in range(H):
                dA[n, h] += g * W[k, h]
                dW[k, h] += g * A_prev[n, h]
    return dA, dW, db
""",
}


@pytest.mark.parametrize("aid", sorted(LOOPS))
def test_correct_math_in_python_loops_stays_within_the_budget(aid, grade_source, cpu_hog):
    """The grade equals the student's math: loops over every entry are slow, not wrong."""
    report = grade_source(aid, reference_source(aid) + "\n" + LOOPS[aid])
    assert report.score == report.max_score, [(p.name, p.diagnoses) for p in report.parts if p.score < p.max_score]
