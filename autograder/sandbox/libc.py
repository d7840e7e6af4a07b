"""The C library, for the few Linux calls Python does not wrap (``prctl``, ``mount``, raw
syscalls). Both sides use it: the grader and the zygote make themselves undumpable, the guest
confines itself with it."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_LIBC = None


def libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


def set_undumpable() -> bool:
    """PR_SET_DUMPABLE=0: /proc/<pid>/{environ,mem,fd,...} become root-only and same-uid
    processes cannot ptrace us. Used by the grader and the zygote."""
    if not sys.platform.startswith("linux"):
        return False
    return libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
