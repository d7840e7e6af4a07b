"""Control (not an attack): all-zeros answers of the right shapes. Its score on the same
cases is the bound every red-team submission must not exceed."""
import numpy as np


def sigmoid(z):
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
