"""Logistic regression: the gradient of binary cross-entropy.

Fill in each function with numpy. The math is in the assignment text (the notebook
logistic_regression.ipynb has the same instructions). Check your work locally with

    bpgrade check logistic_regression logistic_regression.py

Conventions: X has shape (N, D), one example per row; w has shape (D,); b is a float;
y holds labels in {0, 1} as floats, shape (N,). The loss is averaged over the batch.
Return float64 numpy arrays of exactly the documented shapes and do not modify the inputs.
"""
import numpy as np


def sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)), elementwise.

    z: array of any shape. Returns an array of the same shape.
    Must not overflow (no RuntimeWarning, no nan) for |z| up to 1e4.
    """
    raise NotImplementedError


def predict_proba(X, w, b):
    """y_hat = sigma(X w + b).

    X: (N, D), w: (D,), b: float. Returns y_hat with shape (N,).
    """
    raise NotImplementedError


def bce_loss(X, y, w, b):
    """L = -1/N sum_p [ y_p log y_hat_p + (1 - y_p) log(1 - y_hat_p) ].

    X: (N, D), y: (N,), w: (D,), b: float. Returns a float.
    Must stay finite when the logits X w + b reach +-1e3.
    """
    raise NotImplementedError


def grad_logits(X, y, w, b):
    """dL/dz for z = X w + b: (y_hat - y) / N.

    Returns an array of shape (N,).
    """
    raise NotImplementedError


def gradients(X, y, w, b):
    """(dL/dw, dL/db).

    Returns a tuple (dw, db): dw has shape (D,), db is a float.
    """
    raise NotImplementedError
