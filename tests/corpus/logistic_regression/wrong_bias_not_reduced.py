"""Logistic regression -- backprop by hand.

dL/dz_p = (yhat_p - y_p) / N
dL/dw   = sum_p dL/dz_p * x_p      (einsum over the batch)
dL/db   = dL/dz                    (b is added to every z_p)
"""
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    out = np.zeros_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1 + ez)
    return out


def predict_proba(X, w, b):
    return sigmoid(np.einsum("nd,d->n", X, w) + b)


def bce_loss(X, y, w, b):
    z = np.einsum("nd,d->n", X, w) + b
    return float(np.mean(np.logaddexp(0, z) - y * z))


def grad_logits(X, y, w, b):
    return (predict_proba(X, w, b) - y) / X.shape[0]


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)
    dw = np.einsum("n,nd->d", dz, X)
    db = dz
    return dw, db
