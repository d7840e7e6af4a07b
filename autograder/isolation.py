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
  read-only; where namespaces are refused, a Landlock ruleset that allows reading everything
  *except* the secret paths and writing only the work dir;
* rlimits (CPU, address space, file size, open files, core, processes after the uid drop);
* a dedicated uid (when running as root), ``no_new_privs``;
* Landlock scoping (ABI >= 6): no signals to, and no abstract unix sockets of, processes
  outside the worker;
* seccomp (x86_64 / aarch64, raw BPF via ``prctl``; no dependency): besides the socket rule,
  ``ptrace``, ``process_vm_*``, namespace / mount syscalls, ``bpf``, ``io_uring`` (which could
  create sockets behind seccomp's back), ``userfaultfd``, ``perf_event_open``, keyrings, and
  by default new processes (``fork``/``vfork``/``clone`` without ``CLONE_THREAD``,
  ``execve``) are refused with EPERM; ``clone3`` gets ENOSYS so libc falls back to ``clone``
  for threads (BLAS threads keep working).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import importlib.abc
import os
import platform
import struct
import sys
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


def preimport(extra: tuple[str, ...] = ()) -> None:
    """Import :data:`PREIMPORT` and ``extra`` (what is missing on this platform is skipped)."""
    import importlib
    import warnings

    for name in (*PREIMPORT, *extra):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # plt.show() under the Agg backend says it cannot show: true, and nothing the student did wrong
    warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")


CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
CLONE_NS_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2

#: World-writable places a worker could leave files in for the next one; hidden in the mount ns.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


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
    if not any(isinstance(finder, ImportBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, ImportBlocker())


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


def set_undumpable() -> bool:
    """PR_SET_DUMPABLE=0: /proc/<pid>/{environ,mem,fd,...} become root-only and same-uid
    processes cannot ptrace us. Used by the grader and the zygote."""
    if not sys.platform.startswith("linux"):
        return False
    return _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


# ====================================================================== seccomp (raw BPF)

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALLS = {
    "x86_64": dict(socket=41, clone=56, fork=57, vfork=58, execve=59, execveat=322, clone3=435,
                   ptrace=101, process_vm_readv=310, process_vm_writev=311, unshare=272, setns=308,
                   mount=165, umount2=166, pivot_root=155, chroot=161, bpf=321, perf_event_open=298,
                   userfaultfd=323, keyctl=250, add_key=248, request_key=249, io_uring_setup=425,
                   io_uring_enter=426, io_uring_register=427, open_by_handle_at=304, kexec_load=246,
                   init_module=175, finit_module=313, fsopen=430, fsmount=432, move_mount=429,
                   open_tree=428, mount_setattr=442),
    "aarch64": dict(socket=198, clone=220, execve=221, execveat=281, clone3=435, ptrace=117,
                    process_vm_readv=270, process_vm_writev=271, unshare=97, setns=268, mount=40,
                    umount2=39, pivot_root=41, chroot=51, bpf=280, perf_event_open=241,
                    userfaultfd=282, keyctl=219, add_key=217, request_key=218, io_uring_setup=425,
                    io_uring_enter=426, io_uring_register=427, open_by_handle_at=265, kexec_load=104,
                    init_module=105, finit_module=273, fsopen=430, fsmount=432, move_mount=429,
                    open_tree=428, mount_setattr=442),
}
ALWAYS_DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns", "mount",
                 "umount2", "pivot_root", "chroot", "bpf", "perf_event_open", "userfaultfd", "keyctl",
                 "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register",
                 "open_by_handle_at", "kexec_load", "init_module", "finit_module", "fsopen", "fsmount",
                 "move_mount", "open_tree", "mount_setattr")
PROCESS_SYSCALLS = ("fork", "vfork", "execve", "execveat")
AF_UNIX = 1

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


@functools.lru_cache(maxsize=None)  # built once in the zygote, not in every worker
def seccomp_program(*, allow_processes: bool, machine: str | None = None) -> bytes | None:
    """The BPF program (``struct sock_filter[]`` bytes) or None on an unknown architecture."""
    machine = machine or platform.machine()
    if machine not in SYSCALLS:
        return None
    nr = SYSCALLS[machine]
    eperm, eacces, enosys = (RET_ERRNO | errno.EPERM, RET_ERRNO | errno.EACCES, RET_ERRNO | errno.ENOSYS)
    prog: list[tuple[int, int, int, int]] = []

    def ins(code, jt, jf, k):
        prog.append((code, jt, jf, k))

    ins(_LD_W_ABS, 0, 0, 4)                      # seccomp_data.arch
    ins(_JEQ_K, 1, 0, AUDIT_ARCH[machine])
    ins(_RET_K, 0, 0, eperm)                     # foreign ABI (int 0x80 on x86_64): refuse
    ins(_LD_W_ABS, 0, 0, 0)                      # seccomp_data.nr
    ins(_JGE_K, 0, 1, 0x40000000)                # x32 ABI numbers
    ins(_RET_K, 0, 0, eperm)
    denied = [nr[n] for n in ALWAYS_DENIED if n in nr]
    if not allow_processes:
        denied += [nr[n] for n in PROCESS_SYSCALLS if n in nr]
    for number in denied:
        ins(_JEQ_K, 0, 1, number)
        ins(_RET_K, 0, 0, eperm)
    ins(_JEQ_K, 0, 1, nr["clone3"])
    ins(_RET_K, 0, 0, enosys)                    # glibc then falls back to clone(2)
    # socket(family, ...): only AF_UNIX
    ins(_JEQ_K, 0, 4, nr["socket"])
    ins(_LD_W_ABS, 0, 0, 16)                     # low 32 bits of args[0]
    ins(_JEQ_K, 1, 0, AF_UNIX)
    ins(_RET_K, 0, 0, eacces)
    ins(_RET_K, 0, 0, RET_ALLOW)
    # clone(flags, ...): no namespaces; without CLONE_THREAD only if processes are allowed
    ins(_JEQ_K, 0, 6 if not allow_processes else 4, nr["clone"])
    ins(_LD_W_ABS, 0, 0, 16)
    ins(_JSET_K, 0, 1, CLONE_NS_FLAGS)
    ins(_RET_K, 0, 0, eperm)
    if not allow_processes:
        ins(_JSET_K, 1, 0, CLONE_THREAD)
        ins(_RET_K, 0, 0, eperm)
    ins(_RET_K, 0, 0, RET_ALLOW)
    ins(_RET_K, 0, 0, RET_ALLOW)
    return b"".join(struct.pack("<HBBI", *i) for i in prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp(program: bytes) -> bool:
    """Install the filter on the calling thread (and what it creates). Needs no_new_privs."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    return _libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


# ====================================================================== Landlock

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


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


#: Top-level system directories a worker may read (libraries, configuration, devices, /proc).
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/dev", "/proc", "/sys")


def needed_paths(workdir: str) -> list[str]:
    """What a worker must still reach: the Python installation and its import path, this
    package, and its own work dir (system directories aside). The folder holding this package
    (a checkout, on the import path) is not needed whole, only the package: its other entries
    (.git with the history of solutions/, tests, the README) are hidden like any unneeded path."""
    package = os.path.dirname(os.path.abspath(__file__))
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
    keep = set(needed) | set(SYSTEM_DIRS) | {d for d in SCRATCH_DIRS if not any(_under(n, d) for n in needed)}
    ancestors = {"/"}
    for path in needed:
        parts = path.split("/")
        ancestors |= {"/".join(parts[:i]) or "/" for i in range(2, len(parts))}
    hidden = []
    for parent in sorted(ancestors):
        if any(_under(parent, k) for k in keep):
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


def landlock_read_rules(secrets: list[str]) -> list[tuple[str, int]]:
    """Read access to the whole tree except the secret paths: '/' is split into its children
    along the way to each secret, and the secret itself gets no rule. Symlinks get no rule
    (their targets are covered where they really live)."""
    rules: list[tuple[str, int]] = []

    def expand(d: str, depth: int) -> None:
        if any(_under(d, s) for s in secrets):
            return  # the secret itself (or inside it)
        if not any(_under(s, d) for s in secrets):
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
            elif not any(_under(p, s) for s in secrets):
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


# ====================================================================== mount namespace

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
    return next((p for p in SCRATCH_DIRS if _under(workdir, p) and os.path.isdir(p)), None)


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
    return [p for p in paths if not any(q != p and _under(p, q) for q in paths)]


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
    for itself."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        return []
    # never let anything below propagate back to the host's mounts
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE):
        raise OSError(ctypes.get_errno(), "could not make the worker's mounts private")
    added = ["mount_namespace"]
    if uid is not None:
        # first, so that the secrets and unneeded dirs below are hidden in the new view
        bridges = bridge_paths([p for p in needed_paths(workdir) if not _under(p, workdir)], uid)
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
    needed = [p for p in needed_paths(workdir) if not _under(p, workdir)]
    shared = {d for d in SCRATCH_DIRS if any(_under(n, d) for n in needed)}
    for path in SCRATCH_DIRS:
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if path in shared:
            if _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV):
                added.append(f"readonly{path.replace('/', '_')}")  # its own mount; else '/' covers it
        elif not _under(workdir, path):
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


# ====================================================================== confine

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
    active: list[str] = []
    linux = sys.platform.startswith("linux")
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    os.chdir(workdir)

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
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **PLOT_ENV,
    })
    active.append("cleared_env")

    if linux:
        _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if namespaces is None:
        if secrets is None and confinement.filesystem != "none":
            secrets = hidden_paths(workdir, confinement)
        added, fs_mode = enter_namespaces(workdir=workdir, confinement=confinement, secrets=secrets or [],
                                          uid=uid if root else None)
        if "mount_namespace" in added:
            added += mount_workdir(workdir=workdir, uid=uid if root else None, limits=limits)
    else:
        added, fs_mode = namespaces
    active += added
    os.chdir(workdir)  # the private tmpfs, if one was mounted there
    active.append("private_workdir")

    try:
        import resource
    except ImportError:  # Windows
        return active
    mib = 1024 * 1024

    def setlim(which, value):
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    if linux:
        setlim(resource.RLIMIT_AS, _address_space() + limits.memory_mb * mib)
        active.append("rlimit_memory")
    setlim(resource.RLIMIT_CPU, limits.cpu_seconds)
    setlim(resource.RLIMIT_FSIZE, limits.file_mb * mib)
    setlim(resource.RLIMIT_NOFILE, limits.open_files)
    setlim(resource.RLIMIT_CORE, 0)
    active += ["rlimit_cpu", "rlimit_file_size", "rlimit_open_files"]

    if uid is not None and root:
        if "private_tmpfs_workdir" not in active:
            os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        active.append("dropped_uid")
        # NPROC counts processes and threads of the uid; root ignores it, so set it after the drop
        setlim(resource.RLIMIT_NPROC, limits.processes)
        active.append("rlimit_processes")
    if not linux:
        return active
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no_new_privs")

    abi = landlock_abi()
    want_files = fs_mode == "landlock"
    if want_files and secrets is None:
        secrets = hidden_paths(workdir, confinement)
    got = landlock_restrict(abi=abi, files=want_files, workdir=os.path.realpath(workdir), secrets=secrets or [],
                            net="net_namespace" not in active and confinement.network != "none")
    active += got
    if want_files and "landlock_fs" not in got and confinement.filesystem == "landlock":
        raise OSError("Landlock was required but is not available")

    if confinement.seccomp:
        program = seccomp_program(allow_processes=confinement.processes)
        if program is not None and load_seccomp(program):
            active.append("seccomp")
            if confinement.network != "none":
                active.append("seccomp_socket_deny")
            if not confinement.processes:
                active.append("seccomp_no_processes")
        elif confinement.network == "seccomp":
            raise OSError("seccomp was required but could not be loaded")
    return active


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
