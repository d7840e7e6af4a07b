import numpy as np
from scipy.special import expit


def quadratic(x, A, b):
    return float(0.5 * x @ (A @ x) - b @ x)


def quadratic_grad(x, A, b):
    return 0.5 * (A @ x) + 0.5 * (A.T @ x) - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = np.copy(x0)
    out = [np.copy(x0)]
    fx = f(x)
    for _ in range(max_iters):
        g = grad(x)
        if np.linalg.norm(g) < tol:
            break
        x = x - lr * g
        out.append(x)
        fnew = f(x)
        if not np.isfinite(fnew) or abs(fnew - fx) < tol:
            break
        fx = fnew
    return np.array(out)


def max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh((A + A.T) / 2.0).max()


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = np.zeros(epochs)
    for i in range(epochs):
        p = expit(X @ w + b)
        losses[i] = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        dw, db = grad_fn(X, y, w, b)
        w -= lr * dw
        b -= lr * db
    return w, b, losses
