"""Follows the lecture notes' slips: the per-example gradient dZ2 = P - Y without the batch
average 1/N (every backward output is N times too large), and, reading "b in R" literally, the
bias gradients as scalars (the sum of all components of dZ). Loses every backward part; the
feedback names scaled_by_N on the weights and the wrong type / shape on the biases."""
import numpy as np


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, Y):
    M = Z.max(axis=1)
    lse = M + np.log(np.exp(Z - M[:, None]).sum(axis=1))
    return float(np.mean(lse - (Y * Z).sum(axis=1)))


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / Z.shape[0]


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    dZ2 = cache["P"] - Y                     # the seed's dL/dz2 = y_hat - y, for one example
    dA1 = dZ2 @ params["W2"]
    dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
    return {"W1": dZ1.T @ X, "b1": float(np.sum(dZ1)),   # "sum of elements of dL/dz1"
            "W2": dZ2.T @ cache["A1"], "b2": float(np.sum(dZ2))}
