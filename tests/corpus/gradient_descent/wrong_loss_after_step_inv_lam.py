"""HW5 gradient descent.

Step size: GD on a quadratic is stable when lr < 1/lambda_max.
"""
import numpy as np


def quadratic(x, A, b):
    return float(x @ A @ x / 2 - b @ x)


def quadratic_grad(x, A, b):
    return (A + A.T) @ x / 2 - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    xs = [np.array(x0, dtype=float)]
    for _ in range(max_iters):
        g = grad(xs[-1])
        if np.linalg.norm(g) < tol:
            break
        xs.append(xs[-1] - lr * g)
        fn = f(xs[-1])
        if not np.isfinite(fn) or abs(fn - f(xs[-2])) < tol:
            break
    return np.stack(xs)


def max_stable_lr(A):
    lam_max = np.max(np.linalg.eigvalsh((A + A.T) / 2))
    return 1.0 / lam_max


def bce(X, y, w, b):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = []
    for epoch in range(epochs):
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
        losses.append(bce(X, y, w, b))
    return w, b, np.array(losses)
