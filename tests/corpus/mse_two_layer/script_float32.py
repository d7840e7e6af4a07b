"""Two-layer MLP with MSE, backprop by hand.

Everything runs in float32 (like PyTorch's default dtype); inputs are cast on the way in.
"""
import numpy as np

DTYPE = np.float32


def _f32(a):
    return np.asarray(a, dtype=DTYPE)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, params):
    X = _f32(X)
    W1, b1 = _f32(params["W1"]), _f32(params["b1"])
    W2, b2 = _f32(params["W2"]), _f32(params["b2"])
    Z1 = X @ W1.T + b1
    A1 = sigmoid(Z1)
    Z2 = A1 @ W2.T + b2
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    diff = _f32(Y_hat) - _f32(Y)
    return np.sum(diff * diff) / (2 * Y.shape[0])


def output_grad(Y_hat, Y):
    return (_f32(Y_hat) - _f32(Y)) / Y.shape[0]


def linear_backward(dZ, A_prev, W):
    dZ, A_prev, W = _f32(dZ), _f32(A_prev), _f32(W)
    dA_prev = dZ @ W
    dW = dZ.T @ A_prev
    db = dZ.sum(axis=0)
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(_f32(Z))
    return _f32(dA) * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 3))
    Y = rng.normal(size=(16, 2))
    params = {"W1": rng.normal(size=(5, 3)), "b1": np.zeros(5), "W2": rng.normal(size=(2, 5)), "b2": np.zeros(2)}
    cache = forward(X, params)
    grads = backward(X, Y, params, cache)
    print({k: (v.shape, v.dtype) for k, v in grads.items()})
    print("loss", mse_loss(cache["Z2"], Y))
