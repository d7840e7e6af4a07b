import numpy as np


def softmax(Z):
    expZ = np.exp(Z)
    return expZ / np.sum(expZ, axis=1, keepdims=True)


def cross_entropy(Z, Y):
    P = softmax(Z)
    N = Z.shape[0]
    return -np.sum(Y * np.log(P)) / N


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / Z.shape[0]


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    Z2 = A1 @ params["W2"].T + params["b2"]
    P = softmax(Z2)
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": P}


def backward(X, Y, params, cache):
    N = X.shape[0]
    dZ2 = (cache["P"] - Y) / N
    dW2 = dZ2.T @ cache["A1"]
    db2 = np.sum(dZ2, axis=0)
    dA1 = dZ2 @ params["W2"]
    dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
    dW1 = dZ1.T @ X
    db1 = np.sum(dZ1, axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
