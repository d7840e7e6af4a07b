"""A pool of sandboxes sharing one prepared Grader: the engine of ``bpgrade batch``.

Layout (Linux, the default)::

    pool owner (this process: the batch runner, a Dask worker...)
      ├─ N zygotes, started first (fresh interpreters: no torch, no reference, no hidden case)
      ├─ one Grader, prepared once: torch and the reference warm; with shared cases (``shared``
      │        or a ``seed``) every hidden case and its oracle outputs too
      └─ N grader processes, forked after that (so that work is done once and shared): each
           owns one sandbox, grades one submission at a time (with fresh cases, computing that
           submission's cases and oracle outputs first) and returns a plain JSON record over
           its socket

Forked grader processes (:mod:`.forked`) give each slot its own interpreter. Elsewhere (no ``fork``, the spawn fallback, or a pool
built off the main thread, e.g. inside Dask's executor) the slots are threads of this process.
A slot whose sandbox fails is given a new one and the submission retried once.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from .forked import ForkedSlot
from .gradebook import grader_error, grader_version, verdict_record

PREFETCH = 2  #: submissions handed to a grader process at once (it never waits for the next)


class PoolError(Exception):
    """Every grader process of the pool has died."""


class Pool:
    """N sandboxes and one prepared Grader. ``grade(path)`` may be called from many threads;
    each call borrows a free slot for the whole submission. ``processes``: grade in forked
    grader processes (default where possible, see the module docstring) or in threads."""

    def __init__(self, assignment: str, *, workers: int | None = None, seed: int | None = None,
                 shared: bool = False, base: Path | None = None, limits=None, version: str | None = None,
                 processes: bool | None = None, submission_timeout: float | None = None):
        from ..grade import Grader
        from ..sandbox.policy import Limits

        self.assignment, self.seed, self.shared, self.base = assignment, seed, shared, base
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self.slots: list = []
        self._closed = False
        # sandboxes first: each starts a fresh zygote interpreter before torch or the reference loads
        self.sandboxes = start_sandboxes(self.workers, self.limits)
        try:
            t0 = time.perf_counter()
            self.grader = Grader(assignment, mode="grade", seed=seed, shared=shared, base=base,
                                 figures_dir=None).prepare()
            if submission_timeout is not None:  # before the grader processes fork: they inherit it
                self.grader.submission_timeout = submission_timeout
            self.prepare_seconds = time.perf_counter() - t0
            self.version = version or grader_version(assignment, seed=seed, shared=shared, base=base)
            self.spec = self.grader.spec
            self.processes = can_fork_graders(self.sandboxes) if processes is None else processes
            for box in self.sandboxes:
                slot = LocalSlot(self.grader, box, self.limits, self.version)
                self.slots.append(ForkedSlot(slot, others=self.slots, boxes=self.sandboxes) if self.processes else slot)
        except BaseException:  # no hidden secret, oracles disagree...: stop the zygotes too
            self.close()
            raise
        self._free: queue.Queue = queue.Queue()
        for slot in self.slots:
            self._free.put(slot)
        self._alive = len(self.slots)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _borrow(self):
        """A free slot for as long as the block runs (callers on many threads share the
        slots: a Dask worker runs several chunks at once); a slot that died is not returned,
        and when the last one dies every waiting borrower gets PoolError."""
        slot = self._free.get()
        if slot is None:  # the wake-up left by the last slot to die
            self._free.put(None)
            raise PoolError("every grader process of the pool has died")
        try:
            yield slot
        finally:
            if not slot.dead:
                self._free.put(slot)
            else:
                with self._lock:
                    self._alive -= 1
                    if self._alive == 0:
                        self._free.put(None)

    def grade(self, path: Path, student: str = "") -> dict:
        """The verdict part of a record for the submission at ``path`` (``student`` keys its
        fresh hidden cases). Never raises for a submission's behaviour; raises
        OracleDisagreement (a grader bug: stop everything)."""
        with self._borrow() as slot:
            return slot.grade(path, student)

    def grade_all(self, items: list, on_record: Callable[[Any, dict], None], *,
                  path: Callable[[Any], Path] = lambda item: item.path,
                  student: Callable[[Any], str] = lambda item: getattr(item, "student_key", ""),
                  ahead: int = PREFETCH) -> None:
        """Grade every item, calling ``on_record(item, verdict)`` as each is done (from one
        thread per slot borrowed). Each slot has up to ``ahead`` submissions handed over, so
        its grader process starts the next one while ours files the last verdict. A slot whose
        grader process dies hands the submissions still queued in it to the others.
        Raises OracleDisagreement (a grader bug), the first error of ``on_record``, or
        PoolError when every grader process has died with submissions left."""
        work: queue.Queue = queue.Queue()
        for item in items:
            work.put(item)
        errors: list[BaseException] = []
        stop = threading.Event()

        def run() -> None:
            try:
                with self._borrow() as slot:
                    handed: deque = deque()
                    try:
                        while not stop.is_set():
                            while len(handed) < ahead and not slot.dead:
                                try:
                                    item = work.get_nowait()
                                except queue.Empty:
                                    break
                                handed.append(item)
                                slot.submit(path(item), student(item))
                            if not handed:
                                return
                            item = handed.popleft()
                            on_record(item, slot.collect())
                            if slot.dead:
                                return
                    finally:  # never graded here: another slot (or the next round) takes them
                        slot.drain()  # their verdicts must not reach the slot's next borrower
                        for item in handed:
                            work.put(item)
            except PoolError:
                if not work.empty():  # else the last slot died with nothing left to grade
                    errors.append(PoolError("every grader process of the pool has died"))
                    stop.set()
            except BaseException as exc:  # noqa: BLE001 - oracle disagreement, disk full: stop all
                errors.append(exc)
                stop.set()

        while not work.empty() and not stop.is_set():  # another round only after a slot died
            threads = [threading.Thread(target=run, name=f"bpgrade-slot-{i}", daemon=True)
                       for i in range(len(self.slots))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot in self.slots:
            slot.close()
        for box in self.sandboxes:
            try:
                box.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_sandboxes(n: int, limits) -> list:
    """N sandboxes, started from the calling thread (their zygotes start in parallel). Each
    pre-forks the next submission's worker (see :class:`autograder.sandbox.host.Sandbox`)."""
    from ..sandbox.host import Sandbox

    boxes = []
    try:
        for _ in range(n):
            boxes.append(Sandbox(limits=limits, wait=False, prefork=True))
        for box in boxes:
            box.wait_ready()
    except BaseException:
        for box in boxes:
            box.close()
        raise
    return boxes


