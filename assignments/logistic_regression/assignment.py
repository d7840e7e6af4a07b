"""Logistic regression: sigmoid, probabilities, binary cross-entropy and its gradient.

numpy only: this file is also loaded inside the sandboxed worker.
"""
import numpy as np

from autograder.spec import SCALAR, Assignment, Cases, Function, Out, Part, Probes, Returns, Tol

#: The tolerance policy (autograder/spec.py, Tol), as in every assignment: float32 arithmetic
#: inside passes. A loss or a bias gradient is one number that can be (or cancel to) exactly 0:
#: SCALAR compares it relative to max(|expected|, 1) rather than to its own size.
VALUES = Tol()
SIZES = {"N": (1, 12), "D": (1, 7)}
EDGES = ({"N": 1}, {"D": 1}, {"N": 1, "D": 1})


def data(rng, N, D):
    """A batch X (N, D), labels y in {0, 1}, weights w (D,) and a float bias b."""
    return {
        "X": rng.normal(size=(N, D)),
        "y": (rng.random(N) < 0.5).astype(np.float64),
        "w": rng.normal(size=D),
        "b": float(rng.normal()),
    }


def logits(rng, N, D):
    return {"z": rng.normal(scale=4.0, size=(N, D))}


def huge_logits_1d(rng):
    return {"z": np.array([-1e4, -1e3, -750.0, -40.0, -1e-3, 0.0, 1e-3, 40.0, 750.0, 1e3, 1e4])}


def huge_logits_2d(rng):
    return {"z": rng.uniform(-1e4, 1e4, size=(5, 3))}


def _saturated(y):
    """Logits of exactly +-1000: z = X w + b with w = (1000, 0), b = 0."""
    X = np.array([[1.0, 0.5], [-1.0, 0.25], [1.0, -0.5], [-1.0, 2.0]])
    return lambda rng: {"X": X.copy(), "y": np.array(y, dtype=np.float64), "w": np.array([1000.0, 0.0]), "b": 0.0}


DATA = Cases(data, dims=SIZES, random=6, edges=EDGES)
#: One wide case: analytic gradients take a tenth of a millisecond there; finite differences
#: (two loss evaluations per weight, so time grows as N * D**2) take about 0.75 s of CPU, three
#: times BUDGET_FLOOR, so `budget` flags them even on a fast host. At D = 5000 they took
#: 0.25-0.27 s and a fast host let them slip under the floor.
GRADIENT_DATA = Cases(data, dims=SIZES, random=6, edges=(*EDGES, {"N": 10, "D": 10000}))
FAST = 50  #: gradients may take 50x the reference's time (and at least 0.25 s) per case

ASSIGNMENT = Assignment(
    id="logistic_regression",
    title="Logistic regression: the gradient of binary cross-entropy",
    summary="sigmoid, predict_proba, bce_loss, grad_logits and gradients for y_hat = sigma(X w + b)",
    functions=[
        Function("sigmoid", args=("z",), returns=Returns.array("s")),
        Function("predict_proba", args=("X", "w", "b"), returns=Returns.array("p")),
        Function("bce_loss", args=("X", "y", "w", "b"), returns=Returns.scalar("loss")),
        Function("grad_logits", args=("X", "y", "w", "b"), returns=Returns.array("dz")),
        Function("gradients", args=("X", "y", "w", "b"), returns=Returns.tuple(Out("dw"), Out("db", scalar=True))),
    ],
    parts=[
        Part("sigmoid", points=1, function="sigmoid", tol=VALUES,
             cases=Cases(logits, dims=SIZES, random=5, edges=EDGES)),
        Part("sigmoid_stable", points=1, function="sigmoid", tol=VALUES, forbid=("overflow",),
             cases=Probes({"huge_z": huge_logits_1d, "huge_z_2d": huge_logits_2d})),
        Part("predict_proba", points=1, function="predict_proba", tol=VALUES, cases=DATA),
        Part("bce_loss", points=1.5, function="bce_loss", tol=SCALAR, cases=DATA),
        Part("bce_loss_stable", points=1, function="bce_loss", tol=SCALAR,
             cases=Probes({
                 "saturated_right": _saturated([1, 0, 1, 0]),
                 "saturated_wrong": _saturated([0, 1, 0, 1]),
                 "saturated_mixed": _saturated([1, 0, 0, 1]),
             })),
        Part("grad_logits", points=1.5, function="grad_logits", tol=VALUES, cases=DATA),
        Part("gradients.dw", points=2, function="gradients", group="gradients", outputs=("dw",),
             tol=VALUES, cases=GRADIENT_DATA, budget=FAST),
        Part("gradients.db", points=1, function="gradients", group="gradients", outputs=("db",),
             tol=SCALAR, cases=GRADIENT_DATA, budget=FAST),
    ],
)
