"""Two-layer network. Loss = mean squared error (np.mean), gradient = its derivative."""
import numpy as np


def sigmoid(z):
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return np.mean((Y_hat - Y) ** 2)


def output_grad(Y_hat, Y):
    # d/dY_hat of mean((Y_hat - Y)^2) = 2 (Y_hat - Y) / (number of entries)
    return 2 * (Y_hat - Y) / Y_hat.size


def linear_backward(dZ, A_prev, W):
    dA_prev = dZ @ W
    dW = dZ.T @ A_prev
    db = dZ.sum(axis=0)
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


X = np.random.rand(10, 3)
Y = np.random.rand(10, 2)
params = {"W1": np.random.randn(4, 3), "b1": np.zeros(4), "W2": np.random.randn(2, 4), "b2": np.zeros(2)}
cache = forward(X, params)
print("loss:", mse_loss(cache["Z2"], Y))
print({k: v.shape for k, v in backward(X, Y, params, cache).items()})
