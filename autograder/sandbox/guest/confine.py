"""Confinement applied inside a worker process before any student code runs.

Each step is independent and best-effort where the platform may refuse it (a net namespace
under Docker's default seccomp profile, for instance); :func:`confine` returns the list of
protections that are really in force, and the grader reports it.

Layers (Linux; the order in :func:`confine`):

* private work dir, fds 0-2 on /dev/null and every other fd closed, environment cleared;
* **network**: a new net namespace (root), else a seccomp filter that answers
  ``socket(AF_INET/AF_INET6/AF_PACKET/...)`` with EACCES (only AF_UNIX is allowed);
* **files**: a private mount namespace (root / CAP_SYS_ADMIN) with an empty read-only tmpfs
  over every secret path, read-only tmpfs over the world-writable dirs (/tmp, /var/tmp,
  /dev/shm, /run/lock), a size-capped private tmpfs as the work dir, and ``/`` remounted
  read-only (:mod:`.mounts`); where namespaces are refused, a Landlock ruleset that allows
  reading everything *except* the secret paths and writing only the work dir (:mod:`.landlock`);
* rlimits (CPU, address space, file size, open files, core, processes after the uid drop);
* a dedicated uid (when running as root), ``no_new_privs``;
* Landlock scoping (ABI >= 6): no signals to, and no abstract unix sockets of, processes
  outside the worker;
* seccomp: dangerous syscalls and, by default, new processes refused (:mod:`.seccomp`).

The mechanisms live in :mod:`.mounts`, :mod:`.landlock` and :mod:`.seccomp`; this module
applies them in order.
"""
from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None

from ..libc import PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, libc as _libc
from ..policy import PLOT_ENV, Confinement, Limits
from .landlock import landlock_abi, landlock_restrict
from .mounts import hidden_paths, hide_paths, mount_workdir
from .seccomp import load_seccomp, seccomp_program

CLONE_NEWNET = 0x40000000


def enter_namespaces(*, workdir: str, confinement: Confinement, secrets: list[str],
                     uid: int | None = None) -> tuple[list[str], str]:
    """The namespace layers (root only): a net namespace and the mount namespace of
    :func:`hide_paths`. Returns (protections added, what is left to do for files: ``done``,
    ``landlock`` or ``none``). The zygote enters them once, so its workers share one empty
    network and one filtered view of the files instead of paying for new ones each."""
    active: list[str] = []
    fs_mode = confinement.filesystem
    if not sys.platform.startswith("linux"):
        return active, fs_mode
    root = os.geteuid() == 0
    if confinement.network in ("auto", "netns"):
        if root and _libc().unshare(CLONE_NEWNET) == 0:
            active.append("net_namespace")
        elif confinement.network == "netns":
            raise OSError("a net namespace was required but the kernel refused it")
    if fs_mode in ("auto", "mountns"):
        added = hide_paths(workdir=workdir, secrets=secrets, uid=uid) if root else []
        if added:
            active += added
            fs_mode = "done"
        elif fs_mode == "mountns":
            raise OSError("a mount namespace was required but the kernel refused it")
        else:
            fs_mode = "landlock"
    return active, fs_mode


def confine(*, workdir: str, uid: int | None, limits: Limits, keep_fds: tuple[int, ...],
            confinement: Confinement = Confinement(), secrets: list[str] | None = None,
            namespaces: tuple[list[str], str] | None = None) -> list[str]:
    """Apply every available protection to the current process; return the active ones.
    A protection that was asked for explicitly (not ``auto``) and is unavailable raises.

    ``namespaces``: the result of :func:`enter_namespaces` when the parent (the zygote) already
    entered them and mounted this worker's work dir; ``secrets``: :func:`hidden_paths`, if the
    parent computed them already."""
    linux = sys.platform.startswith("linux")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    os.chdir(workdir)
    active = _own_fds(keep_fds) + _own_env(workdir)
    if linux:
        _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if namespaces is None:
        if secrets is None and confinement.filesystem != "none":
            secrets = hidden_paths(workdir, confinement)
        namespaces = _own_namespaces(workdir, confinement, secrets or [], uid if root else None, limits)
    added, fs_mode = namespaces
    active += added
    os.chdir(workdir)  # the private tmpfs, if one was mounted there
    active.append("private_workdir")
    if resource is None:  # Windows
        return active
    active += _rlimits(limits, linux)
    if uid is not None and root:
        active += _drop_uid(uid, limits, workdir, chown="private_tmpfs_workdir" not in active)
    if not linux:
        return active
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no_new_privs")
    active += _landlock(workdir, confinement, secrets, files=fs_mode == "landlock",
                        net="net_namespace" not in active and confinement.network != "none")
    return active + _seccomp(confinement)


