"""Instructor batch grading: every core busy, crash-safe, resumable, exactly once.

Layout of one run::

    batch runner (this process)
      ├─ Pool (autograder.batch.pool): N sandboxes (zygotes started before torch or the reference is
      │        loaded), one Grader prepared once, N grader processes forked from it, each grading
      │        one submission at a time in its own sandbox: by default on that submission's
      │        fresh hidden cases (keyed by its student id, see :func:`student_key`, and its
      │        content), with ``shared=True`` on one set of cases computed once for all
      ├─ one thread per slot: keep two submissions handed to it, file each JSON record
      └─ the results log (one writer, fsync per record); gradebook, feedback files and the
         class report are rebuilt from the log at the end (atomically)

A submission that crashes, hangs, floods output or exhausts memory is contained by its worker
and costs only its own result. With ``executor="tcp://host:port"`` the submissions go in chunks
to a Dask cluster instead; each Dask worker process builds the same Pool once and returns plain
JSON records, and this process still writes the log.

``run_batch`` is the API behind ``bpgrade batch``.
"""
from __future__ import annotations

import atexit
import io
import json
import math
import socket
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import project
from . import classreport, gradebook
from .gradebook import DONE, GRADER_ERROR, LOG_NAME, ResultsLog, current_records, is_failure
from .pool import Pool, grader_version
from .submissions import Item, discover

__all__ = ["BatchError", "BatchSummary", "Pool", "grader_version", "run_batch"]

class BatchError(Exception):
    """The batch cannot start or continue (usage, locked log, mismatched cluster)."""


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
    writing_seconds: float  #: writing the gradebook, feedback files and class report from the log
    layout: str
    gradebook: Path
    report: Path
    missing: list[str] = field(default_factory=list)
    repaired_bytes: int = 0
    not_submissions: dict[str, str] = field(default_factory=dict)  #: entry -> why it was not graded
    errors: dict[str, str] = field(default_factory=dict)  #: submission id -> the grader's failure
    notes: list[str] = field(default_factory=list)  #: e.g. names that clean up to the same id

    def lines(self) -> list[str]:
        out = [
            f"{self.total} submissions ({self.layout}): graded {self.graded}, already done {self.skipped}, "
            f"failures {self.failures}" + (f", grader errors {self.grader_errors}" if self.grader_errors else ""),
            f"grading {self.seconds:.1f} s ({self.rate:.1f} submissions/s) after {self.startup_seconds:.1f} s start-up; "
            f"gradebook, feedback and class report written in {self.writing_seconds:.1f} s",
            f"gradebook: {self.gradebook}",
            f"class report: {self.report}",
        ]
        if self.repaired_bytes:
            out.append(f"repaired a torn last record ({self.repaired_bytes} bytes) in the results log")
        out += self.notes
        if self.not_submissions:
            out.append(f"not graded, each a gradebook row with 0 ({len(self.not_submissions)}):")
            out += [f"  {reason}" for reason in self.not_submissions.values()]
        if self.errors:
            out.append(f"grader errors, recorded once (rerun with --retry-errors to grade again) ({len(self.errors)}):")
            out += [f"  {sid}: {error}" for sid, error in self.errors.items()]
        if self.missing:
            out.append(f"NOT graded ({len(self.missing)}): {', '.join(self.missing[:10])}"
                       + (" ..." if len(self.missing) > 10 else ""))
        return out


