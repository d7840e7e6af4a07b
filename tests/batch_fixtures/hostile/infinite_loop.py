"""Hostile: every backward call spins forever (ignores signals it can)."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(X, params):
    while True:
        pass


def mse_loss(Y_hat, Y):
    while True:
        pass


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    while True:
        pass


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    import time
    time.sleep(3600)
