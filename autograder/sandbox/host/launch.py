"""How a sandbox starts its workers: one class per start method, behind one interface, as
CPython's ``multiprocessing`` has a ``popen_*`` module per start method.

:class:`ZygoteLauncher` (Linux, the default where fds can be passed): a fork server started
once as a fresh interpreter (``python -m autograder.sandbox.guest.zygote``) forks each worker
and hands it one end of a socketpair; it also holds preloaded case inputs and a pre-forked
spare worker. :class:`SpawnLauncher` (macOS, Windows, or ``isolation_mode="spawn"``): a fresh
``python -m autograder.sandbox.guest.worker --stdio`` per worker, talking over its
stdin/stdout pipes; local checks hold no secrets, so that is enough there.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import autograder

from ..channel import Channel, ThreadedChannel
from ..policy import PLOT_ENV
from ..protocol import describe_exit, pack_arrays
from ..wire import MAX_ARRAYS, REPLY_DTYPES, Encoded
from .session import START_TIMEOUT, Request, WorkerProcess

if TYPE_CHECKING:
    from .sandbox import Sandbox

ZYGOTE_MODULE = "autograder.sandbox.guest.zygote"
WORKER_MODULE = "autograder.sandbox.guest.worker"
PRELOAD_FRAME_BYTES = 16 * 1024 * 1024  #: input bytes per frame sent to a zygote by Sandbox.preload


class Launcher:
    """Starts and reaps the workers of one :class:`Sandbox`. What only a fork server can do
    (preloaded inputs, a pre-forked spare, a control socket to hand over) does nothing here."""

    protection = ""  #: the grader-side protection this start method gives

    def __init__(self, sandbox: "Sandbox", *, prefork: bool = False):
        self.sandbox = sandbox
        self.prefork = False  #: only a launcher that can fork ahead honours ``prefork``

    def wait_ready(self) -> None:
        """Block until workers can be started."""

    def launch(self, workdir: Path, assignment_file: str) -> WorkerProcess:
        raise NotImplementedError

    def reap(self, wp: WorkerProcess, *, wait: bool = True) -> str:
        """Kill ``wp`` (its process group is killed already) and return its exit status."""
        raise NotImplementedError

    def preload(self, requests: list[Request]) -> bool:
        """Give every later worker these inputs; False if this start method cannot."""
        return False

    def sync(self) -> None:
        """Wait until everything asked of the launcher so far is done."""

    def fork_spare(self, assignment_file: str) -> None:
        """Start the next worker ahead of need, if this start method can."""

    def claim_spare(self) -> WorkerProcess | None:
        return None

    def drop_spare(self) -> None:
        spare = self.claim_spare()
        if spare is not None:
            spare.kill()

    def close(self) -> None:
        pass

    def hand_over(self) -> None:
        pass

    def forget(self) -> None:
        pass


class SpawnLauncher(Launcher):
    """A fresh interpreter per worker, over its stdin/stdout pipes: the portable path (no fd
    passing, no poll on pipes: Windows has neither). Its own process group (session on POSIX),
    so a kill takes its children too."""

    protection = "spawned_worker"

    def launch(self, workdir: Path, assignment_file: str) -> WorkerProcess:
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                 else {"start_new_session": True})
        box = self.sandbox
        proc = subprocess.Popen(
            [sys.executable, "-s", "-m", WORKER_MODULE, "--stdio",
             "--workdir", str(workdir), "--assignment-file", assignment_file,
             "--limits", json.dumps(box.limits.to_plain()),
             "--confinement", json.dumps(box.confinement.to_plain())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean_env(), **group,
        )
        channel = ThreadedChannel(proc.stdout, proc.stdin, REPLY_DTYPES)
        return WorkerProcess(box, proc.pid, proc, channel, workdir)

    def reap(self, wp: WorkerProcess, *, wait: bool = True) -> str:
        wp.proc.kill()  # Windows: TerminateProcess (no process groups to kill there)
        return describe_exit(wp.proc.wait())


class ZygoteLauncher(Launcher):
    """Workers forked by a fork server (see :mod:`autograder.sandbox.guest.zygote`), asked over
    a SOCK_SEQPACKET control socket whose replies come in request order.

    ``prefork`` (for batches): when a submission closes, the zygote forks the next worker as
    soon as it has reaped that submission's one, so the fork and the new worker's confinement
    overlap the report the grader builds meanwhile. The spare waits, confined and empty, for
    the next start; it is forked only after the last worker and every process of the uid are
    gone, so it never lives beside another worker."""

    protection = "fresh_interpreter_zygote"

    def __init__(self, sandbox: "Sandbox", *, prefork: bool = False):
        super().__init__(sandbox)
        self.prefork = prefork
        self.zygote: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._lock = threading.Lock()
        self._sent: set[str] = set()  #: assignment files whose source the zygote has
        self._unread: deque[dict | None] = deque()  #: requests sent with wait=False, oldest first:
        #: where to put each one's reply when it is read (None: drop it)
        self._spare: _Spare | None = None
        self._start()

    def _start(self) -> None:
        """A fresh interpreter, so nothing the grader has loaded (torch, a reference, hidden
        cases) can be in the zygote's memory, whatever this process imported before. It exits
        when our end of its control socket closes (we closed the sandbox or died)."""
        box = self.sandbox
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.zygote = subprocess.Popen(
            [sys.executable, "-s", "-m", ZYGOTE_MODULE, "--ctrl", str(child.fileno()),
             "--uid", str(box.uid if box.uid is not None else -1),
             "--limits", json.dumps(box.limits.to_plain()),
             "--confinement", json.dumps(box.confinement.to_plain()), "--workroot", str(box.tmp),
             "--preimport", ",".join(box.preimport)],
            pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=clean_env(),
        )
        child.close()
        self._ctrl = parent

    def wait_ready(self) -> None:
        if self._request({"op": "ping"}).get("pong") is not True:
            raise RuntimeError("the sandbox zygote did not start")

    # ---------------------------------------------------------------- control requests
    def _request(self, req: dict, fds: list[int] = (), *, wait: bool = True,
                 into: dict | None = None) -> dict | None:
        """Send a control request and return the zygote's reply. ``wait=False`` leaves the
        reply to be read before the next request's (the zygote answers in order), so the
        caller goes on while the zygote works: for reaps whose status nobody reads (dropped)
        and the spare's fork (kept in ``into["reply"]``)."""
        with self._lock:
            if self._ctrl is None:
                raise RuntimeError("the sandbox is closed")
            socket.send_fds(self._ctrl, [json.dumps(req).encode()], list(fds))
            if not wait:
                self._unread.append(into)
                return None
            self._read_unread()
            reply = self._ctrl.recv(65536)
        if not reply:
            raise RuntimeError("the sandbox zygote died")
        return json.loads(reply)

    def sync(self) -> None:
        """Wait until the zygote has done everything asked of it so far (the reaps of
        closed submissions' workers included)."""
        with self._lock:
            if self._ctrl is not None:
                self._read_unread()

    def _read_unread(self) -> None:
        """Read the replies to requests sent with ``wait=False``. Caller holds the lock."""
        while self._unread:
            into = self._unread.popleft()
            reply = self._ctrl.recv(65536)
            if not reply:
                raise RuntimeError("the sandbox zygote died")
            if into is not None:
                into["reply"] = json.loads(reply)

    def preload(self, requests: list[Request]) -> bool:
        spare = self.claim_spare()
        if spare is not None:  # forked without these inputs: a worker sent their refs would fail
            spare.kill(wait=False)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            if self._ctrl is None:
                raise RuntimeError("the sandbox is closed")
            self._read_unread()
            try:
                socket.send_fds(self._ctrl, [json.dumps({"op": "preload"}).encode()], [theirs.fileno()])
            finally:
                theirs.close()
            channel = Channel(ours.detach(), REPLY_DTYPES)
            try:
                for frame in _preload_frames(requests):
                    channel.send(*frame, timeout=START_TIMEOUT)
            finally:
                channel.close()  # end of data: the zygote answers
            reply = self._ctrl.recv(65536)
        if not reply:
            raise RuntimeError("the sandbox zygote died")
        if json.loads(reply).get("preloaded") != len(requests):
            raise RuntimeError(f"the zygote did not take the inputs: {reply[:200]!r}")
        return True

    # ---------------------------------------------------------------- workers
    def launch(self, workdir: Path, assignment_file: str) -> WorkerProcess:
        """A worker forked by the zygote, talking over a socketpair (its end passed over --ctrl)."""
        ours, reply = self._fork_request(workdir, assignment_file)
        return self._worker_from(ours, reply, workdir, assignment_file)

    def _fork_request(self, workdir: Path, assignment_file: str, *,
                      into: dict | None = None) -> tuple[socket.socket, dict | None]:
        """Ask the zygote for a worker (its reply returned, or left in ``into`` to read later);
        returns our end of the worker's socketpair too."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.set_inheritable(False)
        try:
            request = {"op": "fork", "workdir": str(workdir), "assignment_file": assignment_file}
            if assignment_file not in self._sent:  # the zygote may not see the file: send it once
                request["assignment_source"] = Path(assignment_file).read_text()
            reply = self._request(request, [theirs.fileno()], wait=into is None, into=into)
            self._sent.add(assignment_file)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ours, reply

    def _worker_from(self, ours: socket.socket, reply: dict | None, workdir: Path,
                     assignment_file: str) -> WorkerProcess:
        if not reply or "pid" not in reply:
            ours.close()
            raise RuntimeError((reply or {}).get("error", "the zygote did not start a worker"))
        channel = Channel(ours.detach(), REPLY_DTYPES, nonblocking=True)
        return WorkerProcess(self.sandbox, reply["pid"], None, channel, workdir, assignment_file)

    def reap(self, wp: WorkerProcess, *, wait: bool = True) -> str:
        """``wait=False``: do not wait for the zygote to finish (the worker's exit, the sweep,
        the work dir's unmount) and return no status; the zygote finishes before it forks the
        next worker, as it serves requests in order."""
        reply = self._request({"op": "reap", "pid": wp.pid}, wait=wait)
        return "" if reply is None else str(reply["status"])

    def fork_spare(self, assignment_file: str) -> None:
        """With ``prefork``: have the zygote fork the next worker once it has done what it was
        asked before (the last reap among it), without waiting for it."""
        if not self.prefork or self._spare is not None or self._ctrl is None:
            return
        workdir = None
        try:
            workdir = self.sandbox.new_workdir()
            spare = _Spare(workdir, assignment_file)
            spare.sock, _ = self._fork_request(workdir, assignment_file, into=spare.reply)
        except Exception:  # noqa: BLE001 - the next start() forks (and reports) as usual
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            return
        self._spare = spare

    def claim_spare(self) -> WorkerProcess | None:
        """The pre-forked worker as a live WorkerProcess, if there is one (None if its fork failed)."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            self.sync()  # its fork's reply, after those of the requests before it
            return self._worker_from(spare.sock, spare.reply.get("reply"), spare.workdir, spare.assignment_file)
        except (OSError, RuntimeError):
            spare.sock.close()
            shutil.rmtree(spare.workdir, ignore_errors=True)
            pid = (spare.reply.get("reply") or {}).get("pid")
            if pid is not None:  # forked, but unusable: reaped before anything else is forked
                with contextlib.suppress(OSError, RuntimeError):
                    self._request({"op": "reap", "pid": pid}, wait=False)
            return None

    # ---------------------------------------------------------------- the end
    def close(self) -> None:
        if self._ctrl is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.drop_spare()
                self.sync()  # the last reap is done before the zygote sees EOF
            self.hand_over()
        if self.zygote is not None:
            try:
                self.zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.zygote.kill()
                self.zygote.wait()

    def hand_over(self) -> None:
        """Drop our copy of the control socket: the zygote sees it close (and kills what it
        forked) as soon as no process holds it any more."""
        with self._lock:
            if self._ctrl is not None:
                self._ctrl.close()
                self._ctrl = None

    def forget(self) -> None:
        """Drop our copy of the control socket without closing the socket itself (see
        :meth:`Sandbox.forget`)."""
        if self._ctrl is not None:
            os.close(self._ctrl.detach())
        self._ctrl, self.zygote = None, None


@dataclass
class _Spare:
    """A worker the zygote was asked to fork ahead of need (see ``prefork``)."""
    workdir: Path
    assignment_file: str
    sock: socket.socket | None = None
    reply: dict = field(default_factory=dict)  #: the zygote's reply, once read


def _preload_frames(requests: list[Request]) -> Iterator[tuple[dict, Encoded]]:
    """The ``preload`` frames: each names its cases (ref, scalars, number of arrays) and
    carries their arrays, within the wire's caps on arrays and bytes per frame."""
    batch: list[Request] = []
    for req in [*requests, None]:
        full = req is None or (batch and (
            sum(len(r.arrays.names) for r in batch) + len(req.arrays.names) > MAX_ARRAYS
            or sum(r.arrays.size for r in batch) + req.arrays.size > PRELOAD_FRAME_BYTES))
        if full and batch:
            yield ({"cases": [{"ref": r.ref, "scalars": r.scalars, "n": len(r.arrays.names)} for r in batch]},
                   pack_arrays([r.arrays for r in batch]))
            batch = []
        if req is not None:
            batch.append(req)


def clean_env() -> dict:
    """The environment for the zygote / spawned worker: nothing from ours but what imports need,
    and where matplotlib keeps its font cache (built by the first zygote, read by the next)."""
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8", **PLOT_ENV,
           "PYTHONPATH": str(Path(autograder.__file__).resolve().parent.parent)}  # the folder holding the package
    cache = _plot_cache()
    if cache:
        env["MPLCONFIGDIR"] = cache
    if os.name == "nt":  # Windows: an interpreter started without SYSTEMROOT may fail to seed its RNG
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "TEMP", "TMP") if k in os.environ})
    return env


def _plot_cache() -> str | None:
    """``$XDG_CACHE_HOME/bpgrade/matplotlib`` (or ~/.cache/...), if it can be made."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "bpgrade", "matplotlib")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None
