"""Category: lying objects. Attack: return objects that lie to an in-process comparison: an
ndarray subclass whose __eq__/__sub__/__abs__ say "equal", a float subclass that equals
everything, __array__ that mirrors whatever array sits on the caller's stack (the expected value
in a naive grader) or changes its answer on every call, __array_function__/__array_ufunc__
overrides, and __len__/__iter__/__float__ that raise. Only a plain float64 copy crosses over."""
import sys

import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __sub__(self, other):
        return np.zeros(np.shape(other))

    __rsub__ = __sub__

    def __abs__(self):
        return np.zeros(self.shape)

    def __array_function__(self, func, types, args, kwargs):
        return True


class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__


class Mirror:
    """__array__ copies the first float array it can find on the caller's stack."""

    def __init__(self, shape):
        self.shape = shape

    def __array__(self, dtype=None, copy=None):
        frame = sys._getframe(1)
        while frame is not None:
            for value in frame.f_locals.values():
                if isinstance(value, np.ndarray) and value.shape == self.shape and value.dtype == np.float64:
                    return value.copy()
            frame = frame.f_back
        return np.zeros(self.shape)


class Stateful:
    calls = 0

    def __array__(self, dtype=None, copy=None):
        Stateful.calls += 1
        return np.full(3, float(Stateful.calls))

    def __array_ufunc__(self, *a, **k):
        return True

    def __len__(self):
        raise RuntimeError("no length for you")

    def __float__(self):
        raise RuntimeError("no float for you")


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.zeros_like(z).view(Liar)


def predict_proba(X, w, b):
    return Mirror((X.shape[0],))


def bce_loss(X, y, w, b):
    return AlwaysEqual(0.0)


def grad_logits(X, y, w, b):
    return Stateful()


def gradients(X, y, w, b):
    return Mirror((X.shape[1],)), Stateful()