def run_batch(assignment: str, submissions: str | Path, *, out: str | Path, workers: int | None = None,
              seed: int | None = None, shared: bool = False, resume: bool = False, executor: str | None = None,
              progress: bool = True, chunk_size: int = 8, base: Path | None = None, limits=None,
              pool: Pool | None = None, limit: int | None = None,
              submission_timeout: float | None = None, retry_errors: bool = False) -> BatchSummary:
    """Grade every submission under ``submissions`` into ``out`` (see the module docstring).

    ``resume=True`` continues a previous run into the same ``out``: submissions whose (id,
    content hash, grader version) is already in the log are skipped. ``limit`` stops after that
    many submissions were graded in this run (for tests and dry runs). ``pool`` lends an
    already-started Pool (tests, benchmarks); it is not closed here. ``submission_timeout``:
    wall-clock seconds per submission (default ``grade.SUBMISSION_TIMEOUT``; a lent pool keeps its own).
    A grader error is recorded once and final on resume unless ``retry_errors``. Entries that are
    not submissions (links, unrecognised names) are listed in the summary and the gradebook.

    The steps, in order: open the log (refusing a second runner), discover, skip what is done,
    grade (:class:`_Recorder` logs each verdict), export (:func:`_export`). They stay in one
    function because the log's lock and the pool are released in one ``finally``.
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
        version = pool.version if pool is not None else grader_version(assignment, seed=seed, shared=shared, base=base)
        spec = pool.spec if pool is not None else project.load_assignment(assignment, base)
        done = log.done(retry_errors=retry_errors)
        todo = [i for i in found.items if (i.id, i.sha256, version) not in done]
        skipped = len(found.items) - len(todo)
        if limit is not None:
            todo = todo[:limit]

        bar = _progress(len(found.items), skipped, progress)
        on_record = _Recorder(log, found, version, bar)
        counts = on_record.counts

        t_grade = time.perf_counter()
        if todo:
            if executor:
                _run_dask(executor, assignment, (seed, shared), base, todo, on_record, chunk_size, submission_timeout)
                startup = 0.0
            else:
                if pool is None:
                    own_pool = pool = Pool(assignment, workers=workers, seed=seed, shared=shared, base=base,
                                           limits=limits, version=version, submission_timeout=submission_timeout)
                startup = time.perf_counter() - t_grade
                t_grade = time.perf_counter()
                pool.grade_all(todo, on_record, student=student_key)
        else:
            startup = 0.0
        grading = time.perf_counter() - t_grade
        bar.close()

        t_write = time.perf_counter()
        records, report, missing = _export(out, log, found, spec, version)
        writing = time.perf_counter() - t_write
        return BatchSummary(
            out=out, total=len(found.items), graded=counts["graded"], skipped=skipped,
            failures=sum(is_failure(r) for r in records), grader_errors=counts["grader_errors"],
            seconds=grading, rate=counts["graded"] / grading if grading > 0 else 0.0,
            startup_seconds=startup or (t_write - t_start - grading), writing_seconds=writing, layout=found.layout,
            gradebook=out / gradebook.GRADEBOOK_NAME, report=report, missing=missing,
            repaired_bytes=log.repaired_bytes, not_submissions=dict(found.reasons), notes=list(found.notes),
            errors={r["id"]: r.get("error", "") for r in records if r.get("status") == GRADER_ERROR},
        )
    finally:
        if own_pool is not None:
            own_pool.close()
        log.close()



class _Recorder:
    """What the pool calls with each verdict: the full record is appended to the log (fsynced:
    from then on the submission is done; its feedback files, like the gradebook, are written
    from the log once grading ends), counted, and shown on the progress bar. Called from the
    pool's threads."""

    def __init__(self, log: ResultsLog, found, version: str, bar):
        self.log, self.found, self.version, self.bar = log, found, version, bar
        self.counts = {"graded": 0, "failures": 0, "grader_errors": 0}
        self._lock = threading.Lock()
        self._host = socket.gethostname()

    def __call__(self, item: Item, verdict: dict) -> None:
        record = {"id": item.id, "sha256": item.sha256, **verdict,
                  "students": [s.to_plain() for s in item.students], "meta": item.meta,
                  "source": _relative(item.path, self.found.root), "host": verdict.get("host") or self._host,
                  "graded_at": round(time.time(), 3)}
        if record["grader_version"] != self.version:
            raise BatchError(f"a worker graded with {record['grader_version']}, this run is {self.version}: "
                             f"the cluster has different assignment, reference or seed files")
        self.log.append(record)
        with self._lock:
            self.counts["graded"] += 1
            self.counts["failures"] += is_failure(record)
            self.counts["grader_errors"] += record.get("status") == GRADER_ERROR
            self.bar.set_postfix(failures=self.counts["failures"], refresh=False)
            self.bar.update(1)


