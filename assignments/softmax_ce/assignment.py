"""Softmax + cross-entropy: a one-hidden-layer classifier and its backward pass (seed 000).

Z1 = X W1^T + b1, A1 = sigma(Z1), Z2 = A1 W2^T + b2, P = softmax(Z2) row-wise,
L = -1/N sum_p sum_i Y_pi log P_pi.

numpy only: this file is also loaded inside the sandboxed worker.
"""

import numpy as np

from autograder.spec import GRADIENT_BUDGET, SCALAR, Assignment, Cases, Function, Out, Part, Probes, Returns, Tol

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


# ---- probes: logits up to 1e4 in magnitude (exp overflows above ~709). Each varies with the
# seed (values, signs, row order, shapes), so public and hidden grading never share one.

def _shape(rng, rows=(2, 6), cols=(3, 6)):
    """A non-square shape (at N = K a 1/K and a 1/N mistake give the same answer)."""
    while True:
        N, K = int(rng.integers(rows[0], rows[1] + 1)), int(rng.integers(cols[0], cols[1] + 1))
        if N != K:
            return N, K


def _huge(rng, size=None):
    """Magnitudes from 1e3 to 1e4."""
    return rng.uniform(1e3, 1e4, size=size)


def _grid(Z):
    """Logits on a grid of 1/8: float32 holds every such value up to 2^20 exactly, so a
    student who computes in float32 sees the very logits the oracles see (at 1e4, float32 is
    spaced 1e-3 apart: a near tie drawn at random would move by a rounding of the input)."""
    return np.round(np.asarray(Z, dtype=np.float64) * 8.0) / 8.0


def _near_tie_row(rng, K, offset):
    """K logits within 3 of ``offset``: a softmax row that is not one-hot."""
    return offset + rng.uniform(-3.0, 0.0, size=K)


def huge_uniform(rng):
    """Logits drawn from [-1e4, 1e4], one of them past +1e3 (a naive exp overflows)."""
    N, K = _shape(rng, (3, 6), (3, 6))
    Z = rng.uniform(-1e4, 1e4, size=(N, K))
    Z[rng.integers(N), rng.integers(K)] = _huge(rng)
    return {"Z": _grid(Z)}


def huge_near_ties(rng):
    """Large logits whose softmax is not one-hot: only differences matter. Rows near +1e4 and
    near -1e4 (both signs), one entry far below its row's others."""
    N, K = _shape(rng, (2, 4), (3, 5))
    signs = rng.permutation(np.concatenate([[1.0, -1.0], rng.choice([-1.0, 1.0], size=N - 2)]))
    Z = np.stack([_near_tie_row(rng, K, sign * _huge(rng)) for sign in signs])
    Z[rng.integers(N), rng.integers(K)] = -_huge(rng) - 1e4
    return {"Z": _grid(Z)}


def huge_rows_far_apart(rng):
    """Rows near +M and near -M (M from 1e3 to 1e4): subtracting the *global* max empties the
    rows near -M (every exp underflows, 0/0)."""
    N, K = _shape(rng, (2, 4), (3, 5))
    M = _huge(rng)
    signs = rng.permutation(np.concatenate([[1.0, -1.0], rng.choice([-1.0, 1.0], size=N - 2)]))
    return {"Z": _grid(np.stack([_near_tie_row(rng, K, sign * M) for sign in signs]))}


def _far_row(rng, K, label):
    """Logits whose largest sits 1e3 to 1e4 above the labelled class: its probability
    underflows to exactly 0, so log(softmax) is log 0."""
    top = int(rng.choice([k for k in range(K) if k != label]))
    row = rng.uniform(-1e4, 1e4, size=K)
    row[top] = rng.uniform(0.0, 1e4)
    row[label] = row[top] - _huge(rng)
    row = np.minimum(row, row[top])
    return row


