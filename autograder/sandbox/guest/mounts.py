"""The mount namespace (root / CAP_SYS_ADMIN): the files a worker sees.

In a private mount namespace, an empty read-only tmpfs covers every secret path and every
directory a worker has no reason to read, read-only tmpfs cover the world-writable dirs
(/tmp, /var/tmp, /dev/shm, /run/lock), a size-capped private tmpfs is the work dir, and ``/``
is remounted read-only. The zygote enters it once; its workers inherit the view.
"""
from __future__ import annotations

import ctypes
import os
import sys

import autograder

from ..libc import libc as _libc
from ..policy import FORBIDDEN_MODULES, Confinement, Limits

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2

#: World-writable places a worker could leave files in for the next one; hidden in the mount ns.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
#: Top-level system directories a worker may read (libraries, configuration, devices, /proc).
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/dev", "/proc", "/sys")


def under(path: str, top: str) -> bool:
    """Whether ``path`` is ``top`` or inside it (both absolute, normalised)."""
    return path == top or path.startswith(top.rstrip("/") + "/")


def needed_paths(workdir: str) -> list[str]:
    """What a worker must still reach: the Python installation and its import path, the
    ``autograder`` package, and its own work dir (system directories aside). The folder holding
    the package (a checkout, on the import path) is not needed whole, only the package: its
    other entries (.git with the history of solutions/, tests, the README) are hidden like any
    unneeded path."""
    package = os.path.dirname(os.path.abspath(autograder.__file__))
    checkout = os.path.realpath(os.path.dirname(package))
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, workdir, package, *sys.path]
    found = {os.path.realpath(p) for p in paths if p and os.path.isabs(p) and os.path.isdir(p)}
    return sorted(found - {checkout} if checkout != os.path.realpath(sys.prefix) else found)


def unneeded_dirs(needed: list[str]) -> list[str]:
    """Every directory a worker has no reason to read, at the coarsest level: walking from '/'
    towards each needed path, each sibling directory off those paths (other checkouts of the
    course repo, home directories, /opt, /srv, /var, another user's files...). Hidden like the
    declared secrets, they turn the secret list from "what we know is secret" into "all but what
    is needed". Files along the way are hidden too, except directly under '/'; system and
    scratch dirs are handled apart."""
    # a scratch dir holding something needed (a checkout under /tmp) is walked like any other
    keep = set(needed) | set(SYSTEM_DIRS) | {d for d in SCRATCH_DIRS if not any(under(n, d) for n in needed)}
    ancestors = {"/"}
    for path in needed:
        parts = path.split("/")
        ancestors |= {"/".join(parts[:i]) or "/" for i in range(2, len(parts))}
    hidden = []
    for parent in sorted(ancestors):
        if any(under(parent, k) for k in keep):
            continue  # already wholly visible
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in sorted(names):
            child = os.path.join(parent, name)
            if child in keep or child in ancestors or os.path.islink(child):
                continue
            # files beside the way to a needed path (a checkout's README, pyproject) go too;
            # those directly under '/' are the system's
            if os.path.isdir(child) or (parent != "/" and os.path.isfile(child)):
                hidden.append(child)
    return hidden


def _mount(libc, source, target, fstype, flags, data=None) -> bool:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    return libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) == 0


def forbidden_paths() -> list[str]:
    """Where the installed autograd libraries (:data:`FORBIDDEN_MODULES`) live. The interpreter
    stays readable for every other import, so these are hidden like secrets: a student who
    removes the import blocker still finds no torch to load (nor its shared libraries)."""
    import importlib.util

    found = []
    for name in FORBIDDEN_MODULES:
        try:
            spec = importlib.util.find_spec(name)  # locates the top-level package, imports nothing
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        places = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
        found += [os.path.realpath(p) for p in places if os.path.isabs(p) and os.path.exists(p)]
    return found


def hidden_paths(workdir: str, confinement: Confinement) -> list[str]:
    """Everything a worker must not read: the declared secrets, the autograd libraries and every
    unneeded directory."""
    secrets = [os.path.realpath(p) for p in confinement.secret_paths]
    secrets += [p for p in forbidden_paths() if p not in secrets]
    return secrets + [d for d in unneeded_dirs(needed_paths(os.path.realpath(workdir))) if d not in secrets]


def _scratch_top(workdir: str) -> str | None:
    return next((p for p in SCRATCH_DIRS if under(workdir, p) and os.path.isdir(p)), None)


def traversable(path: str, uid: int) -> bool:
    """Whether a process running as ``uid`` (its own gid, no supplementary groups: see
    :func:`confine`) may look up names in the directory ``path``."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == uid:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without those inside another of them."""
    return [p for p in paths if not any(q != p and under(p, q) for q in paths)]


def bridge_paths(needed: list[str], uid: int) -> dict[str, list[str]]:
    """The directories a worker running as ``uid`` could not pass on its way to a needed path,
    each with the needed paths below it: ``{"/root": ["/root/.pyenv/versions/3.11.7"]}`` for a
    Python installed by pyenv under a 0700 home. Only the way there counts: a needed directory
    that is itself unreadable stays so (its files' own modes decide)."""
    blocked: dict[str, list[str]] = {}
    for path in needed:
        parts = path.split("/")
        for i in range(2, len(parts)):
            ancestor = "/".join(parts[:i])
            if not traversable(ancestor, uid):
                blocked.setdefault(ancestor, []).append(path)
                break
    return {top: _outermost(sorted(set(paths))) for top, paths in sorted(blocked.items())}


