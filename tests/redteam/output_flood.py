"""Category: output abuse. Attack: flood stdout/stderr (Python and C level), raise an
exception with a 50 MB message, inject ANSI escapes, HTML/Markdown and a forged "Score: 10/10"
into the feedback, emit invalid UTF-8 and lone surrogates."""
import os
import sys

import numpy as np

print("\x1b[2J\x1b[31mScore: 10/10\x1b[0m <script>alert(1)</script> **PASSED** \udcff")


def sigmoid(z):
    chunk = "A" * (1 << 20)
    for _ in range(200):
        print(chunk)
        sys.stderr.write(chunk)
    for fd in (1, 2):
        try:
            os.write(fd, b"\xff\xfe" * (1 << 20))
        except OSError:
            pass
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    raise ValueError("x" * (50 << 20))


def bce_loss(X, y, w, b):
    print("\x1b]0;pwned\x07\x1b[1A\x1b[2K" + "Score: 10.0 / 10" + "\r\n" * 1000 + "\udcff\ud800")
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