def _tie_row(rng, K, label):
    """Large logits within 3 of each other (at +-1e3..1e4), the labelled class among them."""
    return _near_tie_row(rng, K, rng.choice([-1.0, 1.0]) * _huge(rng))


def _mid_row(rng, K, label):
    """Logits of magnitude 700 to 1000, both signs: around exp's overflow threshold."""
    return rng.choice([-1.0, 1.0], size=K) * rng.uniform(700.0, 1000.0, size=K)


ROWS = {"far": _far_row, "tie": _tie_row, "mid": _mid_row}


def _huge_ce(kinds):
    """Cross-entropy probes: one-hot labels and rows of the given kinds (``ROWS``), always one
    "far" row, so that log(softmax) is log 0; the row order, the labels and the extra rows
    (drawn from the same kinds) vary."""
    def make(rng):
        N, K = _shape(rng, (len(kinds), 5), (3, 5))
        extra = list(rng.choice(kinds, size=N - len(kinds)))
        labels = rng.integers(0, K, size=N)
        rows = [ROWS[kind](rng, K, label) for kind, label in zip(list(kinds) + extra, labels)]
        order = rng.permutation(N)
        return {"Z": _grid(np.stack(rows)[order]), "Y": np.eye(K)[labels[order]]}
    return make


HUGE_CE = {  # never square: at N = K a 1/K and a 1/N mistake give the same answer
    "huge_wrong_class": _huge_ce(["far", "far"]),
    "huge_mixed": _huge_ce(["far", "tie", "mid"]),
    "huge_near_ties": _huge_ce(["tie", "tie", "far"]),
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


# Trivial answers only this assignment knows (the engine adds zeros, ones, a constant and an
# input echoed): rows of P that are uniform, or one-hot at each row's largest logit, and what
# the loss and its gradient are from them. They must never earn a point.
def _uniform_rows(Z):
    return np.full(Z.shape, 1.0 / Z.shape[1])


def _one_hot_rows(Z):
    return np.eye(Z.shape[1])[np.argmax(Z, axis=1)]


SOFTMAX_TRIVIAL = {"uniform_rows": lambda inputs, expected: {"P": _uniform_rows(inputs["Z"])},
                   "one_hot_rows": lambda inputs, expected: {"P": _one_hot_rows(inputs["Z"])}}
FORWARD_TRIVIAL = {"uniform_rows": lambda inputs, expected: {"P": _uniform_rows(expected["Z2"])},
                   "one_hot_rows": lambda inputs, expected: {"P": _one_hot_rows(expected["Z2"])}}
CE_TRIVIAL = {"uniform_rows": lambda inputs, expected: {"loss": np.log(inputs["Z"].shape[1])}}
GRAD_TRIVIAL = {name: (lambda rows: lambda inputs, expected: {
                    "dZ": (rows(inputs["Z"]) - inputs["Y"]) / inputs["Z"].shape[0]})(rows)
                for name, rows in (("uniform_rows", _uniform_rows), ("one_hot_rows", _one_hot_rows))}


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
# Every gradient part has one wide case for its CPU budget (spec.GRADIENT_BUDGET): backprop takes
# under 0.1 ms there, the same math in Python loops under 0.1 s; finite differences (two evaluations
# per entry perturbed) 2-4 s of CPU.
BACKWARD_CASES = Cases(network, dims=NET, random=6, edges=(*NET_EDGES, {"N": 2, "D": 1000, "H": 50, "K": 3}))
CE_GRAD_CASES = Cases(labelled, dims=CLASSES, random=6,
                      edges=({"N": 1}, {"K": 2}, {"N": 1, "K": 2}, {"N": 1000, "K": 10}))

# Fix hints in this assignment's terms, each shown only with the parts it is declared on.
SOFTMAX_HINTS = {"reduced_wrong_axis": "Softmax normalises each row (one sample): subtract the row max and "
                                       "divide by the row sum, with axis=1 and keepdims=True."}
WEIGHT_HINTS = {"transposed": "With Z = A_prev W^T + b, dW = dZ^T A_prev: it has W's shape (out, in)."}

_forward = [
    Part(f"forward.{out}", points=0.5, function="forward", group="forward", outputs=(out,),
         tol=VALUES, cases=FORWARD_CASES, variants={"reduced_wrong_axis": _forward_softmax_wrong_axis} if out == "P" else {},
         hints=SOFTMAX_HINTS if out == "P" else {})
    for out in ("Z1", "A1", "Z2", "P")
]
_backward = [
    Part(f"backward.{out}", points=pts, function="backward", group="backward", outputs=(out,),
         tol=VALUES, cases=BACKWARD_CASES, variants=BACKWARD_VARIANTS, hints=WEIGHT_HINTS if out[0] == "W" else {},
         budget=GRADIENT_BUDGET)
    for out, pts in (("W1", 2.5), ("b1", 1), ("W2", 2.5), ("b2", 1))
]

ASSIGNMENT = Assignment(
    id="softmax_ce",
    title="Softmax and cross-entropy: backpropagation through a one-hidden-layer classifier",
    summary="softmax, cross_entropy, softmax_ce_grad, forward and backward for "
            "P = softmax(sigma(X W1^T + b1) W2^T + b2) with L = -1/N sum Y log P",
    functions=[
        Function("softmax", args=("Z",), returns=Returns.array("P"), trivial=SOFTMAX_TRIVIAL),
        Function("cross_entropy", args=("Z", "Y"), returns=Returns.scalar("loss"), trivial=CE_TRIVIAL),
        Function("softmax_ce_grad", args=("Z", "Y"), returns=Returns.array("dZ"), trivial=GRAD_TRIVIAL),
        Function("forward", args=("X", "params"), returns=Returns.dict(Out("Z1"), Out("A1"), Out("Z2"), Out("P")),
                 trivial=FORWARD_TRIVIAL),
        Function("backward", args=("X", "Y", "params", "cache"),
                 returns=Returns.dict(Out("W1"), Out("b1"), Out("W2"), Out("b2"))),
    ],
    parts=[
        Part("softmax", points=2, function="softmax", tol=VALUES, cases=SOFTMAX_CASES,
             variants=SOFTMAX_VARIANTS, hints=SOFTMAX_HINTS),
        # a property part: the values are the `softmax` part's job, here only the rows decide
        Part("softmax_rows_sum_to_1", points=1, function="softmax", tol=VALUES, values=False,
             checks=(rows_sum_to_one,),
             cases=Cases(wide_logits, dims={"N": (1, 12), "K": (1, 9)}, random=6, edges=({"N": 1}, {"K": 1}))),
        Part("softmax_stable", points=1.5, function="softmax", tol=VALUES, forbid=("overflow",),
             variants=SOFTMAX_VARIANTS, hints=SOFTMAX_HINTS,
             cases=Probes({"huge_uniform": huge_uniform, "huge_near_ties": huge_near_ties,
                           "huge_rows_far_apart": huge_rows_far_apart})),
        Part("cross_entropy", points=2, function="cross_entropy", tol=SCALAR, cases=CE_CASES,
             variants=MEAN_VARIANTS),
        Part("cross_entropy_stable", points=1.5, function="cross_entropy", tol=SCALAR, forbid=("overflow",),
             cases=Probes(HUGE_CE), variants=MEAN_VARIANTS),
        Part("cross_entropy_soft_labels", points=1, function="cross_entropy", tol=SCALAR,
             cases=Cases(soft_labelled, dims=CLASSES, random=6, edges=({"N": 1}, {"K": 2})), variants=MEAN_VARIANTS),
        Part("softmax_ce_grad", points=2, function="softmax_ce_grad", tol=VALUES, cases=CE_GRAD_CASES,
             variants={"extra_sigmoid_prime": _grad_extra_sigmoid_prime, **MEAN_VARIANTS}, budget=GRADIENT_BUDGET),
        *_forward,
        *_backward,
    ],
)
