"""The batch's results log and everything derived from it.

The log (``results.jsonl``) is the source of truth: one JSON line per graded submission,
appended with a single ``write()`` to an ``O_APPEND`` descriptor and ``fsync``ed before the
submission counts as done. A record is keyed by (submission id, sha256 of its content, grader
version); the grader version includes a fingerprint of the hidden material, never the seed.
One runner per log (an exclusive ``flock``); a torn last line (killed mid-write) is cut off on
the next open. Gradebook CSV, feedback files and the class report are rebuilt from the log
with write-to-temp + ``os.replace``, so they always agree with it. See research/security.md §3.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import threading
from pathlib import Path

from .. import project
from ..catalogue import NOT_RUN, codes
from ..fsutil import atomic_write, fsync_dir
from ..report import CaseResult, PartResult, Report, to_gradescope, to_text
from ..safetext import csv_cell, shown

LOG_NAME = "results.jsonl"
GRADEBOOK_NAME = "gradebook.csv"
FEEDBACK_DIR = "feedback"
DONE = "done"
GRADER_ERROR = "grader_error"  #: the grader failed on the submission (pool.GRADER_ERROR)
SKIPPED = "skipped"  #: an entry of the batch that is not a submission (a link, an unknown name)
#: diagnoses that mean the submission itself failed to run (not merely wrong answers)
FAILURE_CODES = codes(NOT_RUN)


class LogLocked(Exception):
    """Another batch runner holds this results log."""


def record_key(record: dict) -> tuple[str, str, str]:
    return record.get("id", ""), record.get("sha256", ""), record.get("grader_version", "")


class ResultsLog:
    """Append-only JSONL with fsync, one writer (flock), torn-tail repair on open."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise LogLocked(f"another batch is writing {self.path} (lock {self.path}.lock is held)") from None
        self.repaired_bytes = 0
        self.bad_lines = 0
        self.records: list[dict] = self._read_and_repair()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._write_lock = threading.Lock()

    def _read_and_repair(self) -> list[dict]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records, good_end, pos = [], 0, 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:  # no newline: the last write was cut short
                break
            line = data[pos:nl]
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                if data.find(b"\n", nl + 1) < 0 and not data[nl + 1:].strip():
                    break  # a complete but unreadable final line: treat as torn too
                self.bad_lines += 1  # cannot happen with one appending writer; keep going
            else:
                records.append(rec)
            pos = nl + 1
            good_end = pos
        if good_end < len(data):
            self.repaired_bytes = len(data) - good_end
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        return records

    def done(self, *, retry_errors: bool = False) -> dict[tuple[str, str, str], dict]:
        """Records by key that a resumed run does not grade again. A grader error is final too,
        recorded once with its reason (a submission that makes the grader fail would make it
        fail on every resume); ``retry_errors`` grades those again."""
        final = (DONE,) if retry_errors else (DONE, GRADER_ERROR)
        return {record_key(r): r for r in self.records if r.get("status") in final}

    def append(self, record: dict) -> None:
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False, default=_plain) + "\n").encode()
        with self._write_lock:
            view = memoryview(line)
            while view:  # a regular file takes it in one write(); loop only for safety
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
            self.records.append(record)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> "ResultsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(obj):
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def current_records(records: list[dict], grader_version: str, keys: dict[str, str] | None = None) -> list[dict]:
    """The latest record of each submission for this grader version, in first-seen order.
    ``keys`` (id -> sha256), when given, keeps only records of the submissions as they are now."""
    latest: dict[str, dict] = {}
    for rec in records:
        if rec.get("grader_version") != grader_version:
            continue
        if keys is not None and keys.get(rec.get("id")) != rec.get("sha256"):
            continue
        latest[rec["id"]] = rec
    return list(latest.values())


def is_failure(record: dict) -> bool:
    return record.get("status") != DONE or bool(FAILURE_CODES & set(record.get("diagnoses", [])))


# ------------------------------------------------------------------ derived files

def report_from_json(data: dict) -> Report:
    """Rebuild a :class:`Report` from its ``to_json`` form (as stored in the log)."""
    public = data.get("mode") == "check"
    parts = []
    for p in data.get("parts", []):
        parts.append(PartResult(
            name=p["name"], function=p.get("function", ""), max_score=float(p["max_score"]),
            score=float(p["score"]), passed=int(p.get("passed", 0)), total=int(p.get("total", 0)),
            diagnoses=list(p.get("diagnoses", [])), tolerance=p.get("tolerance", ""),
            feedback=p.get("feedback", ""), public=public, figures=list(p.get("figures", [])),
            smallest_failing=p.get("smallest_failing", ""),
            cases=[CaseResult(**c) for c in p.get("cases", [])],
        ))
    return Report(
        assignment=data["assignment"], title=data.get("title", data["assignment"]), mode=data.get("mode", "grade"),
        max_score=float(data.get("max_score", 0.0)), oracles=list(data.get("oracles", [])), seed=data.get("seed"),
        parts=parts, protections=list(data.get("protections", [])), notes=list(data.get("notes", [])),
        load_error=data.get("load_error"), load_warnings=list(data.get("load_warnings", [])),
    )


