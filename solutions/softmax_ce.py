"""Reference solution: softmax + cross-entropy through one sigmoid hidden layer (hidden from students)."""
import numpy as np


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))  # = 1 / (1 + exp(-z)), without overflow, accurate in the tails


def softmax(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)  # softmax is shift-invariant; now every exp is <= 1
    E = np.exp(shifted)
    return E / E.sum(axis=1, keepdims=True)


def _log_softmax(Z):
    M = np.max(Z, axis=1, keepdims=True)
    log_sum_exp = M + np.log(np.sum(np.exp(Z - M), axis=1, keepdims=True))
    return Z - log_sum_exp


def cross_entropy(Z, Y):
    N = Z.shape[0]
    return float(-np.sum(Y * _log_softmax(Z)) / N)


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / Z.shape[0]


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = _sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    N = X.shape[0]
    A1 = cache["A1"]
    dZ2 = (cache["P"] - Y) / N                 # (N, K): softmax + cross-entropy together
    dW2 = dZ2.T @ A1                           # (K, H)
    db2 = dZ2.sum(axis=0)                      # (K,)
    dA1 = dZ2 @ params["W2"]                   # (N, H)
    dZ1 = dA1 * A1 * (1.0 - A1)                # (N, H): sigma'(Z1) = A1 (1 - A1)
    dW1 = dZ1.T @ X                            # (H, D)
    db1 = dZ1.sum(axis=0)                      # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
