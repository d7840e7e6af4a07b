"""Instructor batch grading: every core busy, crash-safe, resumable, exactly once.

Layout of one run::

    grader process (one)
      ├─ Pool: N sandboxes (one zygote each, started before torch or the reference is loaded)
      │        + one prepared Grader (cases and oracle outputs computed once, shared)
      ├─ N threads, each owning one sandbox: take a submission, grade it, hand back a record
      └─ the results log (one writer, fsync per record); gradebook, feedback files and the
         class report are rebuilt from the log at the end (atomically)

Student CPU work happens in the sandboxes' workers, so the threads run in parallel; a
submission that crashes, hangs, floods output or exhausts memory is contained by its worker
and costs only its own result. With ``executor="tcp://host:port"`` the submissions go in chunks
to a Dask cluster instead; each Dask worker process builds the same Pool once and returns plain
JSON records, and this process still writes the log.

``run_batch`` is the API behind ``bpgrade batch``.
"""
from __future__ import annotations

import atexit
import hashlib
import io
import json
import math
import os
import queue
import socket
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, classreport, gradebook, project
from .gradebook import DONE, LOG_NAME, ResultsLog, current_records, is_failure
from .submissions import Item, discover

#: engine modules whose content is part of the grader version (a change regrades everything)
_ENGINE_FILES = ("cases.py", "compare.py", "diagnose.py", "grade.py", "isolation.py", "load.py", "oracle.py",
                 "report.py", "run.py", "score.py", "spec.py", "transport.py", "worker.py", "zygote.py")
GRADER_ERROR = "grader_error"


class BatchError(Exception):
    """The batch cannot start or continue (usage, locked log, mismatched cluster)."""


# ------------------------------------------------------------------ grader version

def grader_version(assignment: str, *, seed: int | None = None, base: Path | None = None) -> str:
    """``<package version>+<fingerprint>``. The fingerprint hashes the engine, the assignment,
    its oracle and hidden reference, and the seeds together, so changing any of them regrades;
    the seed itself is never written anywhere (recovering it needs the hidden reference)."""
    spec = project.load_assignment(assignment, base)
    h = hashlib.sha256(b"bpgrade-batch-v1\0")
    engine = Path(__file__).resolve().parent
    for name in _ENGINE_FILES:
        path = engine / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    for path in sorted(spec.folder.glob("*.py")) + [project.solution_path(assignment, base)]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    seeds = (project.hidden_seed(assignment, base),) + (() if seed is None else (int(seed),))
    h.update(repr(seeds).encode())
    return f"{__version__}+{h.hexdigest()[:16]}"


# ------------------------------------------------------------------ the sandbox pool

class Pool:
    """N sandboxes and one prepared Grader. ``grade(path)`` may be called from many threads;
    each call borrows a free sandbox for the whole submission."""

    def __init__(self, assignment: str, *, workers: int | None = None, seed: int | None = None,
                 base: Path | None = None, limits=None, version: str | None = None):
        from .isolation import Limits
        from .run import Sandbox

        self.assignment, self.seed, self.base = assignment, seed, base
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self._make_sandbox = lambda: Sandbox(limits=self.limits)
        # sandboxes first: each starts a fresh zygote interpreter before torch or the reference loads
        with ThreadPoolExecutor(self.workers) as ex:
            self.sandboxes = list(ex.map(lambda _: self._make_sandbox(), range(self.workers)))
        self._free: queue.Queue = queue.Queue()
        for box in self.sandboxes:
            self._free.put(box)
        from .grade import Grader

        t0 = time.perf_counter()
        self.grader = Grader(assignment, mode="grade", seed=seed, base=base, figures_dir=None).prepare()
        self.prepare_seconds = time.perf_counter() - t0
        self.version = version or grader_version(assignment, seed=seed, base=base)
        self.spec = self.grader.spec
        self._closed = False

    def grade(self, path: Path) -> dict:
        """The verdict part of a record for the submission at ``path`` (never raises for a
        submission's behaviour; a broken sandbox is replaced and the submission retried once)."""
        from .oracle import OracleDisagreement
        from .report import to_json

        box = self._free.get()
        try:
            error = ""
            for attempt in range(2):
                t0 = time.perf_counter()
                try:
                    report = self.grader.grade_path(path, box)
                except OracleDisagreement:
                    raise
                except Exception as exc:  # noqa: BLE001 - a grader-side failure; replace the sandbox
                    error = f"{type(exc).__name__}: {exc}"
                    box = self._replace(box)
                    continue
                return verdict_record(report_json=to_json(report), seconds=time.perf_counter() - t0,
                                      version=self.version, restarts=attempt)
            return {"status": GRADER_ERROR, "grader_version": self.version, "error": error,
                    "score": 0.0, "max_score": float(self.spec.max_score), "parts": {},
                    "diagnoses": [GRADER_ERROR], "seconds": 0.0}
        finally:
            self._free.put(box)

    def _replace(self, box):
        try:
            box.close()
        except Exception:  # noqa: BLE001 - it is being thrown away
            pass
        fresh = self._make_sandbox()
        self.sandboxes = [fresh if b is box else b for b in self.sandboxes]
        return fresh

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for box in self.sandboxes:
            try:
                box.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


