"""Follows seed 004's "assume both sigmoid": the backward pass multiplies the output gradient
by sigma'(Z2) although the output layer here is linear (Y_hat = Z2). Everything else is right."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return float(np.sum((Y_hat - Y) ** 2) / (2 * Y.shape[0]))


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    return dZ @ W, dZ.T @ A_prev, dZ.sum(axis=0)


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = sigmoid_backward(output_grad(cache["Z2"], Y), cache["Z2"])  # extra sigma'(Z2)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
