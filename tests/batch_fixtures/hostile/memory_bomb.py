"""Hostile: allocates without bound in every function."""
import numpy as np

_hoard = []


def _bomb():
    while True:
        _hoard.append(np.ones(50_000_000))


def forward(X, params):
    _bomb()


def mse_loss(Y_hat, Y):
    return bytearray(10**12)


def output_grad(Y_hat, Y):
    _bomb()


def linear_backward(dZ, A_prev, W):
    x = [0] * 10**11
    return x


def sigmoid_backward(dA, Z):
    _bomb()


def backward(X, Y, params, cache):
    _bomb()
