"""A worker's CPU time, read by the grader from the kernel (the worker's own clock is not
trusted): its process CPU clock (``clock_gettime`` on its CPU-time clock id: user + system
time of all its threads, live and exited, ns resolution), its reaped children's time
(``cutime + cstime`` in ``/proc/<pid>/stat``), and, when the sandbox lets workers fork, the
CPU time of every other process of the sandbox uid."""
from __future__ import annotations

import os
import time


def cpu_seconds(pid: int, uid: int | None = None) -> float | None:
    """CPU seconds of a worker: its process CPU clock (all threads, ns) + reaped children
    (/proc stat cutime+cstime) + with ``uid``, every other live or zombie process of that uid
    (workers allowed to fork)."""
    own = process_clock(pid)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        if own is None:
            own = (int(fields[11]) + int(fields[12])) / tick
        total = own + (int(fields[13]) + int(fields[14])) / tick
    except (OSError, IndexError, ValueError):
        return own
    if uid is not None:
        total += _uid_cpu(uid, exclude=pid)
    return total


def process_clock(pid: int) -> float | None:
    """The CPU seconds of all threads of process ``pid`` (its CPUCLOCK_SCHED clock), or None."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    except (OSError, AttributeError, OverflowError):
        return None


def _uid_cpu(uid: int, exclude: int) -> float:
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == exclude:
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total