def _own_fds(keep_fds: tuple[int, ...]) -> list[str]:
    """fds 0-2 go to /dev/null (prints are captured in Python, C-level writes are discarded);
    every other fd but ``keep_fds`` is closed."""
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
    return ["closed_fds"]


def _own_env(workdir: str) -> list[str]:
    os.environ.clear()
    os.environ.update({
        "PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **PLOT_ENV,
    })
    return ["cleared_env"]


def _own_namespaces(workdir: str, confinement: Confinement, secrets: list[str], uid: int | None,
                    limits: Limits) -> tuple[list[str], str]:
    """A spawned worker's own namespaces and work-dir tmpfs (a forked one inherits the zygote's)."""
    added, fs_mode = enter_namespaces(workdir=workdir, confinement=confinement, secrets=secrets, uid=uid)
    if "mount_namespace" in added:
        added += mount_workdir(workdir=workdir, uid=uid, limits=limits)
    return added, fs_mode


def _setlim(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def _rlimits(limits: Limits, linux: bool) -> list[str]:
    mib = 1024 * 1024
    added = []
    if linux:
        _setlim(resource.RLIMIT_AS, _address_space() + limits.memory_mb * mib)
        added.append("rlimit_memory")
    _setlim(resource.RLIMIT_CPU, limits.cpu_seconds)
    _setlim(resource.RLIMIT_FSIZE, limits.file_mb * mib)
    _setlim(resource.RLIMIT_NOFILE, limits.open_files)
    _setlim(resource.RLIMIT_CORE, 0)
    return added + ["rlimit_cpu", "rlimit_file_size", "rlimit_open_files"]


def _drop_uid(uid: int, limits: Limits, workdir: str, *, chown: bool) -> list[str]:
    """Become the sandbox uid (own gid, no supplementary groups) for good. ``chown``: the work
    dir is not a tmpfs mounted with that owner, so it is handed over here."""
    if chown:
        os.chown(workdir, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    # NPROC counts processes and threads of the uid; root ignores it, so set it after the drop
    _setlim(resource.RLIMIT_NPROC, limits.processes)
    return ["dropped_uid", "rlimit_processes"]


def _landlock(workdir: str, confinement: Confinement, secrets: list[str] | None, *, files: bool,
              net: bool) -> list[str]:
    """Landlock: file rules where no mount namespace hides the files (``files``), TCP rules
    where no net namespace holds the worker (``net``), scoping always (ABI >= 6)."""
    abi = landlock_abi()
    if files and secrets is None:
        secrets = hidden_paths(workdir, confinement)
    got = landlock_restrict(abi=abi, files=files, workdir=os.path.realpath(workdir), secrets=secrets or [], net=net)
    if files and "landlock_fs" not in got and confinement.filesystem == "landlock":
        raise OSError("Landlock was required but is not available")
    return got


def _seccomp(confinement: Confinement) -> list[str]:
    if not confinement.seccomp:
        return []
    program = seccomp_program(allow_processes=confinement.processes)
    if program is not None and load_seccomp(program):
        added = ["seccomp"]
        if confinement.network != "none":
            added.append("seccomp_socket_deny")
        if not confinement.processes:
            added.append("seccomp_no_processes")
        return added
    if confinement.network == "seccomp":
        raise OSError("seccomp was required but could not be loaded")
    return []


def _address_space() -> int:
    """Current virtual size of this process (the zygote's numpy etc. is already mapped)."""
    try:  # os-level reads: a buffered text file would cost a forked worker ~70 page copies
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 256).split()[0]) * os.sysconf("SC_PAGE_SIZE")
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 0
