"""The fork server: ``python -m autograder.sandbox.guest.zygote --ctrl FD``.

Started as a fresh interpreter by the grader (:class:`autograder.sandbox.host.launch.ZygoteLauncher`),
so its memory holds numpy and the guest's code and nothing else: no torch, no reference
solution, no seed, no expected output; at most the inputs of the cases its workers are sent
anyway (preloaded).
It forks one worker per request (receiving the worker's socket over the control socket), and
on request kills and reaps it, sweeping every process of the sandbox uid and any orphan
re-parented to it (it is their subreaper).

Control messages are JSON datagrams on a SOCK_SEQPACKET socket:
``{"op": "ping"}``, ``{"op": "fork", "workdir", "assignment_file"[, "assignment_source"]}`` + 1 fd,
``{"op": "reap", "pid"}``, ``{"op": "preload"}`` + 1 fd (a batch's case inputs as wire
frames on that fd, until it closes: see :meth:`autograder.sandbox.host.Sandbox.preload`).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket

from ..channel import Channel, Closed
from ..libc import PR_SET_CHILD_SUBREAPER, libc, set_undumpable
from ..policy import Confinement, Limits
from ..protocol import describe_exit, split_arrays
from ..wire import INPUT_DTYPES, TransportError
from . import worker
from .confine import enter_namespaces
from .imports import block_imports, preimport
from .mounts import hidden_paths, mount_workdir, unmount_workdir
from .seccomp import seccomp_program


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox.guest.zygote")
    parser.add_argument("--ctrl", type=int, required=True)
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--confinement", default="{}")
    parser.add_argument("--workroot", required=True, help="the folder every work dir is made in")
    parser.add_argument("--preimport", default="", help="modules to import for every worker, comma-separated")
    opts = parser.parse_args(argv)
    uid = opts.uid if opts.uid >= 0 else None
    limits = Limits(**json.loads(opts.limits))
    confinement = Confinement.from_plain(json.loads(opts.confinement))
    ctrl = socket.socket(fileno=opts.ctrl)

    preimport(tuple(name for name in opts.preimport.split(",") if name))
    worker.warm_up()
    libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # no PR_SET_PDEATHSIG: it fires when the *thread* that started us exits, and sandboxes may be
    # made from short-lived threads; we exit when the grader's end of --ctrl closes instead
    set_undumpable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the namespaces every worker inherits: entered once here instead of once per worker
    secrets = hidden_paths(opts.workroot, confinement) if confinement.filesystem != "none" else []
    namespaces = enter_namespaces(workdir=opts.workroot, confinement=confinement, secrets=secrets, uid=uid)
    if confinement.seccomp:
        seccomp_program(allow_processes=confinement.processes)  # cached: built once, here
    zygote = Zygote(uid, limits, confinement, secrets, namespaces)

    try:
        serve(ctrl, zygote)
    finally:
        zygote.shutdown()


def serve(ctrl: socket.socket, zygote: "Zygote") -> None:
    """Answer control requests, in order, until the grader's end closes."""
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 20, 4)  # a request may carry an assignment's source
        except OSError:
            return
        if not msg:
            return
        req = json.loads(msg)
        if req["op"] == "ping":
            reply = {"pong": True}
        elif req["op"] == "fork":
            try:
                reply = {"pid": zygote.fork(ctrl, fds[0], req)}
            except OSError as exc:
                reply = {"error": f"could not start a worker: {exc}"}
        elif req["op"] == "reap":
            reply = {"status": zygote.reap(req["pid"])}
        elif req["op"] == "preload" and fds:
            try:
                reply = {"preloaded": zygote.preload(fds[0])}
            except (TransportError, KeyError, TypeError) as exc:
                reply = {"error": f"could not read the inputs: {exc!r}"}
        else:
            reply = {"error": f"unknown op {req['op']!r}"}
        for fd in fds:
            os.close(fd)
        try:
            ctrl.send(json.dumps(reply).encode())
        except OSError:  # the grader closed without reading the reply to its last reap
            return


