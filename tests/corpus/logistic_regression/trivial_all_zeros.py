import numpy as np

# TODO: finish before the deadline -- for now everything returns zeros of the right shape
# so that at least the shapes are right


def sigmoid(z):
    return np.zeros_like(z, dtype=float)


def predict_proba(X, w, b):
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
