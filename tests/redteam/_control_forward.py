"""Control (not an attack) for the finite-differences submission: the same honest forward
pass (sigmoid, predict_proba, bce_loss), zeros for every derivative. The finite-difference
submission may not score more than this: its forward math is honest, its gradients are not."""
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def predict_proba(X, w, b):
    return sigmoid(X @ w + b)


def bce_loss(X, y, w, b):
    z = X @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