_cell = csv_cell  #: a CSV text cell: one line, controls escaped, never a formula


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def gradebook_csv(records: list[dict], part_names: list[str]) -> str:
    """One row per student (a group submission gives each member a row), sorted by submission."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["submission_id", "sid", "name", "email", "total", "max_score", *part_names,
                     "status", "diagnoses", "seconds", "note"])
    for rec in sorted(records, key=lambda r: r["id"]):
        parts = rec.get("parts", {})
        people = rec.get("students") or [{"sid": rec["id"]}]
        for person in people:
            writer.writerow([
                _cell(rec["id"]), _cell(person.get("sid", "")), _cell(person.get("name", "")),
                _cell(person.get("email", "")), _num(rec.get("score", 0.0)), _num(rec.get("max_score", 0.0)),
                *[_num(parts[name]) if name in parts else "" for name in part_names],
                _cell(rec.get("status", "")), _cell(" ".join(rec.get("diagnoses", []))),
                f"{rec.get('seconds', 0.0):.3f}", _cell(rec.get("error", "") if rec.get("status") != DONE else ""),
            ])
    return buf.getvalue()


def feedback_files(record: dict) -> dict[str, str]:
    """``<id>.txt`` (what ``bpgrade grade`` prints) and ``<id>.json`` (Gradescope results.json)."""
    from ..report import dumps

    if record.get("status") != DONE or "report" not in record:
        text = shown(f"grading did not finish: {record.get('error', 'unknown grader error')}") + "\n"
        return {f"{record['id']}.txt": text}
    report = report_from_json(record["report"])
    return {
        f"{record['id']}.txt": to_text(report) + "\n",
        f"{record['id']}.json": dumps(to_gradescope(report)) + "\n",
    }


def write_feedback(out: Path, record: dict, *, fsync: bool = True) -> None:
    folder = Path(out) / FEEDBACK_DIR
    for name, text in feedback_files(record).items():
        atomic_write(folder / name, text, fsync=fsync)


def skipped_record(sid: str, entry: str, reason: str, max_score: float) -> dict:
    """The gradebook row of a batch entry that was not graded: 0 points and the reason."""
    return {"id": sid, "status": SKIPPED, "score": 0.0, "max_score": float(max_score), "parts": {},
            "diagnoses": ["not_a_submission"], "error": reason, "seconds": 0.0,
            "students": [{"sid": "", "name": "", "email": ""}], "source": entry}


def export(out: Path, records: list[dict], part_names: list[str], *, feedback: bool = True,
           skipped: list[dict] = ()) -> None:
    """Rebuild the gradebook and every feedback file from ``records`` (atomically each);
    ``skipped`` (:func:`skipped_record`) are rows in the gradebook only."""
    out = Path(out)
    atomic_write(out / GRADEBOOK_NAME, gradebook_csv([*records, *skipped], part_names))
    if feedback:
        for rec in records:
            write_feedback(out, rec, fsync=False)
        if records:  # derived files: rebuilt from the log on every run, so one dir fsync is enough
            fsync_dir(out / FEEDBACK_DIR)


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

def grader_version(assignment: str, *, seed: int | None = None, shared: bool = False,
                   base: Path | None = None) -> str:
    """``<package version>+<fingerprint>``. The fingerprint hashes the engine, the assignment,
    its oracle and hidden reference, the assignment's hidden key and the case mode (fresh,
    shared, a seed) together, so changing any of them regrades; the key itself is never written
    anywhere (a 256-bit key behind sha256 cannot be recovered from the fingerprint)."""
    import hashlib

    from .. import __version__

    spec = project.load_assignment(assignment, base)
    h = hashlib.sha256(b"bpgrade-batch-v1\0")
    engine = project.package_dir()
    for path in project.engine_files(without=project.FRONT_ENDS):  # what decides a grade
        h.update(path.relative_to(engine).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(spec.folder.glob("*.py")) + [project.solution_path(assignment, base)]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    mode = "fresh" if seed is None and not shared else f"shared:{'' if seed is None else int(seed)}"
    h.update(project.assignment_key(assignment, base) + b"\0" + mode.encode())
    return f"{__version__}+{h.hexdigest()[:16]}"
