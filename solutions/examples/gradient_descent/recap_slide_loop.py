"""The recap slide's loop taken literally: "while |f(x^{k+1}) - f(x^k)| > eps". It never tests
the gradient (a run that starts at the minimum, or lands on it, takes one step too many) and
relies on `nan > tol` being False to end a divergent run, one row late. Everything else is right."""
import numpy as np


def quadratic(x, A, b):
    return float(0.5 * x @ A @ x - b @ x)


def quadratic_grad(x, A, b):
    return 0.5 * (A + A.T) @ x - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x_old = x0.copy()
    x_new = x_old - lr * grad(x_old)
    history = [x_old, x_new]
    k = 1
    while abs(f(x_new) - f(x_old)) > tol and k < max_iters:
        x_old, x_new = x_new, x_new - lr * grad(x_new)
        history.append(x_new)
        k += 1
    return np.array(history)


def max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh(0.5 * (A + A.T)).max()


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b = np.zeros(X.shape[1]), 0.0
    losses = np.zeros(epochs)
    for epoch in range(epochs):
        z = X @ w + b
        losses[epoch] = np.mean(np.logaddexp(0, z) - y * z)
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, losses
