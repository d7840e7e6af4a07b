import numpy as np

# Logistic regression HW
# sigmoid: use exp(min(z,0)) so exp never gets a big positive number


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))


def predict_proba(X, w, b):
    return sigmoid(np.dot(X, w) + b)


def bce_loss(X, y, w, b):
    p = predict_proba(X, w, b)
    eps = 1e-8  # so log never sees 0
    return -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))


def grad_logits(X, y, w, b):
    # derivative of the loss wrt z is just p - y
    p = predict_proba(X, w, b)
    return p - y


def gradients(X, y, w, b):
    dz = grad_logits(X, y, w, b)
    dw = np.dot(X.T, dz)
    db = np.sum(dz)
    return dw, db


X = np.random.randn(5, 2)
y = np.array([1, 0, 1, 1, 0], dtype=float)
w = np.zeros(2)
print(bce_loss(X, y, w, 0.0))  # should be log(2) = 0.693
print(gradients(X, y, w, 0.0))
