"""Applies sigma' to the activation instead of the pre-activation: sigma'(A1) with
A1 = sigma(Z1), i.e. sigma(sigma(Z1))(1 - sigma(sigma(Z1))). Also drops the 1/2 of the loss."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return float(np.sum((Y_hat - Y) ** 2) / Y.shape[0])  # the 1/2 is missing


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    return dZ @ W, dZ.T @ A_prev, dZ.sum(axis=0)


def sigmoid_backward(dA, Z):
    A = sigmoid(Z)
    return dA * sigmoid_prime(A)  # should be sigmoid_prime(Z), or A * (1 - A)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = dA1 * sigmoid_prime(cache["A1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
