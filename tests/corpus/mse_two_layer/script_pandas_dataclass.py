"""Assignment 3: a two-layer regression network.

Maya S. -- I keep the hyperparameters in a dataclass and log the training in a DataFrame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import pandas as pd

Array = np.ndarray
Params = Dict[str, Array]


@dataclass
class Config:
    hidden: int = 6
    lr: float = 0.2
    epochs: int = 150
    seed: int = 0
    log: List[dict] = field(default_factory=list)


def sigmoid(z: Array) -> Array:
    out = np.empty_like(z, dtype=float)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def forward(X: Array, params: Params) -> Dict[str, Array]:
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat: Array, Y: Array) -> float:
    N = Y.shape[0]
    return float(np.sum(np.square(Y_hat - Y)) / (2 * N))


def output_grad(Y_hat: Array, Y: Array) -> Array:
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ: Array, A_prev: Array, W: Array) -> tuple[Array, Array, Array]:
    return dZ @ W, dZ.T @ A_prev, dZ.sum(axis=0)


def sigmoid_backward(dA: Array, Z: Array) -> Array:
    A = sigmoid(Z)
    return dA * A * (1 - A)


def backward(X: Array, Y: Array, params: Params, cache: Dict[str, Array]) -> Params:
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def train(cfg: Config, X: Array, Y: Array) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed)
    D, K = X.shape[1], Y.shape[1]
    params = {
        "W1": rng.normal(scale=0.5, size=(cfg.hidden, D)),
        "b1": np.zeros(cfg.hidden),
        "W2": rng.normal(scale=0.5, size=(K, cfg.hidden)),
        "b2": np.zeros(K),
    }
    for epoch in range(cfg.epochs):
        cache = forward(X, params)
        grads = backward(X, Y, params, cache)
        cfg.log.append({"epoch": epoch, "loss": mse_loss(cache["Z2"], Y),
                        "grad_norm": float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))})
        params = {k: params[k] - cfg.lr * grads[k] for k in params}
    return pd.DataFrame(cfg.log)


rng = np.random.default_rng(42)
X_train = rng.uniform(-2, 2, size=(80, 1))
Y_train = np.sin(X_train)
history = train(Config(), X_train, Y_train)
print(history.describe())
print(history.tail())
