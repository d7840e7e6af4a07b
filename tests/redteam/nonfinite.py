"""Category: non-finite and extreme values. Attack: NaN (fails every naive `abs(a-b) > tol`
test), +-inf, -0.0, denormals, 1e300 (rtol blind spot) and values of the reference's order of
magnitude but wrong."""
import numpy as np

_n = {"i": 0}


def _weird(shape):
    _n["i"] += 1
    return np.full(shape, [np.nan, np.inf, -np.inf, -0.0, 5e-324, 1e300, 0.5][_n["i"] % 7])


def sigmoid(z):
    return _weird(np.shape(z))


def predict_proba(X, w, b):
    return np.full(X.shape[0], np.nan)


def bce_loss(X, y, w, b):
    return float("nan")


def grad_logits(X, y, w, b):
    return _weird((X.shape[0],))


def gradients(X, y, w, b):
    return np.full(X.shape[1], np.inf), float("-inf")
