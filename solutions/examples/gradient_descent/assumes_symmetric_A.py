"""Treats A as if it were symmetric: the gradient is A x - b and the stable step uses
np.linalg.eigvalsh(A), which silently reads only A's lower triangle. Both are right only for
symmetric A (and for d = 1); the loop and the logistic fit are right."""
import numpy as np


def quadratic(x, A, b):
    return float(0.5 * x @ A @ x - b @ x)


def quadratic_grad(x, A, b):
    return A @ x - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = x0.copy()
    history = [x.copy()]
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
    return 2.0 / np.linalg.eigvalsh(A).max()


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        z = X @ w + b
        losses.append(np.mean(np.logaddexp(0, z) - y * z))
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, np.array(losses)
