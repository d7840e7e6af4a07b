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
    opts = parser.parse_args(argv)
    uid = opts.uid if opts.uid >= 0 else None
    limits = isolation.Limits(**json.loads(opts.limits))
    ctrl = socket.socket(fileno=opts.ctrl)

    for name in isolation.PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    libc = isolation._libc()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
            reply = {"pid": _fork_worker(ctrl, fds[0], req, uid, limits)}
        elif req["op"] == "reap":
            reply = {"status": _reap(req["pid"], uid)}
        else:
            reply = {"error": f"unknown op {req['op']!r}"}
        for fd in fds:
            os.close(fd)
        ctrl.send(json.dumps(reply).encode())


def _fork_worker(ctrl: socket.socket, fd: int, req: dict, uid: int | None, limits: isolation.Limits) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        ctrl.close()
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        worker.run(fd, assignment_file=req["assignment_file"], workdir=req["workdir"], uid=uid, limits=limits)
    except BaseException:  # noqa: BLE001 - the worker must never return into the zygote loop
        code = 70
    finally:
        os._exit(code)


def _reap(pid: int, uid: int | None) -> str:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:  # every process of the sandbox uid, e.g. escaped via setsid + double fork
        helper = os.fork()
        if helper == 0:
            try:
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
    try:
        _, status = os.waitpid(pid, 0)
        result = describe_exit(os.waitstatus_to_exitcode(status))
    except ChildProcessError:
        result = "worker already gone"
    while True:  # orphans re-parented to us
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if reaped == 0:
            break
    return result


if __name__ == "__main__":
    main()
