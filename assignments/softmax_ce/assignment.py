"""Softmax + cross-entropy: a one-hidden-layer classifier and its backward pass (seed 000).

Z1 = X W1^T + b1, A1 = sigma(Z1), Z2 = A1 W2^T + b2, P = softmax(Z2) row-wise,
L = -1/N sum_p sum_i Y_pi log P_pi.

numpy only: this file is also loaded inside the sandboxed worker.
"""

import numpy as np

from autograder.spec import SCALAR, Assignment, Cases, Function, Out, Part, Probes, Returns, Tol

#: Every array output: the tolerance policy (autograder/spec.py, Tol), as in every assignment.
#: Every real mistake (a transpose, a missing 1/N, a wrong axis, a sigma' too many) is off by O(1)
#: relative to the largest expected entry, far above float32 arithmetic inside a correct
#: submission; the scale floor covers cancellation (P - Y on a nearly confident row). The losses,
#: single numbers, are compared relative to max(|expected|, 1) (SCALAR).
VALUES = Tol()
ROW_SUM_TOL = 1e-6

LOGITS = {"N": (1, 9), "K": (1, 7)}
CLASSES = {"N": (1, 9), "K": (2, 7)}  # K >= 2: with one class the loss and its gradient are 0
NET = {"N": (1, 8), "D": (1, 6), "H": (1, 7), "K": (2, 6)}


# ------------------------------------------------------------------ numpy helpers (also used
# by the variants below, which model known mistakes on the same inputs)

def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))  # stable for any z, accurate in the tails


def _softmax(Z, axis=1):
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def _one_hot(rng, N, K):
    return np.eye(K)[rng.integers(0, K, size=N)]


def _params(rng, D, H, K):
    return {
        "W1": rng.normal(scale=1.0 / np.sqrt(D), size=(H, D)),
        "b1": rng.normal(scale=0.5, size=H),
        "W2": rng.normal(scale=1.5 / np.sqrt(H), size=(K, H)),
        "b2": rng.normal(scale=0.5, size=K),
    }


def _cache(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = _sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": _softmax(Z2)}


# ------------------------------------------------------------------ case makers

def logits(rng, N, K):
    return {"Z": rng.normal(scale=3.0, size=(N, K))}


def wide_logits(rng, N, K):
    """Logits of mixed scale (up to ~50): row sums are sensitive to any normalisation slip."""
    scale = rng.choice([0.1, 3.0, 20.0], size=(N, 1))
    return {"Z": rng.normal(size=(N, K)) * scale}


def labelled(rng, N, K):
    """Logits Z (N, K) and one-hot labels Y (N, K)."""
    return {"Z": rng.normal(scale=3.0, size=(N, K)), "Y": _one_hot(rng, N, K)}


def soft_labelled(rng, N, K):
    """Logits Z (N, K) and soft labels Y (N, K): non-negative rows summing to 1."""
    return {"Z": rng.normal(scale=3.0, size=(N, K)), "Y": rng.dirichlet(np.full(K, 0.7), size=N)}


def network(rng, N, D, H, K):
    """A batch X (N, D), one-hot Y (N, K), params, and the reference-correct forward cache."""
    X = rng.normal(size=(N, D))
    params = _params(rng, D, H, K)
    return {"X": X, "Y": _one_hot(rng, N, K), "params": params, "cache": _cache(X, params)}


def network_forward(rng, N, D, H, K):
    X = rng.normal(size=(N, D))
    return {"X": X, "params": _params(rng, D, H, K)}


# ---- probes: logits up to 1e4 in magnitude (exp overflows above ~709)

def huge_uniform(rng):
    return {"Z": rng.uniform(-1e4, 1e4, size=(5, 4))}


def huge_near_ties(rng):
    """Large logits whose softmax is not one-hot: only differences matter."""
    return {"Z": np.array([[1e4, 1e4 - 1.0, 1e4 - 3.0, -1e4],
                           [-1e4, -1e4 + 0.5, -1e4 + 2.0, -1e4 + 2.0],
                           [800.0, 799.0, -800.0, 0.0]])}


def huge_rows_far_apart(rng):
    """One row near +1e4 and one near -1e4: subtracting the *global* max empties the second row."""
    return {"Z": np.array([[1e4, 9999.0, 9998.0],
                           [-1e4, -1e4 + 1.0, -1e4 + 0.25]])}


def _huge_ce(Z, classes):
    Z = np.asarray(Z, dtype=np.float64)
    return lambda rng: {"Z": Z.copy(), "Y": np.eye(Z.shape[1])[classes]}


HUGE_CE = {  # never square: at N = K a 1/K and a 1/N mistake give the same answer
    # the labelled class sits ~1e4 below the row max: its probability underflows to exactly 0
    "huge_wrong_class": _huge_ce([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3e3, 1e4, -1e4], [5e3, -5e3, 1e4]],
                                 [1, 0, 2, 1]),
    "huge_mixed": _huge_ce([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4 + 2.0, 1e4], [750.0, -750.0, 0.0],
                            [0.0, 1e4, -1e4]], [1, 0, 1, 2]),
    "huge_near_ties": _huge_ce([[1e4, 1e4 - 1.0, 1e4 - 3.0, -1e4], [-1e4, -1e4 + 0.5, -1e4 + 2.0, -1e4]], [3, 2]),
}


