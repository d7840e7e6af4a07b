"""Softmax classifier backward pass.

dZ2 = (P - Y) / N
dA1 = dZ2 W2
dZ1 = dA1 * sigma'(A1)
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def dsigmoid(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def softmax(Z):
    Zc = Z - Z.max(axis=1)[:, None]
    E = np.exp(Zc)
    return E / E.sum(axis=1)[:, None]


def cross_entropy(Z, Y):
    Zc = Z - Z.max(axis=1)[:, None]
    log_norm = np.log(np.exp(Zc).sum(axis=1))[:, None]
    return float(-(Y * (Zc - log_norm)).sum(axis=1).mean())


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / len(Y)


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    A1 = cache["A1"]
    dZ2 = (cache["P"] - Y) / X.shape[0]
    dW2 = dZ2.T @ A1
    db2 = dZ2
    dA1 = dZ2 @ params["W2"]
    dZ1 = dA1 * dsigmoid(A1)
    dW1 = dZ1.T @ X
    db1 = dZ1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
