"""One submission in a worker: load it, then call its functions, pipelined, each call with
its own wall-clock deadline. A call that hangs or crashes costs its worker: the grader kills it
and resumes the remaining calls in a fresh one, reloading the source."""
from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ...load import split_cells
from ..channel import Channel, Closed, Timeout
from ..protocol import flatten_inputs, pack_arrays
from ..wire import Encoded, TransportError
from .cputime import cpu_seconds, process_clock
from .replies import CallResult, CellFailure, LoadResult, call_result, load_result, ready_protections

if TYPE_CHECKING:
    from .sandbox import Sandbox

#: Smallest reply-frame cap; replies may also be up to REPLY_FACTOR x the inputs' bytes.
REPLY_MIN_BYTES = 8 * 1024 * 1024
REPLY_FACTOR = 8

START_TIMEOUT = 30.0
PIPELINE_CALLS = 16  #: calls sent to a worker in one frame (a part's cases, usually)
PIPELINE_BYTES = 96 * 1024  #: their total input bytes (a larger call goes alone)

MAX_SKIPPED_CELLS = 3  #: notebook cells that hung or crashed a worker, skipped in the next one
LOAD_TIMEOUTS = 6  #: a whole load may take this many per-cell time limits


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


class WorkerProcess:
    """A started worker as the grader holds it: its pid, its channel, its work dir."""

    def __init__(self, sandbox: "Sandbox", pid: int, proc, channel: Channel, workdir: Path, assignment_file: str = ""):
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
            return process_clock(self.pid)
        return cpu_seconds(self.pid, self.sandbox.uid if self.sandbox.confinement.processes else None)


