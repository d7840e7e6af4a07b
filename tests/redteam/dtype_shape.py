"""Category: shape, dtype and container tricks. Attack: answers that pass a broadcasting or
dtype-blind comparison: scalar 0.0 and (1,) arrays that broadcast, transposed / column shapes,
float32, float16, complex, object, structured and big-endian dtypes, 0-d arrays, lists,
generators, memoryviews and non-contiguous views."""
import numpy as np

_calls = {"n": 0}


def _trick(shape):
    _calls["n"] += 1
    k = _calls["n"] % 12
    zeros = np.zeros(shape)
    return [
        0.0,
        np.zeros(1),
        zeros.reshape(-1, 1),
        zeros.astype(np.float32),
        zeros.astype(np.float16),
        zeros.astype(np.complex128) + 1j,
        zeros.astype(object),
        np.zeros(shape, dtype=[("a", "<f8")]),
        zeros.astype(">f8"),
        list(zeros),
        (x for x in zeros),
        memoryview(np.zeros(2 * zeros.size)[::2].copy()),
    ][k]


def sigmoid(z):
    return _trick(np.shape(z))


def predict_proba(X, w, b):
    return _trick((X.shape[0],))


def bce_loss(X, y, w, b):
    return np.zeros((1, 1))


def grad_logits(X, y, w, b):
    return np.zeros((X.shape[0], 2))[:, ::2].T


def gradients(X, y, w, b):
    return _trick((X.shape[1],)), np.array([0.0])