def _bridge(libc, top: str, paths: list[str]) -> None:
    """Replace ``top`` by a read-only skeleton that holds only ``paths``, each the real
    directory bind-mounted read-only at its own name: the interpreter's files keep their
    paths (sys.path, __file__) and everything else under ``top`` (a home) stays unseen."""
    fds = [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in paths]  # before top is covered
    try:
        if not _mount(libc, "tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=1024,mode=755"):
            raise OSError(ctypes.get_errno(), f"could not cover {top}")
        for path, fd in zip(paths, fds):
            os.makedirs(path, mode=0o755, exist_ok=True)
            if not (_mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                    and _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)):
                raise OSError(ctypes.get_errno(), f"could not show {path} under {top}")
        if not _mount(libc, None, top, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV):
            raise OSError(ctypes.get_errno(), f"could not make the skeleton of {top} read-only")
    finally:
        for fd in fds:
            os.close(fd)


def hide_paths(*, workdir: str, secrets: list[str], uid: int | None = None) -> list[str]:
    """Enter a private mount namespace in which the secrets are hidden, the scratch dirs are
    empty, '/' is read-only and the scratch dir holding ``workdir`` is a small root-owned tmpfs
    (room for work dirs, nothing a dropped uid can write). Where the worker will run as ``uid``
    and the Python installation lies under a directory that uid cannot pass (pyenv or conda
    under a 0700 home), that directory becomes a skeleton showing just the installation (see
    :func:`bridge_paths`): every installed module stays importable, the home stays hidden.
    Returns the protections it adds; [] if the kernel refused the namespace (nothing changed
    then). The zygote calls it once and its workers inherit the view; a spawned worker calls it
    for itself. One piece, because the order of the mounts is the design: the bridges before
    the secrets (which must stay hidden in the bridged view), '/' read-only last."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return []
    # never let anything below propagate back to the host's mounts
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE):
        raise OSError(ctypes.get_errno(), "could not make the worker's mounts private")
    added = ["mount_namespace"]
    if uid is not None:
        # first, so that the secrets and unneeded dirs below are hidden in the new view
        bridges = bridge_paths([p for p in needed_paths(workdir) if not under(p, workdir)], uid)
        for top, paths in bridges.items():
            _bridge(libc, top, paths)
        if bridges:
            added.append("interpreter_bridged")
    ro_empty = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    for path in secrets:
        if os.path.isdir(path):
            ok = _mount(libc, "tmpfs", path, "tmpfs", ro_empty, "size=4k,nr_inodes=2,mode=000")
        elif os.path.exists(path):
            ok = _mount(libc, "/dev/null", path, None, MS_BIND) and \
                _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOEXEC)
        else:
            continue
        if not ok:
            raise OSError(ctypes.get_errno(), f"could not hide {path}")
    if secrets:
        added.append("secrets_hidden")
    # scratch dirs: emptied, unless something needed lives there (a checkout under /tmp): then
    # only its unneeded subdirs are hidden (they are among ``secrets``) and it is made read-only
    needed = [p for p in needed_paths(workdir) if not under(p, workdir)]
    shared = {d for d in SCRATCH_DIRS if any(under(n, d) for n in needed)}
    for path in SCRATCH_DIRS:
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if path in shared:
            if _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV):
                added.append(f"readonly{path.replace('/', '_')}")  # its own mount; else '/' covers it
        elif not under(workdir, path):
            if _mount(libc, "tmpfs", path, "tmpfs", ro_empty, "size=4k,nr_inodes=2,mode=755"):
                added.append(f"private{path.replace('/', '_')}")
    top = _scratch_top(workdir)
    if top is not None and top not in shared:
        if not _mount(libc, "tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=256,mode=755"):
            raise OSError(ctypes.get_errno(), f"could not hide {top}")
        added.append(f"private{top.replace('/', '_')}")
    # a procfs of our own with hidepid: a worker (its own uid) sees its own processes only, not
    # the grader's or the zygote's command lines; root (the zygote) still sees all
    if _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2"):
        added.append("proc_hidepid")
    if _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY):
        added.append("readonly_root")
    return added


def mount_workdir(*, workdir: str, uid: int | None, limits: Limits) -> list[str]:
    """A fresh size-capped tmpfs as ``workdir``, owned by the worker's uid (in a namespace made
    by :func:`hide_paths`). :func:`unmount_workdir` throws it away with everything in it."""
    os.makedirs(workdir, mode=0o755, exist_ok=True)
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    size = f"size={limits.workdir_mb}m,nr_inodes=4096,mode=700{owner}"
    if not _mount(_libc(), "tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, size):
        raise OSError(ctypes.get_errno(), "could not mount the work dir")
    return ["private_tmpfs_workdir"]


def unmount_workdir(workdir: str) -> None:
    _libc().umount2(workdir.encode(), MNT_DETACH)
    try:
        os.rmdir(workdir)
    except OSError:
        pass
