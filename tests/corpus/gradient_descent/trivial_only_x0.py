import numpy as np

# Not finished: placeholders with the right shapes.


def quadratic(x, A, b):
    return 0.0


def quadratic_grad(x, A, b):
    return x


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    return np.array([x0])


def max_stable_lr(A):
    return 1.0


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    return np.zeros(X.shape[1]), 0.0, np.full(epochs, np.log(2.0))
