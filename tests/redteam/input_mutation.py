"""Category: input and state mutation. Attack: overwrite the inputs in place (so a grader that
computes the expected value after the call, from the same arrays, expects what we return),
keep global state across calls to detect the test order, and reseed the global RNG to shift
the cases generated after us."""
import numpy as np

STATE = {"calls": 0, "seen": []}


def _poison(*arrays):
    STATE["calls"] += 1
    np.random.seed(0)
    for a in arrays:
        if isinstance(a, np.ndarray) and a.flags.writeable:
            a[...] = 0.0


def sigmoid(z):
    _poison(z)
    return np.full(np.shape(z), 0.5)


def predict_proba(X, w, b):
    _poison(X, w)
    return np.full(X.shape[0], 0.5)  # sigmoid(0 @ 0 + b) would be sigmoid(b), not 0.5: a guess


def bce_loss(X, y, w, b):
    _poison(X, y, w)
    return 0.0


def grad_logits(X, y, w, b):
    STATE["seen"].append(X.shape)
    _poison(X, y, w)
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    _poison(X, y, w)
    return np.zeros(X.shape[1]), 0.0
