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

Forked grader processes give each slot its own interpreter, so judging (pure Python) runs on
all cores instead of queueing on one GIL. Elsewhere (no ``fork``, the spawn fallback, or a pool
built off the main thread, e.g. inside Dask's executor) the slots are threads of this process.
A slot whose sandbox fails is given a new one and the submission retried once; a grader
process that dies costs its current submission (a ``grader_error`` record) and nothing else.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from . import project
from .gradebook import DONE, GRADER_ERROR
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
        from .grade import Grader
        from .sandbox.policy import Limits

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
    from .sandbox.host import Sandbox

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
        from .oracle import OracleDisagreement
        from .report import to_json

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
        from .sandbox.host import Sandbox

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


class ForkedSlot:
    """A LocalSlot run in a grader process forked from the pool owner. Requests and records
    travel as length-prefixed JSON over a socketpair (both sides are trusted; no pickle
    anyway)."""

    def __init__(self, local: LocalSlot, *, others: list["ForkedSlot"], boxes: list):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the grader process
            code = 0
            try:
                ours.close()
                _forked_grader(local, theirs, others, boxes)
            except BaseException:  # noqa: BLE001 - never return into the parent's code
                code = 70
            finally:
                os._exit(code)
        theirs.close()
        local.box.hand_over()  # its zygote then sees the grader process end, however it ends
        self.pid, self.sock, self.local, self.dead = pid, ours, local, False
        self._failure: BaseException | None = None
        self._outstanding = 0  #: handed over, verdict not yet collected

    def submit(self, path: Path, student: str = "") -> None:
        """Hand the grader process a submission; it grades them in the order handed over."""
        self._outstanding += 1
        try:
            _send(self.sock, {"path": str(path), "student": student})
        except OSError as exc:  # it died: collect() reports it
            self._failure = self._failure or exc

    def drain(self) -> None:
        """Wait out the verdicts handed over and not collected (a caller that stops early
        must not leave them for the slot's next borrower), discarding them."""
        from .oracle import OracleDisagreement

        while self._outstanding and not self.dead:
            try:
                self.collect()
            except OracleDisagreement:
                pass

    def collect(self) -> dict:
        """The verdict on the oldest submission handed over and not yet collected."""
        from .oracle import OracleDisagreement

        self._outstanding -= 1
        try:
            if self._failure is not None:
                raise self._failure
            reply = _recv(self.sock)
        except (OSError, EOFError, ValueError) as exc:
            self.dead = True
            status = self._wait()
            return grader_error(self.local.version, self.local.grader.spec.max_score,
                                f"the grader process died ({status or exc})")
        if "fatal" in reply:
            raise OracleDisagreement(reply["fatal"])
        return reply["record"]

    def grade(self, path: Path, student: str = "") -> dict:
        self.submit(path, student)
        return self.collect()

    def close(self) -> None:
        try:
            self.sock.close()  # EOF: the grader process closes its own sandboxes and exits
        except OSError:
            pass
        self._wait(timeout=30)

    def _wait(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return ""
            if pid:
                from .sandbox.protocol import describe_exit

                return describe_exit(os.waitstatus_to_exitcode(status), who="grader process")
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = math.inf
            time.sleep(0.01)


def _forked_grader(local: LocalSlot, sock: socket.socket, others: list[ForkedSlot], boxes: list) -> None:
    from .sandbox.libc import PR_SET_PDEATHSIG, libc
    from .oracle import OracleDisagreement

    if sys.platform.startswith("linux"):
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pool owner's to handle
    for other in others:  # the grader processes forked before us: their sockets are not ours
        other.sock.close()
    for box in boxes:  # nor is any other sandbox (each zygote must see its own grader end)
        if box is not local.box:
            box.forget()
    _single_threaded_torch()
    try:
        while True:
            try:
                request = _recv(sock)
            except (EOFError, OSError):
                return
            try:
                _send(sock, {"record": local.grade(Path(request["path"]), request.get("student", ""))})
            except OracleDisagreement as exc:
                _send(sock, {"fatal": str(exc)})
    finally:
        local.close()


def _single_threaded_torch() -> None:
    """The oracles' torch may have started its thread pool in the parent; a forked child has
    none of those threads, so it must not enter a parallel region: one thread, run inline."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


_LEN = struct.Struct("<Q")


def _send(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj, allow_nan=False).encode()
    sock.sendall(_LEN.pack(len(data)) + data)


def _recv(sock: socket.socket) -> dict:
    (size,) = _LEN.unpack(_read_exact(sock, _LEN.size))
    return json.loads(_read_exact(sock, size))


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the socket")
        buf += chunk
    return bytes(buf)


# ------------------------------------------------------------------ records

def verdict_record(*, report_json: dict, seconds: float, version: str, restarts: int = 0) -> dict:
    codes: list[str] = []
    for p in report_json["parts"]:
        for c in p.get("diagnoses", []):
            if c not in codes:
                codes.append(c)
    return _finite({
        "status": DONE, "grader_version": version, "score": report_json["score"],
        "max_score": report_json["max_score"],
        "parts": {p["name"]: p["score"] for p in report_json["parts"]},
        "diagnoses": codes, "seconds": round(seconds, 4), "retries": restarts,
        "report": report_json,
    })


def grader_error(version: str, max_score: float, error: str) -> dict:
    return {"status": GRADER_ERROR, "grader_version": version, "error": error,
            "score": 0.0, "max_score": float(max_score), "parts": {},
            "diagnoses": [GRADER_ERROR], "seconds": 0.0}


def _finite(obj):
    """JSON-safe: non-finite floats become None (the log is written with allow_nan=False).
    Usually ``obj`` is already plain and finite, which one strict encoding proves; otherwise a
    round trip through the C encoder/decoder: NaN and Infinity come back through
    ``parse_constant``, numpy scalars through ``default``."""
    try:
        json.dumps(obj, allow_nan=False)
        return obj
    except (ValueError, TypeError):
        pass
    text = json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    return json.loads(text, parse_constant=lambda _name: None)


# ------------------------------------------------------------------ grader version

#: engine modules whose content is part of the grader version (a change regrades everything),
#: with every module of these packages
_ENGINE_FILES = ("cases.py", "compare.py", "diagnose.py", "grade.py", "load.py", "oracle.py", "report.py",
                 "score.py", "spec.py")
_ENGINE_PACKAGES = ("sandbox",)


def grader_version(assignment: str, *, seed: int | None = None, shared: bool = False,
                   base: Path | None = None) -> str:
    """``<package version>+<fingerprint>``. The fingerprint hashes the engine, the assignment,
    its oracle and hidden reference, the assignment's hidden key and the case mode (fresh,
    shared, a seed) together, so changing any of them regrades; the key itself is never written
    anywhere (a 256-bit key behind sha256 cannot be recovered from the fingerprint)."""
    import hashlib

    from . import __version__

    spec = project.load_assignment(assignment, base)
    h = hashlib.sha256(b"bpgrade-batch-v1\0")
    engine = Path(__file__).resolve().parent
    for name in (*_ENGINE_FILES, *sorted(p.relative_to(engine).as_posix() for package in _ENGINE_PACKAGES
                                          for p in (engine / package).rglob("*.py"))):
        path = engine / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    for path in sorted(spec.folder.glob("*.py")) + [project.solution_path(assignment, base)]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    mode = "fresh" if seed is None and not shared else f"shared:{'' if seed is None else int(seed)}"
    h.update(project.assignment_key(assignment, base) + b"\0" + mode.encode())
    return f"{__version__}+{h.hexdigest()[:16]}"
