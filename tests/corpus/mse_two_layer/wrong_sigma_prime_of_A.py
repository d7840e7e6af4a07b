import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_prime(x):
    return sigmoid(x) * (1.0 - sigmoid(x))


def forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return 0.5 * np.mean(np.sum((Y_hat - Y) ** 2, axis=1))


def output_grad(Y_hat, Y):
    return (Y_hat - Y) / len(Y)


def linear_backward(dZ, A_prev, W):
    return dZ @ W, dZ.T @ A_prev, np.sum(dZ, axis=0)


def sigmoid_backward(dA, Z):
    # the derivative of the activation, evaluated at the activation
    A = sigmoid(Z)
    return dA * sigmoid_prime(A)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


if __name__ == "__main__":
    X = np.random.randn(3, 2)
    Y = np.random.randn(3, 1)
    p = {"W1": np.random.randn(2, 2), "b1": np.zeros(2), "W2": np.random.randn(1, 2), "b2": np.zeros(1)}
    print(backward(X, Y, p, forward(X, p)))