class Submission:
    """A submission's source loaded in a worker. Calls go through :meth:`call`, one at a time;
    after a timeout or crash the next call transparently reloads the source in a fresh worker."""

    def __init__(self, sandbox: "Sandbox", source: str, assignment_file: str, *, load_timeout: float = 10.0):
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
            worker_side = ready_protections(ready)
            if worker_side is None:
                raise TransportError("the worker did not report ready")
            self.protections = [*self.sandbox.grader_protections, *worker_side]
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
        return load_result(reply, known), None

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

        One generator: sending, receiving and restarting share the live worker, and each result
        is yielded as it arrives; what to resend after a failure is :class:`_Pipeline`'s.
        """
        requests = [r if isinstance(r, Request) else Request.of(r) for r in inputs_list]
        run = _Pipeline(requests, self.sandbox.preloaded, batched)
        while not run.done:
            load = self._ensure()
            if load.status != "loaded" or self.worker is None:
                for index in run.unanswered():
                    yield index, CallResult("not_loaded", detail=load.status)
                return
            wp = self.worker
            try:
                if not run.pending:
                    frame, tail = run.next_frame(wp, function, returns, window, window_bytes)
                    wp.channel.send(frame, tail, timeout=timeout)
                    wp.mark = (time.perf_counter(), None if run.batched else wp.cpu())
                index, seq = run.pending[0]
                started, cpu0 = wp.mark
                cap = max(REPLY_MIN_BYTES, REPLY_FACTOR * requests[index].arrays.nbytes)
                header, out = wp.channel.recv(timeout=max(0.0, timeout - (time.perf_counter() - started)),
                                              max_bytes=cap)
                if header.get("seq") != seq:
                    raise TransportError("a reply out of sequence (a frame not sent by the worker's call loop)")
            except (Timeout, Closed, TransportError, OSError) as exc:
                crashed = not isinstance(exc, Timeout)
                replay = run.replay(crashed, max_crashes)
                index, started = run.at_fault(), wp.mark[0]
                status = self._drop()
                self.restarts += 1
                if replay:
                    continue
                if not crashed:
                    yield index, CallResult("timeout", detail=f"no answer within {timeout:g} s",
                                            wall=time.perf_counter() - started)
                    return
                detail = status if isinstance(exc, (Closed, BrokenPipeError)) else f"{exc}; {status}"
                yield index, CallResult("crashed", detail=detail, wall=time.perf_counter() - started)
                if not run.resume_after_crash(index, max_crashes):
                    return
                continue
            run.pending.popleft()
            now, cpu1 = time.perf_counter(), None if run.batched else wp.cpu()
            wp.mark = (now, cpu1)  # the worker starts on the next call as it answers this one
            cpu = max(0.0, cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else 0.0
            yield index, call_result(header, out, now - started, cpu, inputs=requests[index].arrays.names)

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


@dataclass
class _Pipeline:
    """Where one :meth:`Submission.calls` stands: which calls were sent and are unanswered
    (``pending``, oldest first, with the sequence number each answer must carry), which one
    goes next, and how many crashes there were so far."""
    requests: list[Request]
    held: set[str]  #: refs of the inputs every worker of the sandbox already has
    batched: bool
    pending: deque = field(default_factory=deque)  #: (index, seq) sent, not answered yet
    next_index: int = 0
    crashes: int = 0
    sent_bytes: list[int] = field(init=False)  #: what each call adds to a frame (a held ref: nothing)

    def __post_init__(self):
        self.sent_bytes = [0 if r.ref in self.held else r.arrays.nbytes for r in self.requests]

    @property
    def done(self) -> bool:
        return self.next_index >= len(self.requests) and not self.pending

    def unanswered(self) -> list[int]:
        return [i for i, _ in self.pending] + list(range(self.next_index, len(self.requests)))

    def next_frame(self, wp: WorkerProcess, function: str, returns: dict, window: int,
                   window_bytes: int) -> tuple[dict, Encoded]:
        """The next ``calls`` frame: up to ``window`` calls and ``window_bytes`` of inputs (at
        least one call). Its calls become pending."""
        sent_bytes, first = self.sent_bytes, self.next_index
        batch, size = [first], sent_bytes[first]
        while (first + len(batch) < len(self.requests) and len(batch) < window and
               size + sent_bytes[first + len(batch)] <= window_bytes):
            size += sent_bytes[first + len(batch)]
            batch.append(first + len(batch))
        calls, tail = [], []
        for index in batch:
            req = self.requests[index]
            wp.seq += 1
            if req.ref in self.held:
                calls.append({"seq": wp.seq, "case": req.ref})
            else:
                calls.append({"seq": wp.seq, "scalars": req.scalars, "n": len(req.arrays.names)})
                tail.append(req.arrays)
            self.pending.append((index, wp.seq))
        frame = {"op": "calls", "function": function, "returns": returns, "calls": calls}
        if self.batched:
            frame["reply"] = "batched"
        self.next_index = batch[-1] + 1
        return frame, pack_arrays(tail)

    def replay(self, crashed: bool, max_crashes: int | None) -> bool:
        """After a timeout or crash while answers may be held back in the worker (batched,
        several pending): whether to run the pending calls again, one answer each, which finds
        the call at fault. A worker's death counts towards ``max_crashes`` either way."""
        if not (self.batched and len(self.pending) > 1):
            return False
        if crashed:
            self.crashes += 1
            if max_crashes is not None and self.crashes >= max_crashes:
                return False
        self.next_index, self.batched = self.pending[0][0], False
        self.pending.clear()
        return True

    def at_fault(self) -> int:
        """The call a timeout or crash is blamed on: the oldest unanswered one."""
        return self.pending[0][0] if self.pending else self.next_index

    def resume_after_crash(self, index: int, max_crashes: int | None) -> bool:
        """Count a crash blamed on ``index``; the calls after it go again to a fresh worker
        (they were lost with this one) unless ``max_crashes`` is reached (False)."""
        self.crashes += 1
        if max_crashes is not None and self.crashes >= max_crashes:
            return False
        self.next_index = index + 1
        self.pending.clear()
        return True
