"""Reference solution: gradient descent (hidden from students)."""
import numpy as np


def quadratic(x, A, b):
    return float(0.5 * x @ (A @ x) - b @ x)


def quadratic_grad(x, A, b):
    return 0.5 * (A + A.T) @ x - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = np.array(x0, dtype=np.float64)
    fx = f(x)
    history = [x]
    with np.errstate(over="ignore"):  # a diverging run overflows by design: f(x_new) = inf stops it
        for _ in range(max_iters):
            g = grad(x)
            if np.linalg.norm(g) < tol:
                break
            x_new = x - lr * g
            history.append(x_new)
            f_new = f(x_new)
            if not np.isfinite(f_new) or abs(f_new - fx) < tol:
                break
            x, fx = x_new, f_new
    return np.array(history)


def max_stable_lr(A):
    return 2.0 / float(np.linalg.eigvalsh(0.5 * (A + A.T)).max())


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b = np.zeros(X.shape[1]), 0.0
    losses = np.empty(epochs)
    for epoch in range(epochs):
        z = X @ w + b
        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, float(b), losses
