"""HW3 -- two layer net.  dW = A_prev^T dZ  (chain rule: Z = A_prev W^T, so dZ/dW ~ A_prev)"""
from typing import Dict, Tuple

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def forward(X: np.ndarray, params: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    return float(np.sum((Y_hat - Y) ** 2) / (2 * Y.shape[0]))


def output_grad(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    dA_prev = dZ @ W
    dW = A_prev.T @ dZ
    db = dZ.sum(axis=0)
    return dA_prev, dW, db


def sigmoid_backward(dA: np.ndarray, Z: np.ndarray) -> np.ndarray:
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
