# Gradient descent with plain Python where it is clearer (math module, while loop).
import math

import numpy as np


def quadratic(x, A, b):
    d = len(x)
    total = 0.0
    for i in range(d):
        for j in range(d):
            total += 0.5 * x[i] * A[i][j] * x[j]
        total -= b[i] * x[i]
    return total


def quadratic_grad(x, A, b):
    d = len(x)
    g = np.zeros(d)
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += 0.5 * (A[i][j] + A[j][i]) * x[j]
        g[i] = s - b[i]
    return g


def _norm(v):
    return math.sqrt(sum(float(t) * float(t) for t in v))


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = np.array(x0, dtype=float)
    history = [x.copy()]
    f_old = f(x)
    k = 0
    while k < max_iters:
        g = grad(x)
        if _norm(g) < tol:
            break
        x = x - lr * g
        history.append(x.copy())
        f_new = f(x)
        if not math.isfinite(f_new) or abs(f_new - f_old) < tol:
            break
        f_old = f_new
        k += 1
    return np.array(history)


def max_stable_lr(A):
    lam = np.linalg.eigvalsh((A + A.T) / 2.0)
    return 2.0 / float(lam.max())


def _bce(X, y, w, b):
    total = 0.0
    for i in range(X.shape[0]):
        z = float(X[i] @ w) + b
        total += max(z, 0.0) + math.log1p(math.exp(-abs(z))) - y[i] * z
    return total / X.shape[0]


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = np.zeros(epochs)
    epoch = 0
    while epoch < epochs:
        losses[epoch] = _bce(X, y, w, b)
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
        epoch += 1
    return w, b, losses
