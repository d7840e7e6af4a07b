"""A student part-way through: quadratic and its gradient done, the loop written as
`while True` with only the two convergence tests. It ignores max_iters and never notices that
f blew up (nan < tol is False), so a too-large step hangs until the time limit."""
import numpy as np


def quadratic(x, A, b):
    return float(0.5 * x @ (A @ x) - b @ x)


def quadratic_grad(x, A, b):
    return (A + A.T) @ x / 2 - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = np.array(x0, dtype=float)
    history = [x]
    while True:
        g = grad(x)
        if np.linalg.norm(g) < tol:
            break
        x_new = x - lr * g
        history.append(x_new)
        if abs(f(x_new) - f(x)) < tol:
            break
        x = x_new
    return np.array(history)


def max_stable_lr(A):
    raise NotImplementedError


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    raise NotImplementedError
