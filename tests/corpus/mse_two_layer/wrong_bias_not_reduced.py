# Backprop for the 2-layer MSE network.
# The bias is added to every row, so its gradient is just dZ.
from typing import Dict, Tuple

import numpy as np


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return float(((Y_hat - Y) ** 2).sum() / (2 * len(Y)))


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / len(Y)


def linear_backward(dZ, A_prev, W) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    dA_prev = dZ @ W
    dW = dZ.T @ A_prev
    db = dZ
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache) -> Dict[str, np.ndarray]:
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
