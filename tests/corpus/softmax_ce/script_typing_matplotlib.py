"""Softmax regression with one hidden layer (HW 4).

Conventions from the handout: X is (N, D), W is (out, in), Z = X W^T + b.
"""
from typing import Dict

import matplotlib.pyplot as plt
import numpy as np

Params = Dict[str, np.ndarray]


def softmax(Z: np.ndarray) -> np.ndarray:
    Z_shift = Z - np.max(Z, axis=1, keepdims=True)
    expZ = np.exp(Z_shift)
    return expZ / np.sum(expZ, axis=1, keepdims=True)


def cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))      # log sum_j exp(z_j), per row
    # -sum_i y_i log p_i = sum_i y_i (lse - z_i) = lse - y.z   (rows of Y sum to 1)
    return float(np.mean(lse - np.einsum("nk,nk->n", Y, Z)))


def softmax_ce_grad(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (softmax(Z) - Y) / Z.shape[0]


def forward(X: np.ndarray, params: Params) -> Dict[str, np.ndarray]:
    Z1 = np.einsum("nd,hd->nh", X, params["W1"]) + params["b1"]
    A1 = 0.5 * (1 + np.tanh(0.5 * Z1))
    Z2 = np.einsum("nh,kh->nk", A1, params["W2"]) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X: np.ndarray, Y: np.ndarray, params: Params, cache: Dict[str, np.ndarray]) -> Params:
    dZ2 = softmax_ce_grad(cache["Z2"], Y)                       # (N, K)
    dW2 = np.einsum("nk,nh->kh", dZ2, cache["A1"])              # (K, H)
    db2 = dZ2.sum(axis=0)
    dA1 = np.einsum("nk,kh->nh", dZ2, params["W2"])             # (N, H)
    dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
    dW1 = np.einsum("nh,nd->hd", dZ1, X)                        # (H, D)
    db1 = dZ1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# softmax of (z, 0) is the sigmoid of z: plot both to check
z = np.linspace(-6, 6, 121)
P2 = softmax(np.stack([z, np.zeros_like(z)], axis=1))
plt.plot(z, P2[:, 0], label="softmax([z, 0])[0]")
plt.plot(z, 1 / (1 + np.exp(-z)), "--", label="sigmoid(z)")
plt.legend()
plt.show()
