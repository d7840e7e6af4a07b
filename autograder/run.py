"""Run student functions out of process: the only way into student code.

Process layout (Linux)::

    grader (trusted: references, hidden cases, torch, every verdict)
      └─ zygote        forked at start-up, BEFORE any of the above is loaded; imports numpy only
           └─ worker   one per submission (and again after a timeout or crash): own session,
                       private tmpfs work dir, closed fds, cleared env, rlimits, dropped uid,
                       seccomp, in the zygote's net and mount namespaces; one socket to us

The grader sends each call's inputs as ``.npy`` and waits with a wall-clock deadline. A call
that hangs or crashes is killed with its whole process group (and, with a dropped uid, every
process of that uid), and the next call resumes in a fresh worker. Elsewhere (macOS, Windows,
or ``isolation="spawn"``) a fresh ``python -m autograder.sandbox.guest.worker --stdio`` replaces the zygote
fork and talks over its stdin/stdout pipes; local checks hold no secrets, so that is enough.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .load import split_cells
from .sandbox.channel import Channel, Closed, ThreadedChannel, Timeout
from .sandbox.libc import set_undumpable
from .sandbox.policy import PLOT_ENV, ZYGOTE_PRELOAD, Confinement, Limits
from .sandbox.protocol import describe_exit, flatten_inputs
from .sandbox.values import NDARRAY
from .sandbox.wire import MAX_ARRAYS, REPLY_DTYPES, Encoded, TransportError

#: Captured output and error text kept per call / load (the worker caps it too; we re-cap).
TEXT_CAP = 16384
#: Smallest reply-frame cap; replies may also be up to REPLY_FACTOR x the inputs' bytes.
REPLY_MIN_BYTES = 8 * 1024 * 1024
REPLY_FACTOR = 8

START_TIMEOUT = 30.0
PIPELINE_CALLS = 16  #: calls sent to a worker in one frame (a part's cases, usually)
PIPELINE_BYTES = 96 * 1024  #: their total input bytes (a larger call goes alone)
PRELOAD_FRAME_BYTES = 16 * 1024 * 1024  #: input bytes per frame sent to a zygote by Sandbox.preload


MAX_SKIPPED_CELLS = 3  #: notebook cells that hung or crashed a worker, skipped in the next one
LOAD_TIMEOUTS = 6  #: a whole load may take this many per-cell time limits


@dataclass
class CellFailure:
    """A notebook cell (``number``; None: a script's body) that did not run to its end."""

    number: int | None
    status: str  # error | syntax_error | timeout | crashed
    error: dict | None = None
    detail: str = ""


@dataclass
class LoadResult:
    status: str  # loaded | syntax_error | load_error | timeout | crashed
    defined: dict[str, str] = field(default_factory=dict)
    error: dict | None = None
    stdout: str = ""
    detail: str = ""
    cells: list[CellFailure] = field(default_factory=list)  #: what raised, hung or crashed while loading


@dataclass
class CallResult:
    """What one call did, as observed and validated by the grader.

    ``wall``: seconds from sending the request to receiving the complete reply.
    ``cpu``: CPU seconds the worker spent on this call, measured by the grader, not reported by
    the worker: the delta of the worker's process-wide CPU clock (``clock_gettime`` on its
    CPU-time clock id; user + system time of **all its threads**, live and exited, ns
    resolution), plus the delta of its reaped children's time (``cutime + cstime`` in
    ``/proc/<pid>/stat``), plus, when the sandbox lets workers fork, the CPU time of every other
    process of the sandbox uid. Taken just before the request is sent and just after the reply
    is read, so it includes decoding inputs and encoding outputs (tens of microseconds) and
    any CPU a background thread burned since the previous call. 0.0 when the call did not
    complete (timeout, crash), was answered batched, or the platform has no such clock.
    """

    status: str  # ok | error | timeout | crashed | memory_limit | not_loaded
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    types: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    mutated: list = field(default_factory=list)
    stdout: str = ""
    error: dict | None = None
    detail: str = ""
    wall: float = 0.0
    cpu: float = 0.0


@dataclass(frozen=True)
class Request:
    """One call's inputs, flattened (scalars for the JSON header) and encoded once: a batch
    sends the same hidden cases to every submission (see :meth:`Grader.request`). ``ref`` is
    a digest of both: a worker whose zygote holds these inputs is sent only that."""
    scalars: dict
    arrays: Encoded
    ref: str = ""

    @classmethod
    def of(cls, inputs: dict) -> "Request":
        scalars, arrays = flatten_inputs(inputs)
        encoded = Encoded.of(arrays)
        digest = hashlib.blake2b(json.dumps([scalars, encoded.names], sort_keys=True).encode(), digest_size=16)
        for chunk in encoded.chunks:
            digest.update(chunk)
        return cls(scalars, encoded, digest.hexdigest())


def default_isolation() -> str:
    if sys.platform.startswith("linux") and hasattr(socket, "send_fds"):
        return "fork"
    return "spawn"


def default_secret_paths() -> list[str]:
    """What workers must never read: the hidden solutions folder (references, grading.toml)."""
    from . import project

    return [str(project.root() / "solutions")]


class Sandbox:
    """Creates confined workers. Construct it before loading any secret (it forks the zygote).

    ``secret_paths`` are hidden from workers in addition to :func:`default_secret_paths`
    (e.g. the folder of other students' submissions). ``network``, ``filesystem`` and
    ``processes`` choose mechanisms (see :class:`autograder.sandbox.policy.Confinement`); the
    defaults take the strongest available. With a dropped uid a sandbox runs one worker at a
    time (its reap kills every process of its uid): use one sandbox per thread.

    ``preimport``: modules the zygote imports for all its workers (default
    :data:`autograder.sandbox.policy.ZYGOTE_PRELOAD`: matplotlib's pyplot).

    ``prefork`` (zygote mode; for batches): when a submission closes, the zygote forks the
    next worker as soon as it has reaped that submission's one, so the fork and the new
    worker's confinement overlap the report the grader builds meanwhile. The spare waits,
    confined and empty, for the next :meth:`start`; it is forked only after the last worker
    and every process of the uid are gone, so it never lives beside another worker.
    """

    def __init__(self, *, limits: Limits = Limits(), isolation_mode: str | None = None,
                 secret_paths: list[str] | tuple[str, ...] = (), network: str = "auto",
                 filesystem: str = "auto", processes: bool = False, wait: bool = True,
                 prefork: bool = False, preimport: tuple[str, ...] = ZYGOTE_PRELOAD):
        self.limits = limits
        self.preimport = tuple(preimport)
        self.mode = isolation_mode or default_isolation()
        self.prefork = prefork and self.mode == "fork"
        secrets = list(dict.fromkeys([*default_secret_paths(), *map(str, secret_paths)]))
        self.confinement = Confinement(secret_paths=tuple(secrets), network=network,
                                       filesystem=filesystem, processes=processes)
        self.grader_protections = ["wall_clock_timeout", "npy_transport_no_pickle", "reply_size_cap",
                                   "fresh_interpreter_zygote" if self.mode == "fork" else "spawned_worker"]
        if set_undumpable():
            self.grader_protections.append("grader_undumpable")
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._sent: set[str] = set()  #: assignment files whose source the zygote has
        self._unread: deque[dict | None] = deque()  #: requests sent with wait=False, oldest first:
        #: where to put each one's reply when it is read (None: drop it)
        self._spare: _Spare | None = None  #: the pre-forked worker (see ``prefork``)
        self.preloaded: set[str] = set()  #: refs of the inputs the zygote holds (see preload)
        self._uid_lock = None
        self.uid = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self.uid, self._uid_lock = _claim_uid()
        self.tmp = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        os.chmod(self.tmp, 0o711)
        self._count = 0
        self._zygote: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        if self.mode == "fork":
            self._start_zygote()
            if wait:
                self.wait_ready()

    # ---------------------------------------------------------------- zygote
    def _start_zygote(self) -> None:
        """A fresh interpreter, so nothing the grader has loaded (torch, a reference, hidden
        cases) can be in the zygote's memory, whatever this process imported before. It exits
        when our end of its control socket closes (we closed the sandbox or died)."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._zygote = subprocess.Popen(
            [sys.executable, "-s", "-m", "autograder.sandbox.guest.zygote", "--ctrl", str(child.fileno()),
             "--uid", str(self.uid if self.uid is not None else -1),
             "--limits", json.dumps(self.limits.to_plain()),
             "--confinement", json.dumps(self.confinement.to_plain()), "--workroot", str(self.tmp),
             "--preimport", ",".join(self.preimport)],
            pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=_clean_env(),
        )
        child.close()
        self._ctrl = parent

    def wait_ready(self) -> None:
        """Block until the zygote answers (``Sandbox(wait=False)`` lets several start at once)."""
        if self.mode == "fork" and self._request({"op": "ping"}).get("pong") is not True:
            raise RuntimeError("the sandbox zygote did not start")

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
            if self._ctrl is not None:  # (no zygote, nothing unread, in spawn mode)
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

    def preload(self, requests: Iterable[Request]) -> None:
        """Give the zygote these inputs, once: every worker it forks afterwards starts with
        them decoded, and a call on them sends only the ref (a batch's shared cases are then
        decoded once per sandbox instead of once per submission). Only what a worker may be
        sent anyway belongs here: a case's inputs, never an expected output or a seed."""
        todo = {r.ref: r for r in requests if r.ref and r.ref not in self.preloaded}
        if self.mode != "fork" or not todo:
            return
        spare = self._claim_spare()
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
                for frame in _preload_frames(list(todo.values())):
                    channel.send(*frame, timeout=START_TIMEOUT)
            finally:
                channel.close()  # end of data: the zygote answers
            reply = self._ctrl.recv(65536)
        if not reply:
            raise RuntimeError("the sandbox zygote died")
        if json.loads(reply).get("preloaded") != len(todo):
            raise RuntimeError(f"the zygote did not take the inputs: {reply[:200]!r}")
        self.preloaded.update(todo)

    # ---------------------------------------------------------------- workers
    def _new_workdir(self) -> Path:
        self._count += 1
        path = self.tmp / f"w{self._count}"
        path.mkdir(mode=0o700)
        return path

    def start(self, assignment_file: str) -> "WorkerProcess":
        if self.uid is not None and self._live:
            raise RuntimeError("this sandbox already runs a worker (its reap kills every process of its uid); "
                               "use one Sandbox per thread")
        spare = self._claim_spare()
        if spare is not None:
            if spare.assignment_file == assignment_file:
                return spare
            spare.kill(wait=False)  # forked for another assignment: the zygote reaps it before the next fork
        workdir = self._new_workdir()
        try:
            wp = self._fork_worker(workdir, assignment_file) if self.mode == "fork" else \
                self._spawn_worker(workdir, assignment_file)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._live.add(wp.pid)
        return wp

    def _fork_worker(self, workdir: Path, assignment_file: str) -> "WorkerProcess":
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
                     assignment_file: str) -> "WorkerProcess":
        if not reply or "pid" not in reply:
            ours.close()
            raise RuntimeError((reply or {}).get("error", "the zygote did not start a worker"))
        channel = Channel(ours.detach(), REPLY_DTYPES, nonblocking=True)
        return WorkerProcess(self, reply["pid"], None, channel, workdir, assignment_file)

    def fork_spare(self, assignment_file: str) -> None:
        """With ``prefork``: have the zygote fork the next worker once it has done what it was
        asked before (the last reap among it), without waiting for it."""
        if not self.prefork or self._spare is not None or self._ctrl is None or self._live:
            return  # (a live worker: the spare would run beside it, under the same uid)
        workdir = None
        try:
            workdir = self._new_workdir()
            spare = _Spare(workdir, assignment_file)
            spare.sock, _ = self._fork_request(workdir, assignment_file, into=spare.reply)
        except Exception:  # noqa: BLE001 - the next start() forks (and reports) as usual
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            return
        self._spare = spare

    def _claim_spare(self) -> "WorkerProcess | None":
        """The pre-forked worker as a live WorkerProcess, if there is one (None if its fork failed)."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            self.sync()  # its fork's reply, after those of the requests before it
            wp = self._worker_from(spare.sock, spare.reply.get("reply"), spare.workdir, spare.assignment_file)
        except (OSError, RuntimeError):
            spare.sock.close()
            shutil.rmtree(spare.workdir, ignore_errors=True)
            pid = (spare.reply.get("reply") or {}).get("pid")
            if pid is not None:  # forked, but unusable: reaped before anything else is forked
                with contextlib.suppress(OSError, RuntimeError):
                    self._request({"op": "reap", "pid": pid}, wait=False)
            return None
        self._live.add(wp.pid)
        return wp

    def drop_spare(self) -> None:
        """Kill and reap the pre-forked worker, if any (no more submissions are coming)."""
        spare = self._claim_spare()
        if spare is not None:
            spare.kill()

    def _spawn_worker(self, workdir: Path, assignment_file: str) -> "WorkerProcess":
        """A fresh ``python -m autograder.sandbox.guest.worker --stdio`` talking over its stdin/stdout pipes:
        the portable path (no fd passing, no poll on pipes: Windows has neither). Its own
        process group (session on POSIX), so a kill takes its children too."""
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                 else {"start_new_session": True})
        proc = subprocess.Popen(
            [sys.executable, "-s", "-m", "autograder.sandbox.guest.worker", "--stdio",
             "--workdir", str(workdir), "--assignment-file", assignment_file,
             "--limits", json.dumps(self.limits.to_plain()),
             "--confinement", json.dumps(self.confinement.to_plain())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_clean_env(), **group,
        )
        channel = ThreadedChannel(proc.stdout, proc.stdin, REPLY_DTYPES)
        return WorkerProcess(self, proc.pid, proc, channel, workdir)

    def reap(self, wp: "WorkerProcess", *, wait: bool = True) -> str:
        """Kill a worker's process group, sweep its uid, collect its exit status.
        ``wait=False`` (zygote mode): do not wait for the zygote to finish (the worker's
        exit, the sweep, the work dir's unmount) and return no status; the zygote finishes
        before it forks the next worker, as it serves requests in order."""
        if hasattr(os, "killpg"):
            try:
                os.killpg(wp.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            if wp.proc is not None:
                wp.proc.kill()  # Windows: TerminateProcess (no process groups to kill there)
                status = describe_exit(wp.proc.wait())
            else:
                reply = self._request({"op": "reap", "pid": wp.pid}, wait=wait)
                status = "" if reply is None else str(reply["status"])
        finally:
            self._live.discard(wp.pid)
            shutil.rmtree(wp.workdir, ignore_errors=True)
        return status

    def close(self) -> None:
        if self._ctrl is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.drop_spare()
                self.sync()  # the last reap is done before the zygote sees EOF
            self._close_ctrl()
        if self._zygote is not None:
            try:
                self._zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # releases the flock: the uid is free for another sandbox
            self._uid_lock = None

    def hand_over(self) -> None:
        """In the owning process, once a forked copy drives the sandbox: drop our copy of the
        control socket, so the zygote sees it close (and kills what it forked) as soon as the
        copy's process ends, whether it closes the sandbox or dies. :meth:`close` still waits
        for the zygote and releases the uid."""
        self._close_ctrl()

    def _close_ctrl(self) -> None:
        with self._lock:
            if self._ctrl is not None:
                self._ctrl.close()
                self._ctrl = None

    def forget(self) -> None:
        """In a forked copy of the owning process: drop our copies of the zygote's control
        socket and of the uid claim, without stopping anything (the owner still uses them)."""
        for fd in (self._ctrl.detach() if self._ctrl is not None else None, self._uid_lock):
            if fd is not None:
                os.close(fd)
        self._ctrl, self._uid_lock, self._zygote = None, None, None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()



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
                   Encoded.concat([(f"{i}:", r.arrays) for i, r in enumerate(batch)]))
            batch = []
        if req is not None:
            batch.append(req)


@dataclass
class _Spare:
    """A worker the zygote was asked to fork ahead of need (see ``Sandbox(prefork=True)``)."""
    workdir: Path
    assignment_file: str
    sock: socket.socket | None = None
    reply: dict = field(default_factory=dict)  #: the zygote's reply, once read


class WorkerProcess:
    def __init__(self, sandbox: Sandbox, pid: int, proc, channel: Channel, workdir: Path, assignment_file: str = ""):
        self.sandbox, self.pid, self.proc, self.channel, self.workdir = sandbox, pid, proc, channel, workdir
        self.assignment_file = assignment_file
        self.exit_status = ""
        self.alone = False  #: under seccomp_no_processes: no children whose CPU time to add
        self.seq = 0
        self.mark: tuple[float, float | None] = (time.perf_counter(), None)  # (wall, cpu) when the current call could start

    def kill(self, *, wait: bool = True) -> str:
        """Kill and reap the worker; its exit status ("killed" with ``wait=False``: see Sandbox.reap)."""
        if not self.exit_status:
            try:
                self.exit_status = self.sandbox.reap(self, wait=wait) or ("worker gone" if wait else "killed")
            finally:
                self.channel.close()
        return self.exit_status

    def cpu(self) -> float | None:
        if self.alone:
            return _process_clock(self.pid)
        return _cpu_seconds(self.pid, self.sandbox.uid if self.sandbox.confinement.processes else None)


class Submission:
    """A submission's source loaded in a worker. Calls go through :meth:`call`, one at a time;
    after a timeout or crash the next call transparently reloads the source in a fresh worker."""

    def __init__(self, sandbox: Sandbox, source: str, assignment_file: str, *, load_timeout: float = 10.0):
        self.sandbox, self.source, self.assignment_file = sandbox, source, assignment_file
        self.cells = split_cells(source)
        self.load_timeout = load_timeout  #: per notebook cell (a script is one cell)
        self.worker: WorkerProcess | None = None
        self.load_result: LoadResult | None = None
        self.protections: list[str] = []
        self.restarts = 0
        self.skipped: dict[int, CellFailure] = {}  #: notebook cells that hung or crashed a worker

    @property
    def notebook(self) -> bool:
        return self.cells[0].number is not None

    def _ensure(self) -> LoadResult:
        """A worker with the submission loaded. A notebook cell that hangs or kills the worker
        is skipped in a fresh one (up to MAX_SKIPPED_CELLS), as a student would interrupt it
        and run the rest; every later reload (after a call's timeout or crash) skips it too."""
        while True:
            result, failed_cell = self._load_once()
            if failed_cell is None or not self.notebook or failed_cell.number in self.skipped \
                    or len(self.skipped) >= MAX_SKIPPED_CELLS:
                break
            self.skipped[failed_cell.number] = failed_cell
        if self.load_result is None:
            if result.status == "loaded":
                result.cells = sorted([*self.skipped.values(), *result.cells], key=lambda c: c.number or 0)
            self.load_result = result
        return result

    def _load_once(self) -> tuple[LoadResult, CellFailure | None]:
        """One worker, loaded: the result, and the notebook cell it hung or died in, if any."""
        if self.worker is not None:
            return self.load_result, None
        wp = self.sandbox.start(self.assignment_file)
        self.worker = wp
        running = None  #: the notebook cell the worker said it started last
        try:
            # the source waits in the channel while the worker confines itself: it reads it only
            # after its "ready" (no round trip between the two)
            wp.channel.send({"op": "load", "skip": sorted(self.skipped),
                             "cells": [{"n": c.number, "source": c.source} for c in self.cells]},
                            timeout=START_TIMEOUT)
            # sent after confinement and before any student code runs: still the worker's own word
            ready, _ = wp.channel.recv(timeout=START_TIMEOUT, max_bytes=65536)
            worker_side = ready.get("protections") if ready.get("status") == "ready" else None
            if not isinstance(worker_side, list):
                raise TransportError("the worker did not report ready")
            self.protections = [*self.sandbox.grader_protections, *(_text(p, 64) for p in worker_side[:64])]
            wp.alone = "seccomp_no_processes" in self.protections
            deadline = time.monotonic() + LOAD_TIMEOUTS * self.load_timeout
            known = {c.number for c in self.cells}
            while True:
                wait = min(self.load_timeout, deadline - time.monotonic())
                if wait <= 0:
                    raise Timeout()
                reply, _ = wp.channel.recv(timeout=wait, max_bytes=1024 * 1024)
                if reply.get("status") != "cell":
                    break
                running = reply.get("n") if reply.get("n") in known else None
        except Timeout:
            self._drop()
            where = f"cell {running}" if running is not None else "the file"
            result = LoadResult("timeout", detail=f"running {where} took longer than {self.load_timeout:g} s")
            return result, CellFailure(running, "timeout", detail=f"did not finish within {self.load_timeout:g} s")
        except (Closed, TransportError, OSError) as exc:
            status = self._drop()
            result = LoadResult("crashed", detail=f"the worker died while loading the file ({status or exc})")
            return result, CellFailure(running, "crashed", detail=f"the worker process died ({status or exc})")
        status = reply.get("status")
        defined = reply.get("defined") if isinstance(reply.get("defined"), dict) else {}
        return LoadResult(
            status if status in ("loaded", "syntax_error", "load_error") else "crashed",
            defined={_text(k, 200): v for k, v in defined.items() if v in ("ok", "missing", "not_callable")},
            error=_error_dict(reply.get("error")), stdout=_text(reply.get("stdout", "")),
            cells=_cell_failures(reply.get("cells"), known),
        ), None

    def _drop(self, *, wait: bool = True) -> str:
        """Kill the worker, if any; its exit status ("killed" with ``wait=False``: see Sandbox.reap)."""
        status = self.worker.kill(wait=wait) if self.worker else ""
        self.worker = None
        return status

    def load(self) -> LoadResult:
        return self._ensure()

    def call(self, function: str, inputs: "dict | Request", returns: dict, timeout: float) -> CallResult:
        return next(self.calls(function, [inputs], returns, timeout))[1]

    def calls(self, function: str, inputs_list: "list[dict | Request]", returns: dict, timeout: float, *,
              window: int = PIPELINE_CALLS, window_bytes: int = PIPELINE_BYTES,
              max_crashes: int | None = None, batched: bool = False) -> Iterator[tuple[int, CallResult]]:
        """Call ``function`` once per inputs, pipelined: up to ``window`` calls (and
        ``window_bytes`` of inputs; a larger call goes alone) go to the worker in one frame, so
        neither the round trip nor the framing is paid per call; inputs the sandbox preloaded
        (:meth:`Sandbox.preload`) travel as their ref alone. The worker still answers call
        by call and each answer has its own deadline (``timeout`` from the moment the worker
        could start on it). Yields ``(index, result)`` in order. After a timeout the worker is
        killed and nothing more is yielded (the caller decides what the rest means); after a
        crash the remaining calls resume in a fresh worker, until ``max_crashes`` crashes,
        after which nothing more is yielded either.

        The worker reads a whole frame before it answers, and the next frame is sent only once
        every answer is in: neither side can block writing while the other does (no deadlock).

        ``batched``: the worker may hold a frame's answers back and write them together (at
        most ``worker.FLUSH_AFTER`` late): one wake-up per frame instead of per call, but a
        call's CPU time is then not its own, so it is not measured and parts with a time budget
        must not ask for it. A timeout or crash while answers may be held back is not blamed
        on the oldest pending call: the pending calls run again in a fresh worker answering
        call by call, which finds the call at fault.
        """
        requests = [r if isinstance(r, Request) else Request.of(r) for r in inputs_list]
        held = self.sandbox.preloaded  # inputs every worker of this sandbox already has
        sent_bytes = [0 if r.ref in held else r.arrays.nbytes for r in requests]  # what a frame carries
        pending: deque[tuple[int, int]] = deque()  # (index, seq)
        next_index, crashes = 0, 0
        while next_index < len(requests) or pending:
            load = self._ensure()
            if load.status != "loaded" or self.worker is None:
                for index in [i for i, _ in pending] + list(range(next_index, len(requests))):
                    yield index, CallResult("not_loaded", detail=load.status)
                return
            wp = self.worker
            try:
                if not pending:
                    batch, size = [next_index], sent_bytes[next_index]
                    while (next_index + len(batch) < len(requests) and len(batch) < window and
                           size + sent_bytes[next_index + len(batch)] <= window_bytes):
                        size += sent_bytes[next_index + len(batch)]
                        batch.append(next_index + len(batch))
                    calls, tail = [], []
                    for index in batch:
                        req = requests[index]
                        wp.seq += 1
                        if req.ref in held:
                            calls.append({"seq": wp.seq, "case": req.ref})
                        else:
                            calls.append({"seq": wp.seq, "scalars": req.scalars, "n": len(req.arrays.names)})
                            tail.append((f"{len(tail)}:", req.arrays))
                        pending.append((index, wp.seq))
                    frame = {"op": "calls", "function": function, "returns": returns, "calls": calls}
                    if batched:
                        frame["reply"] = "batched"
                    wp.channel.send(frame, Encoded.concat(tail), timeout=timeout)
                    wp.mark = (time.perf_counter(), None if batched else wp.cpu())
                    next_index = batch[-1] + 1
                index, seq = pending[0]
                started, cpu0 = wp.mark
                cap = max(REPLY_MIN_BYTES, REPLY_FACTOR * requests[index].arrays.nbytes)
                header, out = wp.channel.recv(timeout=max(0.0, timeout - (time.perf_counter() - started)),
                                              max_bytes=cap)
                if header.get("seq") != seq:
                    raise TransportError("a reply out of sequence (a frame not sent by the worker's call loop)")
            except (Timeout, Closed, TransportError, OSError) as exc:
                crashed = not isinstance(exc, Timeout)
                held_back = batched and len(pending) > 1  # answers may be held back in the worker
                if held_back and crashed:
                    crashes += 1  # a worker death counts towards max_crashes, whichever call caused it
                if held_back and (not crashed or max_crashes is None or crashes < max_crashes):
                    # run the pending calls again, one answer each: that finds the call at fault
                    next_index, batched = pending[0][0], False
                    pending.clear()
                    self._drop()
                    self.restarts += 1
                    continue
                index = pending[0][0] if pending else next_index
                started = wp.mark[0]
                status = self._drop()
                self.restarts += 1
                if not crashed:
                    yield index, CallResult("timeout", detail=f"no answer within {timeout:g} s",
                                            wall=time.perf_counter() - started)
                    return
                detail = status if isinstance(exc, (Closed, BrokenPipeError)) else f"{exc}; {status}"
                yield index, CallResult("crashed", detail=detail, wall=time.perf_counter() - started)
                crashes += 1
                if max_crashes is not None and crashes >= max_crashes:
                    return
                next_index = index + 1  # the rest were lost with the worker: send them again
                pending.clear()
                continue
            pending.popleft()
            now, cpu1 = time.perf_counter(), None if batched else wp.cpu()
            wp.mark = (now, cpu1)  # the worker starts on the next call as it answers this one
            cpu = max(0.0, cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else 0.0
            yield index, _call_result(header, out, now - started, cpu, inputs=requests[index].arrays.names)

    def close(self) -> None:
        """Done with the submission: kill its worker without waiting for the zygote to
        finish reaping it (the grader builds the report meanwhile); with ``prefork``, the
        zygote then forks the next submission's worker."""
        self._drop(wait=False)
        self.sandbox.fork_spare(self.assignment_file)

    def __enter__(self) -> "Submission":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(value, cap: int = TEXT_CAP) -> str:
    """Untrusted text made safe to show: a str, capped, valid UTF-8, without terminal escapes
    or control characters (newlines and tabs kept)."""
    if not isinstance(value, str):
        return ""
    if len(value) > cap:
        value = value[:cap] + f"\n... [{len(value) - cap} more characters not shown]"
    if value.isascii() and value.isprintable():  # the common case: nothing to strip (fast)
        return value
    value = value.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", value)


def _error_dict(err) -> dict | None:
    if not isinstance(err, dict):
        return None
    out = {"type": _text(err.get("type"), 100), "message": _text(err.get("message"), 4000),
           "traceback": _text(err.get("traceback"), 4000)}
    for key in ("module", "line", "where"):  # a failed import: the module and the student's line
        if key in err:
            out[key] = _text(err.get(key), 500)
    return out


def _cell_failures(cells, known: set) -> list[CellFailure]:
    """The worker's list of cells that raised, validated (cells it was not sent are dropped)."""
    if not isinstance(cells, list):
        return []
    return [CellFailure(c["n"], c["status"], _error_dict(c.get("error")))
            for c in cells[:len(known)] if isinstance(c, dict) and c.get("n") in known
            and c.get("status") in ("error", "syntax_error")]


def _type_facts(types, names: set[str]) -> dict:
    """Only well-formed facts about declared outputs: {"type": str, "dtype": str, "shape": [int]}."""
    clean = {}
    if not isinstance(types, dict):
        return clean
    for name, info in types.items():
        if name not in names or not isinstance(info, dict):
            continue
        fact = {"type": _text(info.get("type"), 200)}
        if isinstance(info.get("dtype"), str):
            fact["dtype"] = _text(info["dtype"], 100)
        shape = info.get("shape")
        if isinstance(shape, list) and len(shape) <= 32 and all(type(d) is int and d >= 0 for d in shape):
            fact["shape"] = list(shape)
        clean[name] = fact
    return clean


_PLAIN_REPLY = {"status", "seq", "types", "arrays"}


def _call_result(header: dict, out: dict[str, np.ndarray], wall: float, cpu: float,
                 inputs: tuple[str, ...] = ()) -> CallResult:
    """A CallResult from an untrusted reply: every field type-checked, capped and sanitised."""

    def as_dict(x):
        return x if isinstance(x, dict) else {}

    def as_list(x, allowed=None):
        items = [v for v in x if isinstance(v, str)] if isinstance(x, list) else []
        return [v for v in items if allowed is None or v in allowed][:64]

    status = header.get("status")
    if status not in ("ok", "error", "memory_limit"):
        status = "crashed"
    outputs = {k[4:]: v for k, v in out.items()
               if k.startswith("out.") and type(v) is np.ndarray and v.dtype == np.float64}
    # an output without facts was a plain float64 ndarray (the worker sends facts only otherwise)
    types = {name: {"type": NDARRAY, "dtype": "float64", "shape": list(v.shape)} for name, v in outputs.items()}
    told = header.get("types")
    if told:
        types.update(_type_facts(told, set(outputs) | {k for k in as_dict(told) if isinstance(k, str)}))
    if status == "ok" and header.keys() <= _PLAIN_REPLY:  # the usual reply: nothing else to read
        return CallResult(status=status, outputs=outputs, types=types, wall=wall, cpu=cpu)
    return CallResult(
        status=status, outputs=outputs, types=types,
        problems={_text(k, 200): _text(v, 1000) for k, v in as_dict(header.get("problems")).items()
                  if isinstance(k, str)},
        warnings=as_list(header.get("warnings"), {"divide", "overflow", "underflow", "invalid"}),
        mutated=as_list(header.get("mutated"), inputs),
        stdout=_text(header.get("stdout", "")), error=_error_dict(header.get("error")),
        wall=wall, cpu=cpu,
    )


def _cpu_seconds(pid: int, uid: int | None = None) -> float | None:
    """CPU seconds of a worker, read by the grader (the worker's own clock is not trusted):
    its process CPU clock (all threads, ns) + reaped children (/proc stat cutime+cstime) +
    with ``uid``, every other live or zombie process of that uid (workers allowed to fork)."""
    own = _process_clock(pid)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        if own is None:
            own = (int(fields[11]) + int(fields[12])) / tick
        total = own + (int(fields[13]) + int(fields[14])) / tick
    except (OSError, IndexError, ValueError):
        return own
    if uid is not None:
        total += _uid_cpu(uid, exclude=pid)
    return total


def _process_clock(pid: int) -> float | None:
    """The CPU seconds of all threads of process ``pid`` (its CPUCLOCK_SCHED clock), or None."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2) / 1e9
    except (OSError, AttributeError, OverflowError):
        return None


def _uid_cpu(uid: int, exclude: int) -> float:
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == exclude:
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


UID_RANGE = range(61000, 62000)
UID_LOCKS = Path(tempfile.gettempdir()) / "bpgrade-uids"


def _claim_uid() -> tuple[int, int]:
    """A sandbox uid no other live sandbox on this machine uses. Reaping kills every process of
    the uid, so two sandboxes sharing one would kill each other's workers. Each claim is an
    exclusive flock held for the sandbox's lifetime (released by the kernel if we die)."""
    import fcntl

    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in UID_RANGE:
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"all sandbox uids {UID_RANGE.start}-{UID_RANGE.stop - 1} are in use")


def _clean_env() -> dict:
    """The environment for the zygote / spawned worker: nothing from ours but what imports need,
    and where matplotlib keeps its font cache (built by the first zygote, read by the next)."""
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8", **PLOT_ENV,
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cache = _plot_cache()
    if cache:
        env["MPLCONFIGDIR"] = cache
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