def _finite(obj):
    """JSON-safe copy: non-finite floats become None (the log is written with allow_nan=False)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _finite(obj.item())
    return obj


# ------------------------------------------------------------------ the run

@dataclass
class BatchSummary:
    out: Path
    total: int
    graded: int  #: graded in this run
    skipped: int  #: already in the log (resume)
    failures: int  #: submissions that crashed, hung, ran out of memory or did not load
    grader_errors: int
    seconds: float
    rate: float  #: submissions per second in this run (grading only, after start-up)
    startup_seconds: float
    layout: str
    gradebook: Path
    report: Path
    missing: list[str] = field(default_factory=list)
    repaired_bytes: int = 0

    def lines(self) -> list[str]:
        out = [
            f"{self.total} submissions ({self.layout}): graded {self.graded}, already done {self.skipped}, "
            f"failures {self.failures}" + (f", grader errors {self.grader_errors}" if self.grader_errors else ""),
            f"grading {self.seconds:.1f} s ({self.rate:.1f} submissions/s) after {self.startup_seconds:.1f} s start-up",
            f"gradebook: {self.gradebook}",
            f"class report: {self.report}",
        ]
        if self.repaired_bytes:
            out.append(f"repaired a torn last record ({self.repaired_bytes} bytes) in the results log")
        if self.missing:
            out.append(f"NOT graded ({len(self.missing)}): {', '.join(self.missing[:10])}"
                       + (" ..." if len(self.missing) > 10 else ""))
        return out


def run_batch(assignment: str, submissions: str | Path, *, out: str | Path, workers: int | None = None,
              seed: int | None = None, resume: bool = False, executor: str | None = None,
              progress: bool = True, chunk_size: int = 8, base: Path | None = None, limits=None,
              pool: Pool | None = None, limit: int | None = None) -> BatchSummary:
    """Grade every submission under ``submissions`` into ``out`` (see the module docstring).

    ``resume=True`` continues a previous run into the same ``out``: submissions whose (id,
    content hash, grader version) is already in the log are skipped. ``limit`` stops after that
    many submissions were graded in this run (for tests and dry runs). ``pool`` lends an
    already-started Pool (tests, benchmarks); it is not closed here.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    log = ResultsLog(out / LOG_NAME)  # first: refuses a second runner before any slow work
    own_pool = None
    try:
        if log.records and not resume:
            raise BatchError(f"{out / LOG_NAME} already has {len(log.records)} records: pass --resume to "
                             f"continue it, or choose an empty --out folder")
        found = discover(submissions, scratch=out / "_inputs")
        if not found.items:
            raise BatchError(f"no submissions found in {submissions}")
        version = pool.version if pool is not None else grader_version(assignment, seed=seed, base=base)
        spec = pool.spec if pool is not None else project.load_assignment(assignment, base)
        done = log.done()
        todo = [i for i in found.items if (i.id, i.sha256, version) not in done]
        skipped = len(found.items) - len(todo)
        if limit is not None:
            todo = todo[:limit]

        counts = {"graded": 0, "failures": 0, "grader_errors": 0}
        bar = _progress(len(found.items), skipped, progress)
        bar_lock = threading.Lock()

        def on_record(item: Item, verdict: dict) -> None:
            record = {"id": item.id, "sha256": item.sha256, **verdict,
                      "students": [s.to_plain() for s in item.students], "meta": item.meta,
                      "source": _relative(item.path, found.root), "host": verdict.get("host") or socket.gethostname(),
                      "graded_at": round(time.time(), 3)}
            if record["grader_version"] != version:
                raise BatchError(f"a worker graded with {record['grader_version']}, this run is {version}: "
                                 f"the cluster has different assignment, reference or seed files")
            log.append(record)  # fsynced: from here on the submission is done
            if record.get("status") == DONE:
                gradebook.write_feedback(out, record, fsync=False)
            with bar_lock:
                counts["graded"] += 1
                counts["failures"] += is_failure(record)
                counts["grader_errors"] += record.get("status") == GRADER_ERROR
                bar.set_postfix(failures=counts["failures"], refresh=False)
                bar.update(1)

        t_grade = time.perf_counter()
        if todo:
            if executor:
                _run_dask(executor, assignment, seed, base, todo, on_record, chunk_size)
                startup = 0.0
            else:
                if pool is None:
                    own_pool = pool = Pool(assignment, workers=workers, seed=seed, base=base, limits=limits,
                                           version=version)
                startup = time.perf_counter() - t_grade
                t_grade = time.perf_counter()
                _run_local(pool, todo, on_record)
        else:
            startup = 0.0
        grading = time.perf_counter() - t_grade
        bar.close()

        keys = {i.id: i.sha256 for i in found.items}
        records = current_records(log.records, version, keys)
        finished = {r["id"] for r in records if r.get("status") == DONE}
        missing = [i.id for i in found.items if i.id not in finished]
        part_names = [p.name for p in spec.parts]
        gradebook.export(out, records, part_names)
        report = classreport.write(
            out, records, title=f"{spec.title} ({spec.id})",
            parts=[(p.name, float(p.points)) for p in spec.parts], max_score=float(spec.max_score),
            stats={"grader version": version, "layout": found.layout},
        )
        return BatchSummary(
            out=out, total=len(found.items), graded=counts["graded"], skipped=skipped,
            failures=sum(is_failure(r) for r in records), grader_errors=counts["grader_errors"],
            seconds=grading, rate=counts["graded"] / grading if grading > 0 else 0.0,
            startup_seconds=startup or (time.perf_counter() - t_start - grading), layout=found.layout,
            gradebook=out / gradebook.GRADEBOOK_NAME, report=report, missing=missing,
            repaired_bytes=log.repaired_bytes,
        )
    finally:
        if own_pool is not None:
            own_pool.close()
        log.close()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sub", desc="grading", disable=not enabled,
                dynamic_ncols=True, smoothing=0.05, file=sys.stderr, postfix={"failures": 0})


