"""Collects only the new iterates (the history misses x0, so it has k rows instead of k + 1),
drops the 1/2 of the quadratic, and records the logistic loss after each step instead of before."""
import numpy as np


def quadratic(x, A, b):
    return float(x @ A @ x - b @ x)


def quadratic_grad(x, A, b):
    return 0.5 * (A + A.T) @ x - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x, history = x0, []
    for _ in range(max_iters):
        g = grad(x)
        if np.linalg.norm(g) < tol:
            break
        x_new = x - lr * g
        history.append(x_new)
        if not np.isfinite(f(x_new)) or abs(f(x_new) - f(x)) < tol:
            break
        x = x_new
    return np.array(history)


def max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh(0.5 * (A + A.T)).max()


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
        z = X @ w + b
        losses.append(np.mean(np.logaddexp(0, z) - y * z))
    return w, b, np.array(losses)
