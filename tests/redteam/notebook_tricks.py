"""Category: notebook-level tricks, as they arrive once a notebook is turned into source:
cells that run only under a grader (`if "otter" in sys.modules`, `get_ipython()` probes),
%%capture-style output hiding by replacing sys.stdout, a fake `grader_check`/test-cell
definition that "passes", and metadata-like globals claiming the tests ran. None of it is
consulted: the grader calls the functions and compares the results itself."""
import io
import sys

import numpy as np

__grading__ = {"passed": True, "score": 10}
OTTER_TESTS_PASSED = True
sys.stdout = io.StringIO()  # a %%capture of everything after this


def grader_check(*args, **kwargs):
    return True


try:
    get_ipython()  # noqa: F821
    UNDER_GRADER = False
except NameError:
    UNDER_GRADER = True

if "otter" in sys.modules or "pytest" in sys.modules or UNDER_GRADER:
    def sigmoid(z):
        return np.ones_like(np.asarray(z, dtype=np.float64)) * 0.5
else:
    def sigmoid(z):
        raise NotImplementedError


def predict_proba(X, w, b):
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