# ------------------------------------------------------------------ properties and variants

def rows_sum_to_one(inputs, outputs):
    """Every row of P is a probability vector: entries >= 0, sum 1 (within ROW_SUM_TOL)."""
    P = outputs["P"]
    if P.ndim != 2:
        return None  # the shape layer reports this
    if np.any(P < 0):
        r, c = np.argwhere(P < 0)[0]
        return f"`P` has a negative entry P[{r}, {c}] = {P[r, c]:.3g}; probabilities are >= 0."
    sums = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if bad.size:
        r = int(bad[0])
        return (f"row {r} of `P` sums to {sums[r]:.6g}, not 1 ({bad.size} of {len(sums)} rows are off "
                f"by more than {ROW_SUM_TOL:g}); softmax normalises each row (axis=1).")
    return None


def _softmax_wrong_axis(inputs, expected):
    return {"P": _softmax(inputs["Z"], axis=0)}


def _forward_softmax_wrong_axis(inputs, expected):
    return {"P": _softmax(expected["Z2"], axis=0)}


def _grad_extra_sigmoid_prime(inputs, expected):
    s = _sigmoid(inputs["Z"])
    return {"dZ": expected["dZ"] * s * (1.0 - s)}


def _backward_model(inputs, *, output_sigma_prime=False, hidden_grad="sigma_prime_of_Z"):
    """The backward pass with one modelled mistake (the defaults give the correct gradients)."""
    X, Y, params, cache = inputs["X"], inputs["Y"], inputs["params"], inputs["cache"]
    N = X.shape[0]
    dZ2 = (cache["P"] - Y) / N
    if output_sigma_prime:
        s = _sigmoid(cache["Z2"])
        dZ2 = dZ2 * s * (1.0 - s)
    dA1 = dZ2 @ params["W2"]
    if hidden_grad == "missing":
        dZ1 = dA1
    elif hidden_grad == "sigma_prime_of_A":
        sA = _sigmoid(cache["A1"])
        dZ1 = dA1 * sA * (1.0 - sA)
    else:
        dZ1 = dA1 * cache["A1"] * (1.0 - cache["A1"])
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ cache["A1"], "b2": dZ2.sum(axis=0)}


def _mean_over_entries(inputs, expected):
    """-np.mean(Y * log P) in place of -1/N sum Y log P: it divides by every entry (N K) instead
    of by N, so it and every gradient through it are 1/K times the right ones (never right:
    K >= 2 here). No model where K = N: that answer is also "divided by N twice" (scaled_by_N);
    random cases never have K = N, and the probes are not square."""
    N, K = inputs["Y"].shape
    return {name: value / K for name, value in expected.items()} if K not in (1, N) else None


MEAN_VARIANTS = {"mean_over_entries": _mean_over_entries}
BACKWARD_VARIANTS = {
    "extra_sigmoid_prime": lambda inputs, expected: _backward_model(inputs, output_sigma_prime=True),
    "missing_activation_grad": lambda inputs, expected: _backward_model(inputs, hidden_grad="missing"),
    "sigmoid_prime_on_activation": lambda inputs, expected: _backward_model(inputs, hidden_grad="sigma_prime_of_A"),
    "mean_over_entries": _mean_over_entries,
}
SOFTMAX_VARIANTS = {"reduced_wrong_axis": _softmax_wrong_axis}


