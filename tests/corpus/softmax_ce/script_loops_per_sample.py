# Softmax + cross-entropy, one sample at a time (I find the per-sample math easier to check).
import math

import numpy as np


def softmax(Z):
    N, K = Z.shape
    P = np.zeros((N, K))
    for i in range(N):
        m = max(Z[i])
        exps = [math.exp(v - m) for v in Z[i]]
        s = sum(exps)
        for k in range(K):
            P[i, k] = exps[k] / s
    return P


def cross_entropy(Z, Y):
    N, K = Z.shape
    loss = 0.0
    for i in range(N):
        m = max(Z[i])
        lse = m + math.log(sum(math.exp(v - m) for v in Z[i]))
        for k in range(K):
            loss -= Y[i, k] * (Z[i, k] - lse)
    return loss / N


def softmax_ce_grad(Z, Y):
    N = Z.shape[0]
    P = softmax(Z)
    dZ = np.zeros_like(P)
    for i in range(N):
        dZ[i] = (P[i] - Y[i]) / N
    return dZ


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    N = X.shape[0]
    W2 = params["W2"]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for i in range(N):
        dz2 = (cache["P"][i] - Y[i]) / N                  # (K,)
        a1 = cache["A1"][i]                               # (H,)
        grads["W2"] += np.outer(dz2, a1)
        grads["b2"] += dz2
        dz1 = (W2.T @ dz2) * a1 * (1 - a1)                # (H,)
        grads["W1"] += np.outer(dz1, X[i])
        grads["b1"] += dz1
    return grads


if __name__ == "__main__":
    Z = np.array([[1.0, 2.0, 0.5], [1e4, -1e4, 0.0]])
    Y = np.array([[0, 1, 0], [1, 0, 0]], dtype=float)
    print(softmax(Z), cross_entropy(Z, Y))
    print(softmax_ce_grad(Z, Y))
