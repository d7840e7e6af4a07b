# mse_two_layer.py -- einsum for the forward pass, explicit per-sample loops for the backward
# pass (column vectors, as in the notes), so each step matches a line of my derivation.
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(X, params):
    Z1 = np.einsum("nd,hd->nh", X, params["W1"]) + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = np.einsum("nh,kh->nk", A1, params["W2"]) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    N = Y.shape[0]
    total = 0.0
    for p in range(N):
        r = Y_hat[p] - Y[p]
        total += np.dot(r, r)
    return total / (2 * N)


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    N = dZ.shape[0]
    dW = np.zeros_like(W)
    db = np.zeros(W.shape[0])
    dA_prev = np.zeros_like(A_prev)
    for n in range(N):
        dz = dZ[n].reshape(-1, 1)       # (out, 1)
        a = A_prev[n].reshape(-1, 1)    # (in, 1)
        dW += dz @ a.T                  # outer product, (out, in)
        db += dz.ravel()
        dA_prev[n] = (W.T @ dz).ravel()
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1 = np.asarray(np.matrix(dZ2) * np.matrix(params["W2"]))   # (N, H)
    dW2 = np.einsum("nk,nh->kh", dZ2, cache["A1"])
    db2 = dZ2.sum(axis=0)
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


if __name__ == "__main__":
    rng = np.random.default_rng(5)
    N, D, H, K = 4, 3, 2, 2
    X, Y = rng.normal(size=(N, D)), rng.normal(size=(N, K))
    params = {"W1": rng.normal(size=(H, D)), "b1": rng.normal(size=H),
              "W2": rng.normal(size=(K, H)), "b2": rng.normal(size=K)}
    cache = forward(X, params)
    grads = backward(X, Y, params, cache)
    h = 1e-6
    for name in params:
        num = np.zeros_like(params[name])
        for idx in np.ndindex(params[name].shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            num[idx] = (mse_loss(forward(X, plus)["Z2"], Y) - mse_loss(forward(X, minus)["Z2"], Y)) / (2 * h)
        print(name, np.max(np.abs(num - grads[name])))
