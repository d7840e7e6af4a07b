"""Category: attacks on the grader process. Attack: kill(-1) and kill of every ancestor (the
zygote, the grader), ptrace-attach to them through ctypes, PR_SET_PDEATHSIG games, closing and
duping fds 0-2 and the reply socket, chdir/umask changes, then crash outright with
ctypes.string_at(0) and os.abort(). Each must read as this submission failing, never as the
grader failing."""
import ctypes
import os
import signal

import numpy as np

libc = ctypes.CDLL(None, use_errno=True)


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


def sigmoid(z):
    for pid in _ancestors():
        for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
        libc.ptrace(0x4206, pid, None, None)  # PTRACE_SEIZE
    try:
        os.kill(-1, signal.SIGKILL)  # kills only what this uid may signal: ourselves
    except OSError:
        pass
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    os.umask(0o777)
    os.chdir("/")
    libc.prctl(1, 9, 0, 0, 0)
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    ctypes.string_at(0)


def grad_logits(X, y, w, b):
    os.abort()


def gradients(X, y, w, b):
    for fd in range(0, 16):
        try:
            os.close(fd)
        except OSError:
            pass
    return np.zeros(X.shape[1]), 0.0
