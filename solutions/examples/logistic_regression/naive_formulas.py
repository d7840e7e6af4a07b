"""Textbook formulas straight from the slides: right on ordinary inputs, but the sigmoid
overflows for large |z| and the loss takes log(0) on saturated probabilities."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def predict_proba(X, w, b):
    return sigmoid(X @ w + b)


def bce_loss(X, y, w, b):
    p = predict_proba(X, w, b)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def grad_logits(X, y, w, b):
    return (predict_proba(X, w, b) - y) / X.shape[0]


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)
    return X.T @ dz, float(np.sum(dz))
