"""Category: CPU and time. Attack: never answer: an infinite loop that ignores SIGALRM,
SIGTERM, SIGXCPU and SIGINT and catches BaseException, an uninterruptible sleep, and a blocking
read on stdin. Only the grader's wall clock plus SIGKILL of the worker ends it."""
import os
import signal
import time

import numpy as np

for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)


def sigmoid(z):
    while True:
        try:
            while True:
                pass
        except BaseException:
            continue


def predict_proba(X, w, b):
    time.sleep(10**6)


def bce_loss(X, y, w, b):
    os.read(0, 1)  # stdin is /dev/null: returns b"" at once, so this one just answers
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
