"""A correct submission written differently from the reference: sigmoid via tanh,
the loss via log1p on the negative-margin form."""
import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def predict_proba(X, w, b):
    return sigmoid(X @ w + b)


def bce_loss(X, y, w, b):
    z = X @ w + b
    m = (2 * y - 1) * z  # margin: the loss of one example is log(1 + exp(-m))
    return float(np.mean(np.where(m > 0, np.log1p(np.exp(-np.abs(m))), -m + np.log1p(np.exp(-np.abs(m))))))


def grad_logits(X, y, w, b):
    return (predict_proba(X, w, b) - y) / len(y)


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)
    return dz @ X, float(dz.sum())
