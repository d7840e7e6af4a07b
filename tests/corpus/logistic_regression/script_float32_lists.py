"""CS 4780 HW3 - logistic regression
Name: Priya R.

I do the gradient math in float32 because that is what we use on the GPU in the
project, and it is twice as fast on my laptop.
"""
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    result = np.empty(z.shape)
    mask = z >= 0
    # positive side: exp(-z) <= 1, negative side: exp(z) <= 1 -> never overflows
    result[mask] = 1.0 / (1.0 + np.exp(-z[mask]))
    e = np.exp(z[~mask])
    result[~mask] = e / (1.0 + e)
    return result


def predict_proba(X, w, b):
    probs = sigmoid(X @ w + b)
    return probs.tolist()   # list of probabilities, one per row


def bce_loss(X, y, w, b):
    p = sigmoid(X @ w + b)
    p = np.clip(p, 1e-12, 1 - 1e-12)   # avoid log(0)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def grad_logits(X, y, w, b):
    X32 = X.astype(np.float32)
    w32 = w.astype(np.float32)
    y32 = y.astype(np.float32)
    p = sigmoid(X32 @ w32 + np.float32(b)).astype(np.float32)
    return (p - y32) / np.float32(X.shape[0])


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)          # float32, shape (N,)
    dw = X.astype(np.float32).T @ dz      # (D,)
    db = dz.sum()                         # np.float32
    return dw, db


# quick sanity check
X_demo = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -1.0]])
y_demo = np.array([1.0, 0.0, 1.0])
w_demo = np.array([0.1, -0.2])
print("p =", predict_proba(X_demo, w_demo, 0.0))
print("loss =", bce_loss(X_demo, y_demo, w_demo, 0.0))
dw_demo, db_demo = gradients(X_demo, y_demo, w_demo, 0.0)
print("dw =", dw_demo, dw_demo.dtype, "db =", db_demo)
