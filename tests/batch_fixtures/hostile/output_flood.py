"""Hostile: floods stdout/stderr at load time and in every call (then answers correctly)."""
import sys
import numpy as np

for _ in range(20000):
    print("x" * 1000)


def _flood():
    for _ in range(2000):
        sys.stdout.write("y" * 10000)
        sys.stderr.write("z" * 10000)


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def forward(X, params):
    _flood()
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    _flood()
    return float(0.5 * np.sum((Y_hat - Y) ** 2) / Y.shape[0])


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    _flood()
    return dZ @ W, dZ.T @ A_prev, dZ.sum(axis=0)


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1.0 - s)


def backward(X, Y, params, cache):
    _flood()
    raise RuntimeError("flooded")
