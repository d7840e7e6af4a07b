"""Reference solution: two-layer network with MSE loss (hidden from students)."""
import numpy as np


def sigmoid(z):
    # 1 / (1 + e^-z) = exp(-log(1 + e^-z)), without overflow for large |z|
    return np.exp(-np.logaddexp(0.0, -z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    N = Y.shape[0]
    return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    dA_prev = dZ @ W
    dW = dZ.T @ A_prev
    db = dZ.sum(axis=0)
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1.0 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def backward(X, Y, params, cache):
    raise RuntimeError('not done')
