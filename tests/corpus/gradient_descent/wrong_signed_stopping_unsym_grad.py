import numpy as np


def quadratic(x, A, b):
    return 0.5 * x @ A @ x - b @ x


def quadratic_grad(x, A, b):
    # gradient of 1/2 x^T A x is A x
    return A @ x - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = x0.copy()
    history = [x.copy()]
    f_x = f(x)
    for _ in range(max_iters):
        g = grad(x)
        if np.linalg.norm(g) < tol:
            break
        x_new = x - lr * g
        history.append(x_new)
        f_new = f(x_new)
        # stop when f no longer decreases by more than tol
        if not np.isfinite(f_new) or f_x - f_new < tol:
            break
        x, f_x = x_new, f_new
    return np.array(history)


def max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh(0.5 * (A + A.T))[-1]


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b = np.zeros(X.shape[1]), 0.0
    losses = []
    for _ in range(epochs):
        z = X @ w + b
        losses.append(np.mean(np.logaddexp(0.0, z) - y * z))
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
    return w, b, np.array(losses)
