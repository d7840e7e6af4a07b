"""Softmax / cross-entropy. Loss averaged with np.mean; gradient is the derivative of that."""
import numpy as np


def log_softmax(Z):
    Zs = Z - Z.max(axis=1, keepdims=True)
    return Zs - np.log(np.sum(np.exp(Zs), axis=1, keepdims=True))


def softmax(Z):
    return np.exp(log_softmax(Z))


def cross_entropy(Z, Y):
    return -np.mean(Y * log_softmax(Z))


def softmax_ce_grad(Z, Y):
    # derivative of -mean(Y * log softmax(Z)): every entry was divided by Z.size
    return (softmax(Z) - Y) / Z.size


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    dZ2 = softmax_ce_grad(cache["Z2"], Y)
    dW2 = dZ2.T @ cache["A1"]
    db2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ params["W2"]) * cache["A1"] * (1 - cache["A1"])
    dW1 = dZ1.T @ X
    db1 = dZ1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


if __name__ == "__main__":
    Z = np.random.randn(5, 3)
    Y = np.eye(3)[[0, 1, 2, 1, 0]]
    print(cross_entropy(Z, Y), softmax_ce_grad(Z, Y).sum())