def _export(out: Path, log: ResultsLog, found, spec, version: str) -> tuple[list[dict], Path, list[str]]:
    """The gradebook, feedback files and class report, rebuilt from the log's current records
    (plus a row for every entry that is not a submission); returns the records, the report's
    path and the ids of submissions with no finished record."""
    keys = {i.id: i.sha256 for i in found.items}
    records = current_records(log.records, version, keys)
    finished = {r["id"] for r in records if r.get("status") in (DONE, GRADER_ERROR)}
    missing = [i.id for i in found.items if i.id not in finished]
    not_graded = [gradebook.skipped_record(sid, entry, found.reasons[entry], spec.max_score)
                  for entry, sid in found.skipped_ids().items()]
    gradebook.export(out, records, [p.name for p in spec.parts], skipped=not_graded)
    report = classreport.write(
        out, records, title=f"{spec.title} ({spec.id})",
        parts=[(p.name, float(p.points)) for p in spec.parts], max_score=float(spec.max_score),
        stats={"grader version": version, "layout": found.layout},
    )
    return records, report, missing


def student_key(item: Item) -> str:
    """The student id an item's fresh hidden cases are keyed by: the submitters' emails for a
    Gradescope export (as the Gradescope plugin reads them from submission_metadata.json, so a
    regrade gets the cases Gradescope graded), else the batch id (``bpgrade grade --student
    <id>`` then gets the same cases)."""
    return project.student_key(emails=[s.email for s in item.students], fallback=item.id)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sub", desc="grading", disable=not enabled,
                dynamic_ncols=True, smoothing=0.05, file=sys.stderr, postfix={"failures": 0})


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


def _worker_pool(assignment: str, seed, base: str | None, submission_timeout: float | None = None) -> Pool:
    seed, shared = seed if isinstance(seed, (tuple, list)) else (seed, False)
    key = (assignment, seed, shared, base, submission_timeout)
    with _WORKER_POOLS_LOCK:
        if key not in _WORKER_POOLS:
            slots = None
            try:
                from distributed import get_worker

                w = get_worker()
                slots = getattr(getattr(w, "state", None), "nthreads", None) or getattr(w, "nthreads", None)
            except (ImportError, ValueError):
                pass
            pool = Pool(assignment, workers=slots, seed=seed, shared=shared, base=Path(base) if base else None,
                        submission_timeout=submission_timeout)
            atexit.register(pool.close)
            _WORKER_POOLS[key] = pool
        return _WORKER_POOLS[key]


def grade_chunk(assignment: str, seed, base: str | None,
                payloads: list[tuple], submission_timeout: float | None = None) -> list[tuple[str, dict]]:
    """Runs on a Dask worker: grade (id, file name, bytes[, student key]) payloads with this
    process's Pool (built once, cached), in parallel over its sandboxes. ``seed`` is the seed or
    (seed, shared). Returns plain (id, verdict) pairs."""
    pool = _worker_pool(assignment, seed, base, submission_timeout)
    host = socket.gethostname()
    with tempfile.TemporaryDirectory(prefix="bpgrade-chunk-") as tmp:
        paths, students = {}, {}
        for sid, name, data, *student in payloads:
            (Path(tmp) / sid).mkdir()
            paths[sid] = Path(tmp) / sid / name
            paths[sid].write_bytes(data)
            students[sid] = student[0] if student else sid
        verdicts: dict[str, dict] = {}
        pool.grade_all(list(paths), lambda sid, verdict: verdicts.__setitem__(sid, {**verdict, "host": host}),
                       path=paths.__getitem__, student=students.__getitem__)
        return [(sid, verdicts[sid]) for sid, *_ in payloads]


def _run_dask(address: str, assignment: str, seed, base: Path | None, todo: list[Item],
              on_record, chunk_size: int, submission_timeout: float | None = None) -> None:
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
            payloads = [(i.id, *_pack(i), student_key(i)) for i in chunk]
            return client.submit(grade_chunk, assignment, seed, str(base) if base else None, payloads,
                                 submission_timeout, pure=False)

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