class Zygote:
    """Forks confined workers and reaps them. In the zygote's mount namespace each worker gets
    a fresh tmpfs as its work dir, unmounted (with everything in it) when it is reaped."""

    def __init__(self, uid: int | None, limits: Limits, confinement: Confinement,
                 secrets: list[str], namespaces: tuple[list[str], str]):
        self.uid, self.limits, self.confinement = uid, limits, confinement
        self.secrets, self.namespaces = secrets, namespaces
        self.workdirs: dict[int, str] = {}  #: worker pid -> its mounted work dir
        self.assignments: dict[str, object] = {}
        self.preloaded: dict[str, worker.Inputs] = {}  #: ref -> a case's inputs, for every worker

    def assignment(self, path: str, source: str | None):
        """The public, numpy-only assignment definition, loaded once per zygote (with the
        autograd import blocker in place) instead of once per worker (about 25 ms each). The
        grader sends its source with the first request for it: the file itself
        may be hidden in our mount namespace (only the Python installation and the package are
        sure to show)."""
        if path not in self.assignments:
            block_imports()
            self.assignments[path] = worker.load_assignment(path, source)
        return self.assignments[path]

    def preload(self, fd: int) -> int:
        """Read ``preload`` frames from ``fd`` until the grader closes it; returns how many
        cases this request carried. The arrays are decoded (and checked) here, once, and
        frozen: each worker copies a case's arrays for each call on it."""
        channel, count = Channel(os.dup(fd), INPUT_DTYPES), 0
        try:
            while True:
                try:
                    msg, arrays = channel.recv()
                except Closed:
                    return count
                for case, mine in split_arrays(msg["cases"], arrays):
                    self.preloaded[case["ref"]] = worker.Inputs.frozen(case["scalars"], mine)
                    count += 1
        finally:
            channel.close()

    def fork(self, ctrl: socket.socket, fd: int, req: dict) -> int:
        try:
            assignment = self.assignment(req["assignment_file"], req.get("assignment_source"))
        except Exception:  # noqa: BLE001 - let the worker load it and report the author error itself
            assignment = None
        shared, fs_mode = self.namespaces
        workdir = req["workdir"]
        mounted = "mount_namespace" in shared
        if mounted:
            shared = shared + mount_workdir(workdir=workdir, uid=self.uid, limits=self.limits)
        gc.freeze()  # the worker's collections then skip everything inherited: no copy-on-write of the heap
        try:
            pid = os.fork()
        except OSError:
            if mounted:
                unmount_workdir(workdir)
            raise
        if pid:
            if mounted:
                self.workdirs[pid] = workdir
            return pid
        code = 0
        try:
            ctrl.close()
            os.setsid()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            worker.run(fd, assignment_file=req["assignment_file"], workdir=workdir, uid=self.uid,
                       limits=self.limits, confinement=self.confinement, assignment=assignment,
                       secrets=self.secrets, namespaces=(shared, fs_mode), preloaded=self.preloaded)
        except BaseException:  # noqa: BLE001 - the worker must never return into the zygote loop
            code = 70
        finally:
            os._exit(code)

    def shutdown(self) -> None:
        """The grader closed (or died) with workers not reaped (a spare, one still running):
        kill every process of the uid and every child (each round kills all before it reaps
        any, so no pid is reused meanwhile), then unmount. Nothing we forked outlives us."""
        if self.uid is not None:
            try:
                _sweep_uid(self.uid)
            except OSError:
                pass
        _reap_orphans()
        for workdir in self.workdirs.values():
            unmount_workdir(workdir)
        self.workdirs.clear()

    def reap(self, pid: int) -> str:
        # under our filter (fork, vfork, execve, clone without CLONE_THREAD refused) the worker
        # is the only process its uid can have: the uid sweep, itself a fork, is not needed
        alone = self.confinement.seccomp and not self.confinement.processes and _under_seccomp(pid)
        status = _reap(pid, None if alone else self.uid)
        workdir = self.workdirs.pop(pid, None)
        if workdir is not None:
            unmount_workdir(workdir)
        return status


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
    _reap_orphans()
    return result


def _reap_orphans() -> None:
    """Kill and reap every process re-parented to us (we are the subreaper)."""
    for _ in range(100):  # each round also catches the children of the last round's
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


def _under_seccomp(pid: int) -> bool:
    """Whether the kernel (not the worker's word) says the process runs under a seccomp filter."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.split() == ["Seccomp:", "2"] for line in fh)
    except OSError:
        return False


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