# ------------------------------------------------------------------ the assignment

SOFTMAX_CASES = Cases(logits, dims=LOGITS, random=6, edges=({"N": 1}, {"K": 1}, {"K": 2}, {"N": 1, "K": 1}))
CE_CASES = Cases(labelled, dims=CLASSES, random=6, edges=({"N": 1}, {"K": 2}, {"N": 1, "K": 2}))
NET_EDGES = ({"N": 1}, {"H": 1}, {"D": 1}, {"K": 2}, {"N": 1, "H": 1})
FORWARD_CASES = Cases(network_forward, dims=NET, random=6, edges=NET_EDGES)
BACKWARD_CASES = Cases(network, dims=NET, random=6, edges=NET_EDGES)

_forward = [
    Part(f"forward.{out}", points=0.5, function="forward", group="forward", outputs=(out,),
         tol=VALUES, cases=FORWARD_CASES, variants={"reduced_wrong_axis": _forward_softmax_wrong_axis} if out == "P" else {})
    for out in ("Z1", "A1", "Z2", "P")
]
_backward = [
    Part(f"backward.{out}", points=pts, function="backward", group="backward", outputs=(out,),
         tol=VALUES, cases=BACKWARD_CASES, variants=BACKWARD_VARIANTS)
    for out, pts in (("W1", 2.5), ("b1", 1), ("W2", 2.5), ("b2", 1))
]

ASSIGNMENT = Assignment(
    id="softmax_ce",
    title="Softmax and cross-entropy: backpropagation through a one-hidden-layer classifier",
    summary="softmax, cross_entropy, softmax_ce_grad, forward and backward for "
            "P = softmax(sigma(X W1^T + b1) W2^T + b2) with L = -1/N sum Y log P",
    functions=[
        Function("softmax", args=("Z",), returns=Returns.array("P")),
        Function("cross_entropy", args=("Z", "Y"), returns=Returns.scalar("loss")),
        Function("softmax_ce_grad", args=("Z", "Y"), returns=Returns.array("dZ")),
        Function("forward", args=("X", "params"), returns=Returns.dict(Out("Z1"), Out("A1"), Out("Z2"), Out("P"))),
        Function("backward", args=("X", "Y", "params", "cache"),
                 returns=Returns.dict(Out("W1"), Out("b1"), Out("W2"), Out("b2"))),
    ],
    parts=[
        Part("softmax", points=2, function="softmax", tol=VALUES, cases=SOFTMAX_CASES,
             variants=SOFTMAX_VARIANTS),
        # a property part: the values are the `softmax` part's job, here only the rows decide
        Part("softmax_rows_sum_to_1", points=1, function="softmax", tol=VALUES, values=False,
             checks=(rows_sum_to_one,),
             cases=Cases(wide_logits, dims={"N": (1, 12), "K": (1, 9)}, random=6, edges=({"N": 1}, {"K": 1}))),
        Part("softmax_stable", points=1.5, function="softmax", tol=VALUES, forbid=("overflow",),
             variants=SOFTMAX_VARIANTS,
             cases=Probes({"huge_uniform": huge_uniform, "huge_near_ties": huge_near_ties,
                           "huge_rows_far_apart": huge_rows_far_apart})),
        Part("cross_entropy", points=2, function="cross_entropy", tol=SCALAR, cases=CE_CASES,
             variants=MEAN_VARIANTS),
        Part("cross_entropy_stable", points=1.5, function="cross_entropy", tol=SCALAR, forbid=("overflow",),
             cases=Probes(HUGE_CE), variants=MEAN_VARIANTS),
        Part("cross_entropy_soft_labels", points=1, function="cross_entropy", tol=SCALAR,
             cases=Cases(soft_labelled, dims=CLASSES, random=6, edges=({"N": 1}, {"K": 2})), variants=MEAN_VARIANTS),
        Part("softmax_ce_grad", points=2, function="softmax_ce_grad", tol=VALUES, cases=CE_CASES,
             variants={"extra_sigmoid_prime": _grad_extra_sigmoid_prime, **MEAN_VARIANTS}),
        *_forward,
        *_backward,
    ],
)
