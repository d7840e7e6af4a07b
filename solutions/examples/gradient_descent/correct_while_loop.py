"""A correct submission written differently from the reference: a while loop with a
preallocated history, einsum for the quadratic, and the stable step from the eigenvalues
of the symmetric part via np.linalg.eigh."""
import numpy as np


def quadratic(x, A, b):
    return float(0.5 * np.einsum("i,ij,j->", x, A, x) - np.dot(b, x))


def quadratic_grad(x, A, b):
    return 0.5 * (A @ x + A.T @ x) - b


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    history = np.empty((max_iters + 1, len(x0)))
    history[0] = x0
    k, f_old = 0, f(history[0])
    while k < max_iters:
        g = grad(history[k])
        if np.sqrt(g @ g) < tol:
            break
        history[k + 1] = history[k] - lr * g
        k += 1
        f_new = f(history[k])
        if not tol <= abs(f_new - f_old) < np.inf:  # converged, or f_new is inf or nan
            break
        f_old = f_new
    return history[:k + 1].copy()


def max_stable_lr(A):
    eigenvalues, _ = np.linalg.eigh((A + A.T) / 2)
    return float(2 / eigenvalues[-1])


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        z = X @ w + b
        losses.append(np.mean(np.logaddexp(0, z) - y * z))
        dw, db = grad_fn(X, y, w, b)
        w -= lr * dw
        b -= lr * db
    return w, float(b), np.array(losses)
