"""Confinement applied inside a worker process before any student code runs.

Each step is independent and best-effort where the platform may refuse it (a net namespace
under Docker's default seccomp profile, for instance); :func:`confine` returns the list of
protections that are really in force, and the grader reports it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import os
import sys
from dataclasses import asdict, dataclass

#: Libraries that would compute the gradients for the student.
FORBIDDEN_MODULES = (
    "torch", "jax", "jaxlib", "tensorflow", "autograd", "theano", "mxnet", "paddle",
    "chainer", "tinygrad", "mlx", "keras", "numdifftools", "sympy",
)

#: Imported in the zygote so they stay importable once the worker has lost file access.
PREIMPORT = (
    "math", "cmath", "itertools", "functools", "collections", "operator", "random",
    "statistics", "typing", "dataclasses", "numbers", "decimal", "fractions", "copy",
    "string", "re", "heapq", "bisect", "warnings", "traceback", "json", "time",
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "numpy.polynomial",
    "numpy.lib.stride_tricks", "numpy.exceptions",
)

CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker. Sizes in MiB, times in seconds."""

    memory_mb: int = 1024       #: address space added on top of the zygote's own
    cpu_seconds: int = 60       #: total CPU time of the worker (per-call walls are separate)
    file_mb: int = 16           #: largest file the worker may write
    open_files: int = 64
    processes: int = 64         #: per sandbox uid; room for BLAS threads, not for a fork bomb
    output_bytes: int = 8192    #: captured stdout/stderr kept per call

    def to_plain(self) -> dict:
        return asdict(self)


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses the autograd libraries. A student can remove this hook, but the libraries are
    not importable anyway once file access is gone, and the static scan reports the attempt."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in FORBIDDEN_MODULES:
            raise ImportError(
                f"import of {fullname!r} is not allowed: compute the gradients yourself with numpy"
            )
        return None


def block_imports() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in FORBIDDEN_MODULES:
            del sys.modules[name]
    sys.meta_path.insert(0, ImportBlocker())


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def confine(*, workdir: str, uid: int | None, limits: Limits, keep_fds: tuple[int, ...]) -> list[str]:
    """Apply every available protection to the current process; return the active ones."""
    active: list[str] = []
    os.chdir(workdir)
    active.append("private_workdir")

    # fds: 0-2 go to /dev/null (prints are captured in Python, C-level writes are discarded)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    start = 3
    for fd in sorted(set(keep_fds)):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 65536)
    active.append("closed_fds")

    os.environ.clear()
    os.environ.update({
        "PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    active.append("cleared_env")

    if sys.platform.startswith("linux"):
        libc = _libc()
        if os.geteuid() == 0 and libc.unshare(CLONE_NEWNET) == 0:
            active.append("net_namespace")
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)

    try:
        import resource
    except ImportError:  # Windows
        return active
    mib = 1024 * 1024

    def setlim(which, value):
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    if sys.platform.startswith("linux"):
        setlim(resource.RLIMIT_AS, _address_space() + limits.memory_mb * mib)
        active.append("rlimit_memory")
    setlim(resource.RLIMIT_CPU, limits.cpu_seconds)
    setlim(resource.RLIMIT_FSIZE, limits.file_mb * mib)
    setlim(resource.RLIMIT_NOFILE, limits.open_files)
    setlim(resource.RLIMIT_CORE, 0)
    active += ["rlimit_cpu", "rlimit_file_size", "rlimit_open_files"]

    if uid is not None and os.geteuid() == 0:
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        active.append("dropped_uid")
        # NPROC counts processes and threads of the uid; root ignores it, so set it after the drop
        setlim(resource.RLIMIT_NPROC, limits.processes)
        active.append("rlimit_processes")
    if sys.platform.startswith("linux") and _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no_new_privs")
    return active


def _address_space() -> int:
    """Current virtual size of this process (the zygote's numpy etc. is already mapped)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
