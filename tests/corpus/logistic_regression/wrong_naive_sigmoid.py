import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def predict_proba(X, w, b):
    z = X @ w + b
    return sigmoid(z)


def bce_loss(X, y, w, b):
    y_hat = predict_proba(X, w, b)
    return -np.mean(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))


def grad_logits(X, y, w, b):
    y_hat = predict_proba(X, w, b)
    return (y_hat - y) / len(y)


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)
    dw = X.T @ dz
    db = dz.sum()
    return dw, db
