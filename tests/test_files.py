"""Issue 21, attacks 2, 4, 5 and 7: submissions are files, the grader survives any source,
student-chosen text never reaches an instructor raw, batch ids never move.

Each test failed on the code before the fix (a link to solutions/ scored 10/10, the zip bomb
peaked at 2.3 GB, a deep expression crashed ``bpgrade grade``, escapes reached the terminal,
``alice .py`` took alice's id, skipped files vanished)."""
from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder import safetext
from autograder.batch import gradebook
from autograder.batch.classreport import build as build_report
from autograder.scan import scan_imports
from autograder.load import SubmissionError, load_source
from autograder.report import to_gradescope, to_text
from autograder.batch.submissions import discover

A = "logistic_regression"
ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / f"{A}.py"
ESC = "\x1b[2J\x1b]0;pwned\x07\x1b[32mscore 10/10\x1b[0m"
RAW = ("\x1b", "\x00", "\x07", "\u202e", "\r")


def _symlink_zip(target: Path, link_to: str) -> Path:
    info = zipfile.ZipInfo(f"{A}.py")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr(info, link_to)
    return target


# ------------------------------------------------------------------ links, devices, fifos

@pytest.mark.parametrize("link_to", [pytest.param(SOLUTION, id="solutions"),
                                     pytest.param(Path("/etc/passwd"), id="etc_passwd")])
def test_a_symlink_in_a_folder_is_refused_by_name(tmp_path, link_to):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / f"{A}.py").symlink_to(link_to)
    with pytest.raises(SubmissionError, match=rf"`{A}.py` is a symbolic link; submit the file itself"):
        load_source(folder, prefer=A)


@pytest.mark.parametrize("link_to", [pytest.param(str(SOLUTION), id="solutions"),
                                     pytest.param("/etc/passwd", id="etc_passwd")])
def test_a_symlink_member_of_a_zip_is_refused_by_name(tmp_path, link_to):
    with pytest.raises(SubmissionError, match=rf"`{A}.py` is a symbolic link"):
        load_source(_symlink_zip(tmp_path / "alice.zip", link_to), prefer=A)


def test_a_symlinked_folder_a_fifo_and_a_hard_link_are_refused(tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "sub").symlink_to(SOLUTION.parent, target_is_directory=True)
    with pytest.raises(SubmissionError, match="`sub` is a symbolic link"):
        load_source(linked, prefer=A)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / f"{A}.py")
    with pytest.raises(SubmissionError, match=f"`{A}.py` is a fifo"):
        load_source(fifo, prefer=A)
    hard = tmp_path / "hard"
    hard.mkdir()
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    os.link(outside, hard / f"{A}.py")
    with pytest.raises(SubmissionError, match=f"`{A}.py` is a hard link"):
        load_source(hard, prefer=A)


def test_a_symlink_to_the_solution_scores_nothing_through_the_grader(tmp_path, sandbox):
    from autograder.grade import grade

    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / f"{A}.py").symlink_to(SOLUTION)
    report = grade(folder, assignment=A, sandbox=sandbox)
    assert report.score == 0 and "symbolic link" in report.load_error


# ------------------------------------------------------------------ zip bomb

