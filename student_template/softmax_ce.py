"""Softmax and cross-entropy: backpropagation through a one-hidden-layer classifier.

Fill in each function with numpy. The math is in the assignment text (the notebook
softmax_ce.ipynb has the same instructions). Check your work locally with

    bpgrade check softmax_ce softmax_ce.py

Conventions: X has shape (N, D), one example per row. Weights are stored like torch.nn.Linear,
(out, in): params = {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}, and

    Z1 = X @ W1.T + b1,  A1 = sigmoid(Z1),  Z2 = A1 @ W2.T + b2,  P = softmax(Z2) (row-wise).

Y holds one-hot labels (or soft labels: non-negative rows summing to 1), shape (N, K).
The loss is averaged over the batch: L = -1/N sum_p sum_i Y[p, i] log P[p, i].
Return float64 numpy arrays of exactly the documented shapes and do not modify the inputs.
"""
import numpy as np


def softmax(Z):
    """Row-wise softmax: P[p, i] = exp(Z[p, i]) / sum_j exp(Z[p, j]).

    Z: (N, K) logits. Returns P with shape (N, K); every row sums to 1.
    Must not overflow (no RuntimeWarning, no nan) for logits up to 1e4 in magnitude.
    """
    raise NotImplementedError


def cross_entropy(Z, Y):
    """L = -1/N sum_p sum_i Y[p, i] log softmax(Z)[p, i], computed from the logits.

    Z: (N, K) logits, Y: (N, K) one-hot or soft labels. Returns a float.
    Must stay finite and correct for logits up to 1e4 in magnitude (use log-sum-exp).
    """
    raise NotImplementedError


def softmax_ce_grad(Z, Y):
    """dL/dZ for L = cross_entropy(Z, Y): (softmax(Z) - Y) / N.

    Returns dZ with shape (N, K).
    """
    raise NotImplementedError


def forward(X, params):
    """The forward pass.

    X: (N, D); params: {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}.
    Returns a dict {"Z1": (N, H), "A1": (N, H), "Z2": (N, K), "P": (N, K)}.
    """
    raise NotImplementedError


def backward(X, Y, params, cache):
    """The gradients of the loss with respect to every parameter.

    X: (N, D), Y: (N, K), params as in forward, cache: the dict forward(X, params) returns.
    Returns a dict {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)} (same shapes as params).
    """
    raise NotImplementedError
