"""What the sandbox allows and offers, as plain data both sides read: the grader sends
:class:`Limits` and :class:`Confinement` to the zygote (as JSON on its command line), and the
zygote and its workers apply them."""
from __future__ import annotations

from dataclasses import asdict, dataclass

#: Libraries that would compute the gradients for the student.
FORBIDDEN_MODULES = (
    "torch", "jax", "jaxlib", "tensorflow", "autograd", "theano", "mxnet", "paddle",
    "chainer", "tinygrad", "mlx", "keras", "numdifftools", "sympy", "functorch",
)

#: Imported in the zygote so they stay importable once the worker has lost file access. Each
#: costs every worker's fork and exit something: unittest.mock (asyncio and all) made them
#: ~2 ms dearer (bench/bench_isolation.py), so it is not offered.
PREIMPORT = (
    "math", "cmath", "itertools", "functools", "collections", "operator", "random",
    "statistics", "typing", "dataclasses", "numbers", "decimal", "fractions", "copy",
    "string", "re", "heapq", "bisect", "warnings", "traceback", "json", "time",
    "abc", "enum", "contextlib", "textwrap", "array", "queue", "datetime", "pprint", "io",
    "struct", "hashlib", "inspect", "gc", "atexit", "weakref", "pickle", "glob", "fnmatch",
    "shutil", "tempfile", "mmap", "signal", "socket", "select", "threading", "subprocess",
    "ctypes", "ctypes.util", "platform", "importlib", "importlib.util", "importlib.machinery",
    "unittest", "zlib", "base64", "binascii", "csv", "argparse", "logging",
    "encodings.idna", "encodings.latin_1", "encodings.ascii",
    "resource",  # confine() sets the rlimits with it
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "numpy.polynomial",
    "numpy.lib.stride_tricks", "numpy.exceptions", "numpy.testing", "numpy.ma",
    "autograder.notebook",  # a submitted notebook's setup cell imports its (import-light) checker
)

#: Imported once in the zygote, where every worker inherits them, if installed. Most notebooks
#: plot: a worker importing pyplot itself takes about 0.4 s (imports and a font scan), one
#: forked from a zygote that holds it about 0.02 s (bench/bench_isolation.py; --preimport '' to compare).
ZYGOTE_PRELOAD = ("matplotlib", "matplotlib.pyplot")

#: A worker draws nowhere: plots render off screen and ``plt.show()`` shows nothing.
PLOT_ENV = {"MPLBACKEND": "Agg"}


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker. Sizes in MiB, times in seconds."""

    memory_mb: int = 1024       #: address space added on top of the zygote's own
    cpu_seconds: int = 60       #: total CPU time of the worker (per-call walls are separate)
    file_mb: int = 16           #: largest file the worker may write
    open_files: int = 64
    processes: int = 64         #: per sandbox uid; room for BLAS threads, not for a fork bomb
    output_bytes: int = 8192    #: captured stdout/stderr kept per call
    workdir_mb: int = 64        #: size of the private tmpfs work dir (mount namespace only)

    def to_plain(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Confinement:
    """What to hide and which mechanism to use. ``"auto"`` takes the strongest available.

    network: ``auto`` (net namespace if allowed, seccomp socket denial always) | ``seccomp``
    (skip the namespace: the Docker/Gradescope path) | ``none``.
    filesystem: ``auto`` (mount namespace, else Landlock) | ``mountns`` | ``landlock`` | ``none``.
    processes: allow fork/exec in the worker (off: seccomp refuses them).
    """

    secret_paths: tuple[str, ...] = ()
    network: str = "auto"
    filesystem: str = "auto"
    processes: bool = False
    seccomp: bool = True

    def to_plain(self) -> dict:
        return {**asdict(self), "secret_paths": list(self.secret_paths)}

    @classmethod
    def from_plain(cls, d: dict) -> "Confinement":
        d = dict(d)
        d["secret_paths"] = tuple(d.get("secret_paths", ()))
        return cls(**d)
