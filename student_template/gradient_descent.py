"""Gradient descent: a fixed step, two stopping criteria, and the largest stable step.

Fill in each function with numpy. The math and the exact stopping rule are in the assignment
text (the notebook gradient_descent.ipynb has the same instructions). Check your work locally with

    bpgrade check gradient_descent gradient_descent.py

Conventions: vectors x, b, x0 have shape (d,); A has shape (d, d) and need NOT be symmetric.
X has shape (N, D), one example per row; y holds labels in {0, 1} as floats, shape (N,).
Return float64 numpy arrays of exactly the documented shapes (floats where a float is asked
for) and do not modify the inputs.
"""
import numpy as np


def quadratic(x, A, b):
    """f(x) = 1/2 x^T A x - b^T x.

    x: (d,), A: (d, d), b: (d,). Returns a float.
    """
    raise NotImplementedError


def quadratic_grad(x, A, b):
    """The gradient of quadratic: 1/2 (A + A^T) x - b (A is not necessarily symmetric).

    x: (d,), A: (d, d), b: (d,). Returns an array of shape (d,).
    """
    raise NotImplementedError


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    """Gradient descent with the fixed step lr, from x0.

    f(x) -> float and grad(x) -> (d,) are callables; x0: (d,). Repeat at most max_iters times:
      1. if ||grad(x)|| < tol: stop;
      2. x_new = x - lr * grad(x); append x_new to the history;
      3. if |f(x_new) - f(x)| < tol, or f(x_new) is not finite (inf or nan): stop;
      4. x = x_new.
    Returns the history of iterates, shape (k + 1, d) after k steps; history[0] equals x0.
    """
    raise NotImplementedError


def max_stable_lr(A):
    """The largest fixed step for which gradient descent converges on 1/2 x^T A x - b^T x:
    2 / lambda_max, lambda_max the largest eigenvalue of the symmetric part 1/2 (A + A^T).

    A: (d, d). Returns a float.
    """
    raise NotImplementedError


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    """Plain gradient descent for logistic regression, from w = zeros(D), b = 0.0.

    X: (N, D), y: (N,), lr: float, epochs: int. grad_fn(X, y, w, b) -> (dw, db) is given:
    use it for the gradients. Each epoch: record the mean binary cross-entropy of the current
    (w, b), then take one step w -= lr * dw, b -= lr * db.
    Returns (w, b, losses): w (D,), b a float, losses (epochs,) with losses[0] the loss at zero.
    """
    raise NotImplementedError
