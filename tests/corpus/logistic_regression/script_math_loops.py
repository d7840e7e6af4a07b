# Logistic regression, written with plain loops so I understand every step.
# (I know numpy can vectorize this, but the TA said clarity first.)
import math

import numpy as np


def _sig(t):
    """Scalar sigmoid that never overflows."""
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for idx, val in np.ndenumerate(z):
        out[idx] = _sig(val)
    return out


def predict_proba(X, w, b):
    N = X.shape[0]
    p = np.zeros(N)
    for i in range(N):
        p[i] = _sig(float(np.dot(X[i], w)) + b)
    return p


def bce_loss(X, y, w, b):
    N = X.shape[0]
    total = 0.0
    for i in range(N):
        z = float(np.dot(X[i], w)) + b
        # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - y z
        #                                   = max(z, 0) + log(1 + e^-|z|) - y z
        total += max(z, 0.0) + math.log1p(math.exp(-abs(z))) - y[i] * z
    return total / N


def grad_logits(X, y, w, b):
    N = X.shape[0]
    dz = np.zeros(N)
    for i in range(N):
        dz[i] = (_sig(float(np.dot(X[i], w)) + b) - y[i]) / N
    return dz


def gradients(X, y, w, b):
    N, D = X.shape
    dz = grad_logits(X, y, w, b)
    dw = np.zeros(D)
    db = 0.0
    for i in range(N):
        dw += dz[i] * X[i]
        db += dz[i]
    return dw, db


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 3))
    y = (rng.random(6) > 0.5).astype(float)
    w = rng.normal(size=3)
    b = 0.3

    # finite-difference check of dw
    dw, db = gradients(X, y, w, b)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        num = (bce_loss(X, y, w + e, b) - bce_loss(X, y, w - e, b)) / (2 * h)
        print(f"dw[{j}] analytic={dw[j]: .6f} numeric={num: .6f}")
    num_b = (bce_loss(X, y, w, b + h) - bce_loss(X, y, w, b - h)) / (2 * h)
    print("db", db, num_b)
    print(sigmoid(np.array([[-1000.0, 0.0], [3.0, 1000.0]])))
