import numpy as np

# softmax + CE: the nice thing is that dL/dZ = P - Y


def softmax(Z):
    Z = Z - np.max(Z, axis=-1, keepdims=True)
    e = np.exp(Z)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(Z, Y):
    Zm = Z - np.max(Z, axis=-1, keepdims=True)
    logp = Zm - np.log(np.sum(np.exp(Zm), axis=-1, keepdims=True))
    return -np.sum(Y * logp) / len(Z)


def softmax_ce_grad(Z, Y):
    return softmax(Z) - Y


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X, params):
    Z1 = np.dot(X, params["W1"].T) + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = np.dot(A1, params["W2"].T) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    dZ2 = softmax_ce_grad(cache["Z2"], Y)
    dW2 = np.dot(dZ2.T, cache["A1"])
    db2 = np.sum(dZ2, axis=0)
    dA1 = np.dot(dZ2, params["W2"])
    dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
    dW1 = np.dot(dZ1.T, X)
    db1 = np.sum(dZ1, axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


X = np.random.randn(3, 2)
params = {"W1": np.random.randn(4, 2), "b1": np.zeros(4), "W2": np.random.randn(3, 4), "b2": np.zeros(3)}
out = forward(X, params)
print(out["P"].sum(axis=1))
