"""A student part-way through: sigmoid and predict_proba done, the rest still stubs,
and a stray infinite loop in gradients."""
import numpy as np


def sigmoid(z):
    return np.exp(-np.logaddexp(0, -z))


def predict_proba(X, w, b):
    return sigmoid(X @ w + b)


def bce_loss(X, y, w, b):
    raise NotImplementedError


def grad_logits(X, y, w, b):
    raise NotImplementedError


def gradients(X, y, w, b):
    while True:
        pass
