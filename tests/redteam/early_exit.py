"""Category: early exit. Attack: leave the worker before any result exists, hoping a missing
result counts as a pass: sys.exit(0), os._exit(0), raise SystemExit / KeyboardInterrupt inside
the graded functions (the worker must report an error or a crash, the grader a failure)."""
import os
import sys

import numpy as np


def sigmoid(z):
    sys.exit(0)


def predict_proba(X, w, b):
    os._exit(0)


def bce_loss(X, y, w, b):
    raise KeyboardInterrupt


def grad_logits(X, y, w, b):
    raise SystemExit("all tests passed")


def gradients(X, y, w, b):
    os.kill(os.getpid(), 9)
