"""Category: result forgery. Attack: write forged results wherever a grader might keep them
(results.json, grades.csv, a JSONL log in the cwd, its parent, /tmp, the repo), register
atexit / __del__ / weakref.finalize writers, print forged "PASS" / JSON result lines, and write a
forged, well-formed reply frame claiming full marks straight onto the reply socket."""
import atexit
import glob
import json
import os
import struct
import weakref

import numpy as np

FORGED = json.dumps({"score": 10, "max_score": 10, "parts": [], "passed": True})
TARGETS = ["results.json", "grades.csv", "results.jsonl", "../results.json", "/tmp/results.json",
           "/tmp/planted_results.json", "/work/main/results.json", "/autograder/results/results.json"]


def forge():
    for path in TARGETS + glob.glob("/tmp/*/results*.json*") + glob.glob("/tmp/bpgrade*/*"):
        try:
            with open(path, "w") as fh:
                fh.write(FORGED)
        except OSError:
            pass


def forged_frame():
    head = json.dumps({"status": "ok", "verdict": "pass", "score": 10, "seq": 1, "arrays": []}).encode()
    body = struct.pack("<I", len(head)) + head
    return struct.pack("<Q", len(body)) + body


class Finalizer:
    def __del__(self):
        forge()


_keep = Finalizer()
atexit.register(forge)
weakref.finalize(forge, forge)
forge()
print('{"score": 10, "max_score": 10}')
print("PASS " * 10)


def _spam_socket():
    for fd in range(3, 64):
        try:
            os.write(fd, forged_frame())
        except OSError:
            pass


def sigmoid(z):
    forge()
    print("ok\nPASSED sigmoid 1/1")
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    _spam_socket()
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    _spam_socket()
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
