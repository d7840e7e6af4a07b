import numpy as np


def quadratic(x, A, b):
    return np.dot(x, A @ x) / 2 - np.dot(b, x)


def quadratic_grad(x, A, b):
    return 0.5 * (A @ x + A.T @ x) - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    history = []          # the iterates x1, x2, ...
    x = x0.copy()
    k = 0
    while k < max_iters:
        g = grad(x)
        if np.linalg.norm(g) < tol:
            break
        x_new = x - lr * g
        history.append(x_new)
        if not np.isfinite(f(x_new)) or abs(f(x_new) - f(x)) < tol:
            break
        x = x_new
        k += 1
    return np.array(history)


def max_stable_lr(A):
    return 2 / max(np.linalg.eigvalsh((A + A.T) / 2))


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = []
    for t in range(epochs):
        z = X.dot(w) + b
        losses.append(float(np.mean(np.logaddexp(0, z) - y * z)))
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses
