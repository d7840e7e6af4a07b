"""The fork server: ``python -m autograder.zygote --ctrl FD``.

Started as a fresh interpreter by :class:`autograder.run.Sandbox`, so its memory holds numpy and
this package's worker code and nothing else: no torch, no reference solution, no hidden case.
It forks one worker per request (receiving the worker's socket over the control socket), and
on request kills and reaps it, sweeping every process of the sandbox uid and any orphan
re-parented to it (it is their subreaper).

Control messages are JSON datagrams on a SOCK_SEQPACKET socket:
``{"op": "ping"}``, ``{"op": "fork", "workdir", "assignment_file"}`` + 1 fd, ``{"op": "reap", "pid"}``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket

from . import isolation, worker
from .run import describe_exit

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.zygote")
    parser.add_argument("--ctrl", type=int, required=True)
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--confinement", default="{}")
    opts = parser.parse_args(argv)
    uid = opts.uid if opts.uid >= 0 else None
    limits = isolation.Limits(**json.loads(opts.limits))
    confinement = isolation.Confinement.from_plain(json.loads(opts.confinement))
    ctrl = socket.socket(fileno=opts.ctrl)

    for name in isolation.PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    libc = isolation._libc()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    isolation.set_undumpable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 65536, 4)
        except OSError:
            return
        if not msg:
            return
        req = json.loads(msg)
        if req["op"] == "ping":
            reply = {"pong": True}
        elif req["op"] == "fork":
            reply = {"pid": _fork_worker(ctrl, fds[0], req, uid, limits, confinement)}
        elif req["op"] == "reap":
            reply = {"status": _reap(req["pid"], uid)}
        else:
            reply = {"error": f"unknown op {req['op']!r}"}
        for fd in fds:
            os.close(fd)
        ctrl.send(json.dumps(reply).encode())


_ASSIGNMENTS: dict[str, object] = {}


def _assignment(path: str):
    """The public, numpy-only assignment definition, loaded once per zygote (with the autograd
    import blocker in place) instead of once per worker: about 25 ms saved per submission."""
    if path not in _ASSIGNMENTS:
        isolation.block_imports()
        _ASSIGNMENTS[path] = worker.load_assignment(path)
    return _ASSIGNMENTS[path]


def _fork_worker(ctrl: socket.socket, fd: int, req: dict, uid: int | None, limits: isolation.Limits,
                 confinement: isolation.Confinement) -> int:
    try:
        assignment = _assignment(req["assignment_file"])
    except Exception:  # noqa: BLE001 - let the worker load it and report the author error itself
        assignment = None
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        ctrl.close()
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        worker.run(fd, assignment_file=req["assignment_file"], workdir=req["workdir"], uid=uid, limits=limits,
                   confinement=confinement, assignment=assignment)
    except BaseException:  # noqa: BLE001 - the worker must never return into the zygote loop
        code = 70
    finally:
        os._exit(code)


def _reap(pid: int, uid: int | None) -> str:
    """Kill the worker's process group, every process of the sandbox uid (setsid + double fork
    escapes the group), and every process re-parented to us (we are their subreaper); reap
    them all, so nothing outlives the worker and no zombie accumulates over thousands of
    workers."""
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    if uid is not None:
        _sweep_uid(uid)
    try:
        _, status = os.waitpid(pid, 0)
        result = describe_exit(os.waitstatus_to_exitcode(status))
    except ChildProcessError:
        result = "worker already gone"
    for _ in range(100):  # orphans re-parented to us; each round also catches their children
        kids = _children()
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for kid in kids:
            try:
                os.waitpid(kid, 0)
            except ChildProcessError:
                pass
        _reap_nohang()
        if not kids:
            break
    return result


def _sweep_uid(uid: int) -> None:
    """A helper that becomes the sandbox uid and kills every process it can: all of that uid."""
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def _children() -> list[int]:
    """Our live (or zombie, not yet reaped) children, from /proc/self/task/*/children."""
    kids: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as fh:
                kids += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return kids


def _reap_nohang() -> None:
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if reaped == 0:
            return


if __name__ == "__main__":
    main()
