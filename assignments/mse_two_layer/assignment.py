"""Two-layer network, sigmoid hidden layer, linear output, MSE loss: forward and backward by hand.

Z1 = X W1^T + b1, A1 = sigma(Z1), Z2 = A1 W2^T + b2, Y_hat = Z2, L = 1/(2N) sum_p ||y_hat_p - y_p||^2.

numpy only: this file is also loaded inside the sandboxed worker.
"""
import numpy as np

from autograder.spec import GRADIENT_BUDGET, SCALAR, Assignment, Cases, Function, Out, Part, Returns, Tol

#: Every array output: the tolerance policy (autograder/spec.py, Tol), as in every assignment. A
#: real mistake (a transpose, a factor, a sign, a missing sigma') is off by O(1) relative to the
#: largest expected entry, far above float32 arithmetic inside a submission. The loss, one number
#: that can be 0, is compared relative to max(|expected|, 1) (SCALAR).
VALUES = Tol()

NETWORK = {"N": (1, 10), "D": (2, 7), "H": (1, 6), "K": (1, 5)}
NETWORK_EDGES = ({"N": 1}, {"H": 1}, {"K": 1})
OUTPUT = {"N": (1, 10), "K": (1, 5)}
OUTPUT_EDGES = ({"N": 1}, {"K": 1}, {"N": 1, "K": 1})
LAYER = {"N": (1, 10), "H": (1, 6), "K": (1, 5)}  # one linear layer: in = H, out = K
LAYER_EDGES = ({"N": 1}, {"H": 1}, {"K": 1})
HIDDEN = {"N": (1, 10), "H": (1, 6)}
HIDDEN_EDGES = ({"N": 1}, {"H": 1}, {"N": 1, "H": 1})


# ---------------------------------------------------------------- numpy model (inputs, variants)

def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _sigmoid_prime(z):
    s = _sigmoid(z)
    return s * (1.0 - s)


def _forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = _sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def _backward_with(inputs, *, out_factor=None, hidden_grad=None):
    """The backward pass with a (possibly wrong) output factor and hidden-layer local gradient.

    ``out_factor(Z2)`` multiplies dZ2 (a model of an extra sigma' at the linear output);
    ``hidden_grad(dA1, Z1, A1)`` replaces dZ1 = dA1 * sigma'(Z1).
    """
    X, Y, params, cache = inputs["X"], inputs["Y"], inputs["params"], inputs["cache"]
    dZ2 = (cache["Z2"] - Y) / X.shape[0]
    if out_factor is not None:
        dZ2 = dZ2 * out_factor(cache["Z2"])
    dA1 = dZ2 @ params["W2"]
    if hidden_grad is None:
        dZ1 = dA1 * _sigmoid_prime(cache["Z1"])
    else:
        dZ1 = hidden_grad(dA1, cache["Z1"], cache["A1"])
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ cache["A1"], "b2": dZ2.sum(axis=0)}


# Model mistakes, named with catalogue codes: fn(inputs, expected) -> {output: wrong value}.
SIGMOID_BACKWARD_VARIANTS = {
    "sigmoid_prime_on_activation": lambda i, e: {"dZ": i["dA"] * _sigmoid_prime(_sigmoid(i["Z"]))},
    "missing_activation_grad": lambda i, e: {"dZ": i["dA"]},
    # seed 001's slip: sigma(z)(1 - sigma'(z))
    "sigmoid_prime_slip": lambda i, e: {"dZ": i["dA"] * _sigmoid(i["Z"]) * (1.0 - _sigmoid_prime(i["Z"]))},
}


def _mean_over_entries(inputs, expected):
    """np.mean((Y_hat - Y) ** 2), the usual MSE, in place of this loss: it divides by every entry
    (N K) instead of by N and has no 1/2, so it and every gradient through it are 2/K times the
    right ones (right at K = 2: random cases avoid K = 2); with the 1/2 kept, 1/K times. No
    model at K = 1 (the first is only a missing 1/2, the second is right), nor where the factor
    is 1/N: that answer is also "divided by N twice", which scaled_by_N names."""
    N, K = inputs["Y"].shape
    return [{name: c / K * value for name, value in expected.items()} for c in (2.0, 1.0)
            if K > 1 and c * N != K] or None


