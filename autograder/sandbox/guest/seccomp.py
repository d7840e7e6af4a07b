"""The seccomp filter (x86_64 / aarch64, raw BPF via ``prctl``; no dependency).

Refused with EPERM: ``ptrace``, ``process_vm_*``, namespace and mount syscalls, ``bpf``,
``io_uring`` (which could create sockets behind seccomp's back), ``userfaultfd``,
``perf_event_open``, keyrings, and by default new processes (``fork``/``vfork``/``clone``
without ``CLONE_THREAD``, ``execve``). ``socket`` is allowed for AF_UNIX only (EACCES
otherwise); ``clone3`` gets ENOSYS so libc falls back to ``clone`` for threads (BLAS threads
keep working).
"""
from __future__ import annotations

import ctypes
import errno
import functools
import platform
import struct

from ..libc import PR_SET_SECCOMP, libc as _libc

SECCOMP_MODE_FILTER = 2
CLONE_THREAD = 0x00010000
CLONE_NS_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME

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