def _run_local(pool: Pool, todo: list[Item], on_record) -> None:
    """One thread per sandbox; each takes the next submission until none is left."""
    work: queue.Queue = queue.Queue()
    for item in todo:
        work.put(item)
    errors: list[BaseException] = []
    stop = threading.Event()

    def slot() -> None:
        while not stop.is_set():
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            try:
                on_record(item, pool.grade(item.path))
            except BaseException as exc:  # noqa: BLE001 - oracle disagreement, disk full: stop all
                errors.append(exc)
                stop.set()
                return

    threads = [threading.Thread(target=slot, name=f"bpgrade-slot-{i}", daemon=True)
               for i in range(pool.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# ------------------------------------------------------------------ Dask

def _pack(item: Item) -> tuple[str, bytes]:
    """The submission as (file name, bytes); a folder travels as an in-memory zip."""
    if item.path.is_file():
        return item.path.name, item.path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in item.path.rglob("*") if p.is_file() and not p.is_symlink()):
            zf.write(file, file.relative_to(item.path).as_posix())
    return item.path.name + ".zip", buf.getvalue()


_WORKER_POOLS: dict[tuple, Pool] = {}
_WORKER_POOLS_LOCK = threading.Lock()


def _worker_pool(assignment: str, seed: int | None, base: str | None) -> Pool:
    key = (assignment, seed, base)
    with _WORKER_POOLS_LOCK:
        if key not in _WORKER_POOLS:
            slots = None
            try:
                from distributed import get_worker

                w = get_worker()
                slots = getattr(getattr(w, "state", None), "nthreads", None) or getattr(w, "nthreads", None)
            except (ImportError, ValueError):
                pass
            pool = Pool(assignment, workers=slots, seed=seed, base=Path(base) if base else None)
            atexit.register(pool.close)
            _WORKER_POOLS[key] = pool
        return _WORKER_POOLS[key]


def grade_chunk(assignment: str, seed: int | None, base: str | None,
                payloads: list[tuple[str, str, bytes]]) -> list[tuple[str, dict]]:
    """Runs on a Dask worker: grade (id, file name, bytes) payloads with this process's Pool
    (built once, cached), in parallel over its sandboxes. Returns plain (id, verdict) pairs."""
    pool = _worker_pool(assignment, seed, base)
    with tempfile.TemporaryDirectory(prefix="bpgrade-chunk-") as tmp:
        def one(payload):
            sid, name, data = payload
            folder = Path(tmp) / sid
            folder.mkdir()
            path = folder / name
            path.write_bytes(data)
            return sid, {**pool.grade(path), "host": socket.gethostname()}

        with ThreadPoolExecutor(pool.workers) as ex:
            return list(ex.map(one, payloads))


def _run_dask(address: str, assignment: str, seed: int | None, base: Path | None, todo: list[Item],
              on_record, chunk_size: int) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BatchError("--executor needs dask.distributed: pip install 'bpgrade[dask]'") from None
    client = Client(address, timeout=30)
    try:
        threads = sum(client.nthreads().values()) or 1
        size = max(1, min(chunk_size, math.ceil(len(todo) / (2 * threads))))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        by_id = {i.id: i for i in todo}
        in_flight = max(2, 2 * threads)
        pending = iter(chunks)

        def submit(chunk):
            payloads = [(i.id, *_pack(i)) for i in chunk]
            return client.submit(grade_chunk, assignment, seed, str(base) if base else None, payloads, pure=False)

        futures = as_completed([submit(c) for _, c in zip(range(in_flight), pending)])
        for fut in futures:
            for sid, verdict in fut.result():
                on_record(by_id[sid], verdict)
            nxt = next(pending, None)
            if nxt is not None:
                futures.add(submit(nxt))
    finally:
        client.close()


def main_summary_json(summary: BatchSummary) -> str:
    return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in summary.__dict__.items()}, indent=2)