MEAN_VARIANTS = {"mean_over_entries": _mean_over_entries}
LINEAR_BACKWARD_VARIANTS = {
    "reduced_wrong_axis": lambda i, e: {"db": i["dZ"].sum(axis=1)},
}
BACKWARD_VARIANTS = {
    "sigmoid_prime_on_activation": lambda i, e: _backward_with(i, hidden_grad=lambda dA, Z, A: dA * _sigmoid_prime(A)),
    "missing_activation_grad": lambda i, e: _backward_with(i, hidden_grad=lambda dA, Z, A: dA),
    "extra_sigmoid_prime": lambda i, e: _backward_with(i, out_factor=_sigmoid_prime),
    "mean_over_entries": _mean_over_entries,
}


# ---------------------------------------------------------------- case makers

def _params(rng, D, H, K):
    return {
        "W1": rng.normal(size=(H, D)),
        "b1": rng.normal(size=H),
        "W2": rng.normal(size=(K, H)),
        "b2": rng.normal(size=K),
    }


def network(rng, N, D, H, K):
    """X (N, D) and params for forward."""
    return {"X": rng.normal(size=(N, D)), "params": _params(rng, D, H, K)}


def network_with_cache(rng, N, D, H, K):
    """X, targets Y (N, K), params and the correct forward cache, for backward."""
    X, params = rng.normal(size=(N, D)), _params(rng, D, H, K)
    return {"X": X, "Y": rng.normal(size=(N, K)), "params": params, "cache": _forward(X, params)}


def predictions(rng, N, K):
    """Predictions Y_hat and targets Y, both (N, K)."""
    return {"Y_hat": rng.normal(size=(N, K)), "Y": rng.normal(size=(N, K))}


def layer(rng, N, H, K):
    """Upstream gradient dZ (N, K), layer input A_prev (N, H) in (0, 1), weights W (K, H)."""
    return {
        "dZ": rng.normal(size=(N, K)) / N,
        "A_prev": _sigmoid(rng.normal(scale=2.0, size=(N, H))),
        "W": rng.normal(size=(K, H)),
    }


def hidden(rng, N, H):
    """Upstream gradient dA (N, H) and pre-activations Z (N, H)."""
    return {"dA": rng.normal(size=(N, H)), "Z": rng.normal(scale=2.0, size=(N, H))}


FORWARD = Cases(network, dims=NETWORK, random=6, edges=NETWORK_EDGES)
PREDICTIONS = Cases(predictions, dims=OUTPUT, random=6, edges=OUTPUT_EDGES)
# Every gradient part has one wide case for its CPU budget (spec.GRADIENT_BUDGET): backprop takes
# under 1 ms there, the same math in Python loops under 0.1 s; finite differences (two evaluations
# per entry perturbed) 2-4 s of CPU.
BACKWARD = Cases(network_with_cache, dims=NETWORK, random=6,
                 edges=(*NETWORK_EDGES, {"N": 2, "D": 1000, "H": 50, "K": 3}))
OUTPUT_GRAD_CASES = Cases(predictions, dims=OUTPUT, random=6, edges=(*OUTPUT_EDGES, {"N": 8000, "K": 5}))
LAYER_CASES = Cases(layer, dims=LAYER, random=6, edges=(*LAYER_EDGES, {"N": 2, "H": 20000, "K": 3}))
HIDDEN_CASES = Cases(hidden, dims=HIDDEN, random=6, edges=(*HIDDEN_EDGES, {"N": 100, "H": 100}))

GRADS = Returns.dict(Out("W1"), Out("b1"), Out("W2"), Out("b2"))

# Fix hints in this assignment's terms, each shown only with the parts it is declared on.
LOSS_HINTS = {
    "scaled_const": "This MSE carries a 1/2: L = 1/(2N) sum ||y_hat - y||^2, i.e. 0.5 * np.sum((Y_hat - Y)**2) / N.",
    "scaled_by_N": "Divide the sum of squares by 2N: the 1/N averages over the N samples, once.",
}
GRAD_HINTS = {  # every gradient through the loss starts from dZ2
    "scaled_const": "dZ2 = (Y_hat - Y)/N: the 2 from differentiating the square cancels the 1/2 of "
                    "L = 1/(2N) sum ||y_hat - y||^2.",
    "scaled_by_N": "dZ2 = (Y_hat - Y)/N: the 2 from differentiating the square cancels the MSE's 1/2, and the "
                   "1/N of the average over the batch stays, once.",
}
WEIGHT_HINTS = {**GRAD_HINTS, "transposed": "With Z = A_prev W^T + b, dW = dZ^T A_prev: it has W's shape (out, in)."}