def test_a_zip_bomb_with_a_lying_size_stays_under_a_memory_cap(tmp_path):
    """A 1 GiB member claiming 10 bytes: the old zf.read() decompressed it in one call."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"{A}.py", "w") as out:
            block = b"#" * (1 << 20)
            for _ in range(1024):
                out.write(block)
    data = bytearray(bomb.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    assert int.from_bytes(data[cd + 24:cd + 28], "little") == 1 << 30
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")  # the listing says 10 bytes
    data[22:26] = (10).to_bytes(4, "little")  # and so does the local header
    bomb.write_bytes(bytes(data))
    assert bomb.stat().st_size < 2 * 1024 * 1024
    code = ("import resource, sys\n"
            "from autograder.load import load_source, SubmissionError\n"
            "import nbformat, zipfile, zlib\n"
            "print('base_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
            "try:\n    load_source(sys.argv[1], prefer='logistic_regression')\n"
            "except SubmissionError as exc:\n    print('refused:', exc)\n"
            "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    base = int(done.stdout.split("base_kib")[1].split()[0])
    grown_mib = (int(done.stdout.split("peak_kib")[1]) - base) / 1024
    assert grown_mib < 64, done.stdout  # before: about 2 GiB


# ------------------------------------------------------------------ the grader survives any source

DEEP = f"import numpy as np\nx = {'(' * 100_000}1{')' * 100_000}\n"


def test_the_static_scan_never_raises_and_still_finds_imports():
    assert scan_imports(DEEP) == ([], "")
    found, problem = scan_imports("import torch\n" + DEEP + "__import__('ja' 'x')\nfrom tensorflow import nn\n")
    assert found == ["torch", "jax", "tensorflow"] and problem == ""
    assert scan_imports("y = " + "-" * 2_000_000 + "1\nimport torch.nn as t\n")[0] == ["torch"]


def test_a_deep_expression_gives_a_report_not_an_exception(grade_source):
    report = grade_source(A, DEEP)
    assert report.score == 0 and len(report.parts) > 0


def test_the_cli_reports_a_deep_expression(tmp_path):
    path = tmp_path / f"{A}.py"
    path.write_text("import torch\n" + DEEP)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A, str(path), "--json"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "forbidden_import" in done.stdout


SLOW = SOLUTION.read_text() + "\nimport time\n_g = gradients\ndef gradients(*a):\n    time.sleep(0.4)\n    return _g(*a)\n"


def test_a_slow_submission_stops_at_the_wall_budget(grade_source):
    t0 = time.monotonic()
    report = grade_source(A, SLOW, submission_timeout=3.0)
    took = time.monotonic() - t0
    assert took < 3.0 + 5.0 + 2.0  # the budget, at most one call past it, start-up
    codes = {c for p in report.parts for c in p.diagnoses}
    assert "timeout" in codes
    text = to_text(report)
    assert "time budget (3 s of wall clock) ran out" in text


# ------------------------------------------------------------------ student text

def test_safetext_escapes_controls_and_bidi_and_formulas():
    assert safetext.shown(ESC + "\nok\t") == "\\x1b[2J\\x1b]0;pwned\\x07\\x1b[32mscore 10/10\\x1b[0m\nok\t"
    assert safetext.name("a\nb\x00\u202ec") == "a\\x0ab\\x00\\u202ec"
    assert safetext.csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safetext.csv_cell(" @x") == "' @x"


def _no_raw(text: str) -> None:
    assert not any(c in text for c in RAW), repr(text[:300])


def test_escapes_in_a_zip_member_name_never_reach_a_surface(tmp_path, sandbox):
    from autograder.grade import grade

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr(f"{ESC}\u202ea.py", "x = 1\n")  # zipfile cuts a name at NUL
        zf.writestr(f"{ESC}b.py", "x = 2\n")
    report = grade(evil, assignment=A, sandbox=sandbox)
    assert report.load_error and "\\x1b[2J" in report.load_error
    _no_raw(to_text(report, color=False))
    coloured = to_text(report, color=True).replace("\x1b[31m", "").replace("\x1b[32m", "").replace("\x1b[0m", "")
    _no_raw(coloured)
    _no_raw(json.dumps(to_gradescope(report), ensure_ascii=False))


def test_escapes_in_notebook_metadata_never_reach_a_surface(tmp_path, sandbox):
    from autograder.grade import grade

    nb = tmp_path / f"{A}.ipynb"
    nb.write_text(json.dumps({"nbformat": ESC, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    report = grade(nb, assignment=A, sandbox=sandbox)
    assert report.load_error
    _no_raw(to_text(report, color=False))


def test_escapes_from_an_export_never_reach_gradebook_feedback_or_html(tmp_path):
    from autograder.report import Report, to_json

    report = Report(assignment=A, title="t", mode="grade", max_score=10.0, load_error=f"`{ESC}.py` broke")
    record = {"id": "alice", "sha256": "x", "grader_version": "v", "status": "done", "score": 0.0,
              "max_score": 10.0, "parts": {}, "diagnoses": ["load_error"], "seconds": 0.1,
              "students": [{"name": f"=cmd|{ESC}\x00", "email": f"\u202e@evil{ESC}", "sid": "1"}],
              "report": to_json(report)}
    failed = {**record, "id": "bob", "status": "grader_error", "error": f"KeyError: {ESC}"}
    text = gradebook.gradebook_csv([record, failed], [])
    _no_raw(text)
    row = next(csv.DictReader(text.splitlines()))
    assert row["name"].startswith("'=")
    for rec in (record, failed):
        for content in gradebook.feedback_files(rec).values():
            _no_raw(content)
    page, _ = build_report([record, {**failed, "id": f"{ESC}<script>"}], title=f"T{ESC}", parts=[],
                           max_score=10.0, stats={"note": ESC})
    _no_raw(page)
    assert "<script>" not in page


# ------------------------------------------------------------------ batch ids and skipped entries

def test_ids_never_move_and_collisions_are_reported(tmp_path):
    subs = tmp_path / "in"
    subs.mkdir()
    (subs / "alice.py").write_text("x = 1\n")
    first = {i.id: i.path.name for i in discover(subs).items}
    assert first == {"alice": "alice.py"}
    (subs / "alice .py").write_text("x = 2\n")
    (subs / "Bob.py").write_text("x = 3\n")
    (subs / "bob.py").write_text("x = 4\n")
    found = discover(subs)
    ids = {i.path.name: i.id for i in found.items}
    assert ids["alice.py"] == "alice"  # the real alice keeps her id
    assert ids["alice .py"].startswith("alice-") and ids["Bob.py"] != ids["bob.py"]
    assert len({i.lower() for i in ids.values()}) == 4
    assert any("alice .py" in note for note in found.notes) and any("Bob.py" in n for n in found.notes)
    (subs / "aaa alice.py").write_text("x = 5\n")
    again = {i.path.name: i.id for i in discover(subs).items}
    assert all(again[name] == sid for name, sid in ids.items())  # adding a file moves no one


def test_skipped_entries_are_listed_and_get_gradebook_rows(tmp_path, sandbox):
    from autograder.batch import run_batch

    subs = tmp_path / "in"
    subs.mkdir()
    (subs / "carol.py").write_text(SOLUTION.read_text())
    (subs / "dave.PY").write_text("x = 1\n")
    (subs / "erin.py.txt").write_text("x = 1\n")
    (subs / "frank.py").symlink_to(SOLUTION)
    summary = run_batch(A, subs, out=tmp_path / "out", workers=1, progress=False)
    assert set(summary.not_submissions) == {"dave.PY", "erin.py.txt", "frank.py"}
    lines = "\n".join(summary.lines())
    assert "frank.py` is a symbolic link" in lines and "dave.PY" in lines
    with open(tmp_path / "out" / "gradebook.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert len(skipped) == 3 and all(float(r["total"]) == 0 for r in skipped)
    assert any("symbolic link" in r["note"] for r in skipped)
    assert float(next(r for r in rows if r["submission_id"] == "carol")["total"]) == 10
