"""A student part-way through: forward and the loss done, the backward helpers still stubs,
and backward forgets the activation's derivative (dZ1 = dA1)."""
import numpy as np


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return float(np.sum((Y_hat - Y) ** 2) / (2 * len(Y)))


def output_grad(Y_hat, Y):
    raise NotImplementedError


def linear_backward(dZ, A_prev, W):
    raise NotImplementedError


def sigmoid_backward(dA, Z):
    raise NotImplementedError


def backward(X, Y, params, cache):
    dZ2 = (cache["Z2"] - Y) / len(Y)
    dA1 = dZ2 @ params["W2"]
    dZ1 = dA1  # the sigmoid's derivative is missing
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ cache["A1"], "b2": dZ2.sum(axis=0)}
