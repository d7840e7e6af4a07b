# Logistic regression with column vectors, the way it is written in the lecture notes
# (w is a D x 1 column, y is N x 1). Everything is reshaped on the way in and flattened
# on the way out so the shapes match what the autograder wants.
import numpy as np


def sigmoid(z):
    z = np.array(z, dtype=float)
    # sigma(z) = (1 + tanh(z/2)) / 2 : tanh never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def predict_proba(X, w, b):
    w = w.reshape(-1, 1)            # (D, 1)
    z = X @ w + b                   # (N, 1)
    return sigmoid(z).ravel()       # (N,)


def bce_loss(X, y, w, b):
    N = X.shape[0]
    Xm = np.matrix(X)
    wm = np.matrix(w.reshape(-1, 1))
    ym = np.matrix(y.reshape(-1, 1))
    z = Xm * wm + b                                       # (N, 1) matrix
    soft = np.matrix(np.logaddexp(0, np.asarray(z)))     # log(1 + e^z), (N, 1)
    ones = np.matrix(np.ones((1, N)))
    L = (ones * soft - ym.T * z) / N                      # 1 x 1 matrix
    return np.asarray(L).squeeze()


def grad_logits(X, y, w, b):
    y = y.reshape(-1, 1)
    p = sigmoid(X @ w.reshape(-1, 1) + b)   # (N, 1)
    dz = (p - y) / X.shape[0]
    return dz.ravel()


def gradients(X, y, w, b):
    dz = np.matrix(grad_logits(X, y, w, b).reshape(-1, 1))   # (N, 1)
    dw = np.matrix(X).T * dz                                  # (D, 1)
    db = dz.sum()
    return np.asarray(dw).ravel(), float(db)


Xt = np.array([[0.5, 1.0], [1.5, -0.5], [-1.0, -1.0], [2.0, 0.0]])
yt = np.array([1.0, 1.0, 0.0, 1.0])
wt = np.array([0.2, 0.4])
print(predict_proba(Xt, wt, -0.1).shape, bce_loss(Xt, yt, wt, -0.1))
print(gradients(Xt, yt, wt, -0.1))
