"""Landlock (Linux 5.13+), where namespaces are refused: read access to everything but the
secret paths, writes to the work dir only, TCP refused (ABI >= 4), and (ABI >= 6) no signals
to, nor abstract unix sockets of, processes outside the worker."""
from __future__ import annotations

import ctypes
import os
import sys

from ..libc import libc as _libc
from .mounts import under

LL_CREATE_RULESET, LL_ADD_RULE, LL_RESTRICT_SELF = 444, 445, 446  # same number on every arch
LL_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1, 2
READ_DIR_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
READ_FILE_RIGHTS = FS_EXECUTE | FS_READ_FILE


def landlock_abi() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    v = libc.syscall(ctypes.c_long(LL_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(v) if v > 0 else 0


def _fs_rights(abi: int) -> int:
    rights = FS_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    return rights  # IOCTL_DEV (ABI 5) left unhandled: isatty() on /dev/null must keep working


def landlock_read_rules(secrets: list[str]) -> list[tuple[str, int]]:
    """Read access to the whole tree except the secret paths: '/' is split into its children
    along the way to each secret, and the secret itself gets no rule. Symlinks get no rule
    (their targets are covered where they really live)."""
    rules: list[tuple[str, int]] = []

    def expand(d: str, depth: int) -> None:
        if any(under(d, s) for s in secrets):
            return  # the secret itself (or inside it)
        if not any(under(s, d) for s in secrets):
            rules.append((d, READ_DIR_RIGHTS))
            return
        if depth > 32:
            return
        try:
            names = os.listdir(d)
        except OSError:
            return
        for name in names:
            p = os.path.join(d, name)
            if os.path.islink(p):
                continue
            if os.path.isdir(p):
                expand(p, depth + 1)
            elif not any(under(p, s) for s in secrets):
                rules.append((p, READ_FILE_RIGHTS))

    expand("/", 0)
    return rules


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def landlock_restrict(*, abi: int, files: bool, workdir: str, secrets: list[str], net: bool) -> list[str]:
    """Apply one Landlock layer. Returns the protections it adds (empty on failure)."""
    if abi <= 0:
        return []
    libc = _libc()
    attr = _RulesetAttr(0, 0, 0)
    added = []
    if files:
        attr.fs = _fs_rights(abi)
        added.append("landlock_fs")
    if net and abi >= 4:
        attr.net = NET_BIND_TCP | NET_CONNECT_TCP
        added.append("landlock_net")
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL
        added.append("landlock_scope")
    if not added:
        return []
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(ctypes.c_long(LL_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return []
    try:
        if files:
            rules = landlock_read_rules(secrets)
            rules.append((workdir, attr.fs))
            for dev in ("/dev/null", "/dev/zero", "/dev/full"):
                rules.append((dev, READ_FILE_RIGHTS | FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)))
            for path, rights in rules:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    if not os.path.isdir(path):
                        rights &= FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE
                    rule = _PathBeneath(rights & attr.fs, fd)
                    libc.syscall(ctypes.c_long(LL_ADD_RULE), ctypes.c_int(ruleset),
                                 ctypes.c_int(LL_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
                finally:
                    os.close(fd)
        if libc.syscall(ctypes.c_long(LL_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return []
    finally:
        os.close(ruleset)
    return added
