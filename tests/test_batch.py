"""Batch grading: discovery (incl. Gradescope exports), the fsynced results log, resume
exactly once (also after SIGKILL), gradebook / feedback / class report, and Dask."""
from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.batch import gradebook
from autograder.batch import BatchError, Pool, run_batch
from autograder.batch.gradebook import LogLocked, ResultsLog
from autograder.batch.submissions import discover
from bench.synth import make_batch
from tests.helpers import child_pids

HERE = Path(__file__).resolve().parent
EXPORT = HERE / "batch_fixtures" / "gradescope_export"
ROOT = HERE.parent


def _zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    return target


def _rows(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _scores(out: Path) -> dict[str, tuple]:
    """submission id -> (total, every part), from the gradebook."""
    rows = _rows(out)
    skip = {"submission_id", "sid", "name", "email", "seconds", "diagnoses"}
    return {r["submission_id"]: tuple(v for k, v in r.items() if k not in skip) for r in rows}


# ------------------------------------------------------------------ discovery (no grading)

def test_gradescope_export_folder_maps_submitters():
    found = discover(EXPORT)
    assert found.layout == "gradescope"
    by_id = {i.id: i for i in found.items}
    assert sorted(by_id) == ["submission_100001", "submission_100002", "submission_100003", "submission_100004"]
    ada = by_id["submission_100001"].students[0]
    assert (ada.name, ada.email, ada.sid) == ("Ada Lovelace", "ada@example.edu", "1815")
    group = by_id["submission_100003"].students
    assert [s.sid for s in group] == ["1906", "2000"]
    assert by_id["submission_100004"].students[0].sid == ""  # a null :sid stays empty
    assert by_id["submission_100001"].meta["created_at"].startswith("2024-04-")


def test_gradescope_export_zip_with_wrapper_folder(tmp_path):
    z = _zip(EXPORT, tmp_path / "export.zip", prefix="assignment_4242_export/")
    found = discover(z, scratch=tmp_path / "scratch")
    assert found.layout == "gradescope"
    assert len(found.items) == 4
    assert found.items[0].sha256 == discover(EXPORT).items[0].sha256  # same content, same hash


@pytest.mark.parametrize("layout", ["files", "folders"])
def test_plain_layouts_and_zip_of_them(tmp_path, layout):
    make_batch(tmp_path / "in", 5, seed=1, layout=layout)
    (tmp_path / "in" / "README.txt").write_text("not a submission")
    found = discover(tmp_path / "in")
    assert [i.id for i in found.items] == [f"s{i:05d}" for i in range(5)]
    assert found.skipped == ["README.txt"]
    zipped = discover(_zip(tmp_path / "in", tmp_path / "in.zip"), scratch=tmp_path / "x")
    assert [i.sha256 for i in zipped.items] == [i.sha256 for i in found.items]


def test_zip_extraction_refuses_traversal(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../escaped.py", "x = 1")
        zf.writestr("/abs.py", "x = 1")
        zf.writestr("ok.py", "x = 1")
    found = discover(z, scratch=tmp_path / "s")
    assert [i.id for i in found.items] == ["ok"]
    assert not (tmp_path / "escaped.py").exists()


# ------------------------------------------------------------------ the results log

def test_log_repairs_torn_tail_and_keeps_complete_records(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsLog(path) as log:
        log.append({"id": "a", "sha256": "1", "grader_version": "v", "status": "done", "score": 1.0})
        log.append({"id": "b", "sha256": "2", "grader_version": "v", "status": "done", "score": 2.0})
    with open(path, "ab") as fh:
        fh.write(b'{"id":"c","sha256":"3","grader_ver')  # killed mid-write
    with ResultsLog(path) as log:
        assert log.repaired_bytes > 0
        assert sorted(k[0] for k in log.done()) == ["a", "b"]
        log.append({"id": "c", "sha256": "3", "grader_version": "v", "status": "done", "score": 3.0})
    lines = path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]


def test_one_writer_per_log(tmp_path):
    with ResultsLog(tmp_path / "results.jsonl"):
        with pytest.raises(LogLocked):
            ResultsLog(tmp_path / "results.jsonl")


def test_compact_report_json_rebuilds_the_same_report():
    """The log stores reports compactly (case fields at their defaults left out); rebuilt
    from it, the report is the one graded."""
    from autograder.report import CaseResult, PartResult, Report, to_json

    cases = [CaseResult("p[N=2,case=0]", True, rel_error=1e-17, shape="N=2"),
             CaseResult("p[N=3,case=1]", False, "transposed", "`dW` is transposed", "got shape (3, 2)", 1.0, "N=3")]
    report = Report(assignment="a", title="A", mode="grade", max_score=2.0, oracles=["reference"], parts=[
        PartResult(name="p", function="f", max_score=2.0, score=1.0, passed=1, total=2, cases=cases)])
    compact = to_json(report, compact=True)
    assert compact["parts"][0]["cases"][0] == {"id": "p[N=2,case=0]", "passed": True, "rel_error": 1e-17, "shape": "N=2"}
    assert gradebook.report_from_json(json.loads(json.dumps(compact))) == gradebook.report_from_json(to_json(report))
    assert gradebook.report_from_json(compact).parts[0].cases == cases


def test_gradebook_cells_cannot_be_formulas():
    rec = {"id": "s1", "score": 1.0, "max_score": 2.0, "parts": {"p": 1.0}, "status": "done",
           "students": [{"name": "=cmd()", "email": "+x", "sid": "-1"}]}
    row = gradebook.gradebook_csv([rec], ["p"]).splitlines()[1]
    assert "'=cmd()" in row and "'+x" in row and "'-1" in row


# ------------------------------------------------------------------ grading (one shared pool)

@pytest.fixture(scope="module")
def pool():
    with Pool("mse_two_layer", workers=2) as p:
        yield p


def test_gradescope_export_batch_writes_gradebook_feedback_and_report(pool, tmp_path):
    out = tmp_path / "out"
    summary = run_batch("mse_two_layer", EXPORT, out=out, pool=pool, progress=False)
    assert (summary.total, summary.graded, summary.missing) == (4, 4, [])
    assert 0 < summary.writing_seconds and f"written in {summary.writing_seconds:.1f} s" in summary.lines()[1]
    rows = _rows(out)
    assert len(rows) == 5  # the group submission gives both members a row
    by_sid = {r["sid"]: r for r in rows}
    assert by_sid["1815"]["name"] == "Ada Lovelace" and by_sid["1815"]["total"] == "20"
    assert by_sid["1912"]["email"] == "alan@example.edu" and float(by_sid["1912"]["total"]) < 20
    assert "transposed" in by_sid["1912"]["diagnoses"]
    assert by_sid["1906"]["total"] == by_sid["2000"]["total"] == "20"  # the notebook
    assert by_sid["2000"]["name"].startswith("'=")  # no formula injection
    assert float(next(r for r in rows if r["submission_id"] == "submission_100004")["total"]) < 20
    results = json.loads((out / "feedback" / "submission_100002.json").read_text())
    assert results["score"] == float(by_sid["1912"]["total"]) and results["tests"]
    assert "linear_backward" in (out / "feedback" / "submission_100002.txt").read_text()
    page = (out / "report" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "http" not in page.replace("http://x", "")
    for png in ("score_histogram", "part_pass_rate", "diagnoses", "slowest"):
        assert (out / "report" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing left to do: a resumed run grades nothing and rebuilds the same gradebook
    again = run_batch("mse_two_layer", EXPORT, out=out, pool=pool, progress=False, resume=True)
    assert (again.graded, again.skipped) == (0, 4)
    assert _rows(out) == rows


def test_interrupted_then_resumed_equals_uninterrupted(pool, tmp_path):
    make_batch(tmp_path / "in", 12, seed=7, hostile=2)  # ends with os_exit + output_flood copies
    full = tmp_path / "full"
    run_batch("mse_two_layer", tmp_path / "in", out=full, pool=pool, progress=False)

    part = tmp_path / "part"
    first = run_batch("mse_two_layer", tmp_path / "in", out=part, pool=pool, progress=False, limit=5)
    assert first.graded == 5 and len(first.missing) == 7
    with open(part / "results.jsonl", "ab") as fh:  # a record torn by a crash mid-write
        fh.write(b'{"id":"s00011","sha256":"ab')
    with pytest.raises(BatchError, match="--resume"):
        run_batch("mse_two_layer", tmp_path / "in", out=part, pool=pool, progress=False)
    second = run_batch("mse_two_layer", tmp_path / "in", out=part, pool=pool, progress=False, resume=True)
    assert (second.graded, second.skipped, second.missing) == (7, 5, [])
    assert b'"sha256":"ab' not in (part / "results.jsonl").read_bytes()  # the torn tail was cut off
    ids = [json.loads(line)["id"] for line in (part / "results.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 12
    assert _scores(part) == _scores(full)

    # a changed submission is regraded (new content hash); the gradebook keeps one row for it
    (tmp_path / "in" / "s00000.py").write_text((tmp_path / "in" / "s00000.py").read_text() + "\n# edited\n")
    third = run_batch("mse_two_layer", tmp_path / "in", out=part, pool=pool, progress=False, resume=True)
    assert third.graded == 1
    assert [r["submission_id"] for r in _rows(part)].count("s00000") == 1


def test_concurrent_grade_all_calls_share_the_slots(pool, tmp_path):
    """Two callers at once (a Dask worker runs several chunks on one pool) each get their own
    verdicts: a slot is borrowed by one caller at a time."""
    import threading

    kinds = make_batch(tmp_path / "in", 8, seed=5)
    paths = {p.stem: p for p in (tmp_path / "in").iterdir()}
    got: dict[str, float] = {}
    halves = [sorted(paths)[:4], sorted(paths)[4:]]
    threads = [threading.Thread(target=pool.grade_all, args=(half, lambda sid, v: got.__setitem__(sid, v["score"])),
                                kwargs={"path": paths.__getitem__}) for half in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {sid: pool.grade(paths[sid])["score"] for sid in sorted(paths)}
    assert got == expected
    assert {got[sid] for sid, kind in kinds.items() if kind == "correct"} == {20.0}


def test_a_caller_that_stops_early_leaves_no_verdict_behind(pool, tmp_path):
    """A grade_all that stops on an error (here the disk is "full") still has a submission
    handed to each slot: its verdict is waited out, not left for the slot's next borrower."""
    make_batch(tmp_path / "in", 8, seed=5)
    paths = {p.stem: p for p in (tmp_path / "in").iterdir()}
    scores = {sid: pool.grade(paths[sid])["score"] for sid in sorted(paths)}
    assert len(set(scores.values())) >= 4  # distinct enough that a verdict swap would show

    def disk_full(sid, verdict):
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        pool.grade_all(sorted(paths), disk_full, path=paths.__getitem__)
    assert {sid: pool.grade(paths[sid])["score"] for sid in sorted(paths)} == scores


def test_a_grader_process_that_dies_costs_only_its_current_submission(tmp_path):
    """Each grader process has two submissions handed to it: when one is SIGKILLed, the one
    it was grading gets a grader_error record and the one queued behind it goes to the other
    slot; every other submission is graded, each exactly once."""
    make_batch(tmp_path / "in", 10, seed=3)
    with Pool("mse_two_layer", workers=2) as own:
        assert own.processes
        victim = own.slots[0].pid
        original = gradebook.ResultsLog.append

        def append_then_kill(log, record):
            original(log, record)
            if len(log.records) == 1:
                os.kill(victim, signal.SIGKILL)

        gradebook.ResultsLog.append = append_then_kill
        try:
            summary = run_batch("mse_two_layer", tmp_path / "in", out=tmp_path / "out", pool=own, progress=False)
        finally:
            gradebook.ResultsLog.append = original
        assert own.slots[0].dead and not own.slots[1].dead
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"s{i:05d}" for i in range(10)]
    errors = [r for r in records if r["status"] == "grader_error"]
    assert len(errors) == 1 and "grader process died" in errors[0]["error"]
    assert summary.grader_errors == 1 and summary.graded == 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zygote sandboxes")
def test_each_slot_preforks_its_next_worker_and_close_leaves_nothing(tmp_path):
    """Between submissions each sandbox holds one spare worker, already confined (the
    sandbox uid, under seccomp), forked by the grader process that uses the sandbox; closing
    the pool kills the spares and the zygotes: no process of a sandbox uid outlives it."""
    make_batch(tmp_path / "in", 6, seed=4)
    with Pool("mse_two_layer", workers=2) as own:
        run_batch("mse_two_layer", tmp_path / "in", out=tmp_path / "out", pool=own, progress=False)
        zygotes = [box.launcher.zygote.pid for box in own.sandboxes]
        uids = {box.uid for box in own.sandboxes} - {None}
        spares = [child_pids(z) for z in zygotes]
        assert all(len(kids) == 1 for kids in spares), spares
        for (spare,) in spares:
            status = Path(f"/proc/{spare}/status").read_text()
            assert "Seccomp:\t2" in status
            if uids:
                assert int(status.split("Uid:")[1].split()[0]) in uids
    assert not any(Path(f"/proc/{pid}").exists() for pid in zygotes + [k for (k,) in spares])
    assert not [pid for pid in _pids_of(uids)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zygote sandboxes")
def test_a_grader_process_that_dies_leaves_no_worker_behind(tmp_path):
    """Only a slot's grader process holds its zygote's control socket: when it dies, the
    zygote sees it close and kills its spare (or a worker still running student code)
    at once, not when the pool closes."""
    make_batch(tmp_path / "in", 4, seed=4)
    with Pool("mse_two_layer", workers=2) as own:
        run_batch("mse_two_layer", tmp_path / "in", out=tmp_path / "out", pool=own, progress=False)
        box = own.sandboxes[0]
        (spare,) = child_pids(box.launcher.zygote.pid)
        os.kill(own.slots[0].pid, signal.SIGKILL)
        box.launcher.zygote.wait(timeout=10)
        assert not Path(f"/proc/{spare}").exists()
        assert len(child_pids(own.sandboxes[1].launcher.zygote.pid)) == 1  # the other slot's spare is untouched


def _pids_of(uids: set[int]) -> list[int]:
    """Processes whose real uid is one of ``uids`` (from their status: an undumpable
    process's /proc entry belongs to root)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if int(status.split("Uid:")[1].split()[0]) in uids:
                found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ slow: CLI, SIGKILL, Dask

def _cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "autograder", "batch", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _log_lines(out: Path) -> int:
    try:
        return (out / "results.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_sigkill_anytime_then_resume_grades_each_exactly_once(tmp_path):
    """200 submissions incl. hostile ones: an uninterrupted CLI run vs one SIGKILLed several
    times (plus a torn last line) and resumed until done: same gradebook, no duplicates."""
    subs = tmp_path / "subs"
    kinds = make_batch(subs, 200, seed=11, hostile=6)
    redteam = ROOT / "tests" / "redteam"
    extra = sorted(redteam.rglob("*.py"))[:10] if redteam.is_dir() else []
    for i, path in enumerate(extra):  # the red-team suite, where it exists
        shutil.copy(path, subs / f"redteam_{i:02d}_{path.stem}.py")
    n = len(kinds) + len(extra)

    full = tmp_path / "full"
    p = _cli("mse_two_layer", str(subs), "--out", str(full), "--no-progress")
    stdout, stderr = p.communicate(timeout=900)
    assert p.returncode == 0, stderr[-3000:]

    out = tmp_path / "killed"
    rng = random.Random(5)
    kills, resume = 0, []
    for attempt in range(30):
        p = _cli("mse_two_layer", str(subs), "--out", str(out), "--no-progress", *resume)
        resume = ["--resume"]
        target = _log_lines(out) + rng.randint(5, 40)
        deadline = time.monotonic() + 300
        while p.poll() is None and _log_lines(out) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        if p.poll() is not None or kills >= 4:
            stdout, stderr = p.communicate(timeout=900)
            assert p.returncode == 0, stderr[-3000:]
            break
        time.sleep(rng.uniform(0, 0.3))  # any moment, including mid-append
        p.send_signal(signal.SIGKILL)
        p.communicate()
        kills += 1
        if kills == 2:
            with open(out / "results.jsonl", "ab") as fh:
                fh.write(b'{"id":"s00042","sha256":"dead')
    assert kills >= 3, "the batch finished before it could be killed three times"
    ids = [json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == n
    assert len(_rows(out)) == n
    assert _scores(out) == _scores(full)
    assert b'"sha256":"dead' not in (out / "results.jsonl").read_bytes()  # torn record cut off


@pytest.mark.slow
def test_dask_executor_matches_local(tmp_path, pool):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'bpgrade[dask]')")
    make_batch(tmp_path / "in", 10, seed=3, hostile=1)
    local = tmp_path / "local"
    run_batch("mse_two_layer", tmp_path / "in", out=local, pool=pool, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
        remote = tmp_path / "remote"
        summary = run_batch("mse_two_layer", tmp_path / "in", out=remote, progress=False,
                            executor=cluster.scheduler_address, chunk_size=3)
    assert (summary.graded, summary.missing) == (10, [])
    assert _scores(remote) == _scores(local)


def test_a_grader_error_is_recorded_once_with_its_reason_and_not_retried_on_resume(tmp_path, monkeypatch):
    """A submission that makes the grader itself fail (here: grade_path raising, as a full disk
    or a grader bug would) is retried once in a fresh sandbox, then recorded as grader_error
    with the reason; a resumed run leaves it alone (it would fail again, forever) unless
    --retry-errors, and the rest of the class is graded as usual."""
    from autograder.grade import Grader
    from tests.helpers import reference_source

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(reference_source("mse_two_layer"))
    (subs / "bob.py").write_text(reference_source("mse_two_layer") + "\n# bob\n")
    real, attempts = Grader.grade_path, []

    def failing_for_bob(self, path, *args, **kwargs):
        if path.name == "bob.py":
            attempts.append(path.name)
            raise RuntimeError("No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Grader, "grade_path", failing_for_bob)
    out = tmp_path / "out"
    with Pool("mse_two_layer", workers=1, processes=False) as pool:
        first = run_batch("mse_two_layer", subs, out=out, pool=pool, progress=False)
        assert (first.graded, first.grader_errors, len(attempts)) == (2, 1, 2)  # one retry, in a fresh sandbox
        log = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        bob = next(r for r in log if r["id"] == "bob")
        assert bob["status"] == "grader_error" and bob["error"] == "RuntimeError: No space left on device"
        rows = {r["submission_id"]: r for r in _rows(out)}
        assert rows["alice"]["status"] == "done" and float(rows["alice"]["total"]) == pool.spec.max_score
        assert rows["bob"]["status"] == "grader_error" and "No space left on device" in rows["bob"]["note"]

        again = run_batch("mse_two_layer", subs, out=out, pool=pool, resume=True, progress=False)
        assert (again.graded, again.skipped, again.grader_errors, len(attempts)) == (0, 2, 0, 2)
        assert len((out / "results.jsonl").read_text().splitlines()) == 2  # recorded once

        retried = run_batch("mse_two_layer", subs, out=out, pool=pool, resume=True, retry_errors=True, progress=False)
        assert (retried.graded, retried.skipped, retried.grader_errors, len(attempts)) == (1, 1, 1, 4)