ASSIGNMENT = Assignment(
    id="mse_two_layer",
    title="Two-layer network with MSE loss: backpropagation by hand",
    summary="forward, mse_loss, output_grad, linear_backward, sigmoid_backward and backward for "
            "Y_hat = sigma(X W1^T + b1) W2^T + b2 with L = 1/(2N) sum ||Y_hat - Y||^2",
    functions=[
        Function("forward", args=("X", "params"), returns=Returns.dict(Out("Z1"), Out("A1"), Out("Z2"))),
        Function("mse_loss", args=("Y_hat", "Y"), returns=Returns.scalar("loss")),
        Function("output_grad", args=("Y_hat", "Y"), returns=Returns.array("dZ2")),
        Function("linear_backward", args=("dZ", "A_prev", "W"),
                 returns=Returns.tuple(Out("dA_prev"), Out("dW"), Out("db"))),
        Function("sigmoid_backward", args=("dA", "Z"), returns=Returns.array("dZ")),
        Function("backward", args=("X", "Y", "params", "cache"), returns=GRADS),
    ],
    parts=[
        Part("forward.Z1", points=1, function="forward", group="forward", outputs=("Z1",), tol=VALUES, cases=FORWARD),
        Part("forward.A1", points=1, function="forward", group="forward", outputs=("A1",), tol=VALUES, cases=FORWARD),
        Part("forward.Z2", points=1, function="forward", group="forward", outputs=("Z2",), tol=VALUES, cases=FORWARD),
        Part("mse_loss", points=2, function="mse_loss", tol=SCALAR, cases=PREDICTIONS, variants=MEAN_VARIANTS,
             hints=LOSS_HINTS),
        Part("output_grad", points=2, function="output_grad", tol=VALUES, cases=OUTPUT_GRAD_CASES,
             variants=MEAN_VARIANTS, hints=GRAD_HINTS, budget=GRADIENT_BUDGET),
        Part("linear_backward.dA_prev", points=2, function="linear_backward", group="linear_backward",
             outputs=("dA_prev",), tol=VALUES, cases=LAYER_CASES, budget=GRADIENT_BUDGET),
        Part("linear_backward.dW", points=2, function="linear_backward", group="linear_backward",
             outputs=("dW",), tol=VALUES, cases=LAYER_CASES, hints={"transposed": WEIGHT_HINTS["transposed"]},
             budget=GRADIENT_BUDGET),
        Part("linear_backward.db", points=1, function="linear_backward", group="linear_backward",
             outputs=("db",), tol=VALUES, cases=LAYER_CASES, variants=LINEAR_BACKWARD_VARIANTS, budget=GRADIENT_BUDGET,
             hints={"reduced_wrong_axis": "db sums dZ over the batch axis: dZ.sum(axis=0), one entry per output unit."}),
        Part("sigmoid_backward", points=2, function="sigmoid_backward", tol=VALUES, cases=HIDDEN_CASES,
             variants=SIGMOID_BACKWARD_VARIANTS, budget=GRADIENT_BUDGET),
        Part("backward.W1", points=2, function="backward", group="backward", outputs=("W1",), tol=VALUES,
             cases=BACKWARD, variants=BACKWARD_VARIANTS, hints=WEIGHT_HINTS, budget=GRADIENT_BUDGET),
        Part("backward.b1", points=1, function="backward", group="backward", outputs=("b1",), tol=VALUES,
             cases=BACKWARD, variants=BACKWARD_VARIANTS, hints=GRAD_HINTS, budget=GRADIENT_BUDGET),
        Part("backward.W2", points=2, function="backward", group="backward", outputs=("W2",), tol=VALUES,
             cases=BACKWARD, variants=BACKWARD_VARIANTS, hints=WEIGHT_HINTS, budget=GRADIENT_BUDGET),
        Part("backward.b2", points=1, function="backward", group="backward", outputs=("b2",), tol=VALUES,
             cases=BACKWARD, variants=BACKWARD_VARIANTS, hints=GRAD_HINTS, budget=GRADIENT_BUDGET),
    ],
)
