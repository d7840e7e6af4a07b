import numpy as np
import matplotlib.pyplot as plt

# d/dy (y - t)^2 = 2 (y - t)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, params):
    Z1 = np.dot(X, params["W1"].T) + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = np.dot(A1, params["W2"].T) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    return np.sum((Y_hat - Y) ** 2) / (2 * Y.shape[0])


def output_grad(Y_hat, Y):
    return 2 * (Y_hat - Y)


def linear_backward(dZ, A_prev, W):
    dA_prev = np.dot(dZ, W)
    dW = np.dot(dZ.T, A_prev)
    db = np.sum(dZ, axis=0)
    return dA_prev, dW, db


def sigmoid_backward(dA, Z):
    s = sigmoid(Z)
    return dA * s * (1 - s)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    dX, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# training curve for the report (small learning rate, otherwise it blows up??)
np.random.seed(1)
X = np.random.randn(50, 2)
Y = (X[:, :1] ** 2 + X[:, 1:]) / 3
params = {"W1": np.random.randn(4, 2), "b1": np.zeros(4), "W2": np.random.randn(1, 4), "b2": np.zeros(1)}
losses = []
for i in range(100):
    cache = forward(X, params)
    losses.append(mse_loss(cache["Z2"], Y))
    grads = backward(X, Y, params, cache)
    for k in params:
        params[k] = params[k] - 0.002 * grads[k]
plt.plot(losses)
plt.title("MSE during training")
plt.show()
