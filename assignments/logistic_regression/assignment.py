"""Logistic regression: sigmoid, probabilities, binary cross-entropy and its gradient.

numpy only: this file is also loaded inside the sandboxed worker.
"""
import numpy as np

from autograder.spec import GRADIENT_BUDGET, SCALAR, Assignment, Cases, Function, Out, Part, Probes, Returns, Tol

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


def _signs(rng, n):
    """n random signs, at least one of each (n >= 2)."""
    signs = rng.choice([-1.0, 1.0], size=n)
    signs[:2] = -1.0, 1.0
    return rng.permutation(signs)


def huge_logits_1d(rng):
    """Logits up to 1e4 in magnitude, of both signs (exp overflows past ~709, so a naive sigmoid
    warns), beside moderate ones and ones near 0 (where a step function is wrong), in random
    order and number."""
    n_huge = int(rng.integers(4, 8))
    huge = _signs(rng, n_huge) * 10.0 ** rng.uniform(np.log10(750.0), 4.0, size=n_huge)
    moderate = _signs(rng, 2) * rng.uniform(10.0, 60.0, size=2)
    small = rng.uniform(-1e-2, 1e-2, size=int(rng.integers(2, 4)))
    return {"z": rng.permutation(np.concatenate([huge, moderate, small, [0.0]]))}


def huge_logits_2d(rng):
    """A matrix of logits drawn from [-1e4, 1e4], of random shape, with at least one beyond
    +-1e3 of each sign."""
    shape = (int(rng.integers(3, 7)), int(rng.integers(2, 5)))
    z = rng.uniform(-1e4, 1e4, size=shape[0] * shape[1])
    z[:2] = _signs(rng, 2) * rng.uniform(1e3, 1e4, size=2)
    return {"z": rng.permutation(z).reshape(shape)}


def _saturated(labels):
    """Logits z = X w + b of magnitude 800 to 5000, where sigma(z) is exactly 0 or 1 in float64
    (so log(sigma(z)) is log 0), with labels that agree with every logit ("right": the loss is
    ~0), disagree with every one ("wrong") or some of each ("mixed"). One column of X, at a random
    position, carries the huge weight; the shapes and values vary."""
    def make(rng):
        N, D = int(rng.integers(3, 8)), int(rng.integers(2, 5))
        z = _signs(rng, N) * rng.uniform(800.0, 5000.0, size=N)
        w = rng.normal(size=D)
        big = int(rng.integers(D))
        w[big] = rng.choice([-1.0, 1.0]) * rng.uniform(500.0, 2000.0)
        b = float(rng.normal())
        X = rng.normal(size=(N, D))
        rest = np.arange(D) != big
        X[:, big] = (z - b - X[:, rest] @ w[rest]) / w[big]
        right = (X @ w + b > 0).astype(np.float64)
        if labels == "right":
            y = right
        elif labels == "wrong":
            y = 1.0 - right
        else:  # the first two rows right and wrong, the rest at random
            flip = rng.permutation(np.concatenate([[0.0, 1.0], rng.integers(0, 2, size=N - 2)]))
            y = np.abs(right - flip)
        return {"X": X, "y": y, "w": w, "b": b}
    return make


# Trivial answers only this assignment knows (the engine adds zeros, ones, a constant and an
# input echoed): a step function for sigma, and the loss of predicting 1/2 for everyone.
def _step(z):
    return (z > 0).astype(np.float64)


SIGMOID_TRIVIAL = {"step": lambda inputs, expected: {"s": _step(inputs["z"])}}
PROBA_TRIVIAL = {"step": lambda inputs, expected: {"p": _step(inputs["X"] @ inputs["w"] + inputs["b"])}}
LOSS_TRIVIAL = {"chance": lambda inputs, expected: {"loss": np.log(2.0)}}


DATA = Cases(data, dims=SIZES, random=6, edges=EDGES)
#: Each gradient part has one wide case for its CPU budget (spec.GRADIENT_BUDGET): backprop takes
#: about 0.1 ms there; finite differences (two loss evaluations per entry: their time grows as
#: the square of the entries) take about 2 s of CPU, 8x BUDGET_FLOOR.
GRAD_LOGITS_DATA = Cases(data, dims=SIZES, random=6, edges=(*EDGES, {"N": 8000, "D": 2}))
GRADIENT_DATA = Cases(data, dims=SIZES, random=6, edges=(*EDGES, {"N": 10, "D": 20000}))

ASSIGNMENT = Assignment(
    id="logistic_regression",
    title="Logistic regression: the gradient of binary cross-entropy",
    summary="sigmoid, predict_proba, bce_loss, grad_logits and gradients for y_hat = sigma(X w + b)",
    functions=[
        Function("sigmoid", args=("z",), returns=Returns.array("s"), trivial=SIGMOID_TRIVIAL),
        Function("predict_proba", args=("X", "w", "b"), returns=Returns.array("p"), trivial=PROBA_TRIVIAL),
        Function("bce_loss", args=("X", "y", "w", "b"), returns=Returns.scalar("loss"), trivial=LOSS_TRIVIAL),
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
                 "saturated_right": _saturated("right"),
                 "saturated_wrong": _saturated("wrong"),
                 "saturated_mixed": _saturated("mixed"),
             })),
        Part("grad_logits", points=1.5, function="grad_logits", tol=VALUES, cases=GRAD_LOGITS_DATA,
             budget=GRADIENT_BUDGET),
        Part("gradients.dw", points=2, function="gradients", group="gradients", outputs=("dw",),
             tol=VALUES, cases=GRADIENT_DATA, budget=GRADIENT_BUDGET),
        Part("gradients.db", points=1, function="gradients", group="gradients", outputs=("db",),
             tol=SCALAR, cases=GRADIENT_DATA, budget=GRADIENT_BUDGET),
    ],
)
