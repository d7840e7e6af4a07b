"""Column-major habits from seed 003 carried into row-major batches: dW = A_prev^T dZ (the
transpose of W's shape), the bias gradient left per-sample, and no 1/N in the output gradient."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return float(0.5 * np.sum((Y_hat - Y) ** 2) / Y.shape[0])


def output_grad(Y_hat, Y):
    return Y_hat - Y  # the 1/N of the batch average is missing


def linear_backward(dZ, A_prev, W):
    dA_prev = dZ @ W
    dW = A_prev.T @ dZ  # (in, out): transposed
    db = dZ  # not summed over the batch
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
