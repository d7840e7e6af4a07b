"""Logistic regression assignment.  Author: Tom K.

Uses `from numpy import *` because typing np. everywhere is annoying.
"""
from typing import Tuple

from numpy import *
import matplotlib.pyplot as plt


def sigmoid(z: ndarray) -> ndarray:
    z = asarray(z, dtype=float64)
    # 1/(1+e^-z) = exp(-log(1 + e^-z)), and logaddexp(0, -z) = log(1 + e^-z) is stable
    return exp(-logaddexp(0.0, -z))


def predict_proba(X: ndarray, w: ndarray, b: float) -> ndarray:
    return sigmoid(dot(X, w) + b)


def bce_loss(X: ndarray, y: ndarray, w: ndarray, b: float) -> float:
    z = dot(X, w) + b
    return float(mean(logaddexp(0.0, z) - y * z))


def grad_logits(X: ndarray, y: ndarray, w: ndarray, b: float) -> ndarray:
    N = X.shape[0]
    return (predict_proba(X, w, b) - y) / N


def gradients(X: ndarray, y: ndarray, w: ndarray, b: float) -> Tuple[ndarray, float]:
    dz = grad_logits(X, y, w, b)
    return dot(X.T, dz), float(sum(dz))


# ---- plots for the write-up
zz = linspace(-8, 8, 161)
plt.figure(figsize=(6, 3))
plt.plot(zz, sigmoid(zz), label="sigmoid")
plt.plot(zz, sigmoid(zz) * (1 - sigmoid(zz)), "--", label="derivative")
plt.legend()
plt.grid(True)
plt.title("sigmoid and its derivative")
plt.show()

random.seed(0)
Xs = random.randn(40, 2)
ys = (Xs[:, 0] + 0.5 * Xs[:, 1] > 0).astype(float64)
w_, b_ = zeros(2), 0.0
hist = []
for it in range(100):
    hist.append(bce_loss(Xs, ys, w_, b_))
    gw, gb = gradients(Xs, ys, w_, b_)
    w_ -= 0.5 * gw
    b_ -= 0.5 * gb
plt.plot(hist)
plt.xlabel("iteration")
plt.ylabel("BCE")
plt.show()
print("final loss", hist[-1], "w", w_, "b", b_)
