"""Two classic backprop slips: multiplies the output gradient by sigma'(Z2) as if the output
layer had a sigmoid (softmax + cross-entropy already give dZ2 = (P - Y)/N), and computes the
hidden layer's derivative on the activation, sigma'(A1), instead of sigma'(Z1). Also returns
dW2 transposed. softmax, cross_entropy and forward are right."""
import numpy as np


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, Y):
    return float(np.mean(np.logaddexp.reduce(Z, axis=1) - (Y * Z).sum(axis=1)))


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / Z.shape[0] * sigmoid(Z) * (1 - sigmoid(Z))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    dZ2 = (cache["P"] - Y) / X.shape[0]
    dA1 = dZ2 @ params["W2"]
    s = sigmoid(cache["A1"])
    dZ1 = dA1 * s * (1 - s)
    return {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": cache["A1"].T @ dZ2, "b2": dZ2.sum(axis=0)}