def can_fork_graders(sandboxes) -> bool:
    """Forked grader processes need ``fork``, zygote sandboxes, and the main thread (the child
    asks to die with its parent, and Linux ties that to the thread that forked it)."""
    return (hasattr(os, "fork") and all(box.mode == "fork" for box in sandboxes)
            and threading.current_thread() is threading.main_thread())


# ------------------------------------------------------------------ slots

class LocalSlot:
    """Grades in the calling process with one sandbox; a sandbox that fails is replaced and
    the submission retried once."""

    def __init__(self, grader, box, limits, version: str):
        self.grader, self.box, self.limits, self.version = grader, box, limits, version
        self.replaced: list = []  #: sandboxes this slot started itself (it closes them)
        self.dead = False
        self._handed: deque = deque()  #: submitted, not yet collected

    def submit(self, path: Path, student: str = "") -> None:
        self._handed.append((path, student))

    def collect(self) -> dict:
        return self.grade(*self._handed.popleft())

    def drain(self) -> None:
        """Forget what was handed over and not collected."""
        self._handed.clear()

    def grade(self, path: Path, student: str = "") -> dict:
        from ..oracle import OracleDisagreement
        from ..report import to_json

        error = ""
        for attempt in range(2):
            t0 = time.perf_counter()
            try:
                report = self.grader.grade_path(path, self.box, student=student)
            except OracleDisagreement:
                raise
            except Exception as exc:  # noqa: BLE001 - a grader-side failure; replace the sandbox
                error = f"{type(exc).__name__}: {exc}"
                self._replace_box()
                continue
            return verdict_record(report_json=to_json(report, compact=True), seconds=time.perf_counter() - t0,
                                  version=self.version, restarts=attempt)
        return grader_error(self.version, self.grader.spec.max_score, error)

    def _replace_box(self) -> None:
        from ..sandbox.host import Sandbox

        try:
            self.box.close()
        except Exception:  # noqa: BLE001 - it is being thrown away
            pass
        self.box = Sandbox(limits=self.limits, prefork=True)
        self.replaced.append(self.box)

    def close(self) -> None:
        try:  # the worker pre-forked for a next submission (this copy of the sandbox asked for it)
            self.box.drop_spare()
        except Exception:  # noqa: BLE001
            pass
        for box in self.replaced:
            try:
                box.close()
            except Exception:  # noqa: BLE001
                pass
