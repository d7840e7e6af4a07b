"""Gradescope's ``run_autograder``, without otter: grade the submission with bpgrade and write
``results/results.json``.

Gradescope builds an image from the autograder zip (``setup.sh``, run once), then, per
submission, runs ``run_autograder`` as root with the working directory ``/autograder``::

    /autograder/source/                   the unzipped autograder zip (bpgrade/ is the bundle)
    /autograder/submission/               the student's files
    /autograder/submission_metadata.json  the submitters, the submission id, ...
    /autograder/results/results.json      what this module writes

The zip's ``run_autograder`` runs ``python -m autograder.gradescope.harness`` with the bundle on
``PYTHONPATH``; ``$BPGRADE_AUTOGRADER_ROOT`` replaces ``/autograder`` (tests and ``bpgrade
gradescope``'s validation run the same script in a temporary root). The settings (assignment,
bundle, visibility) are the plugin entry of ``source/otter_config.json``, the file a local
``otter run -a autograder.zip`` reads too: there :class:`autograder.gradescope.plugin.BpgradePlugin`
calls :func:`grade_submission` from otter's parent process, so both paths grade alike.

No submitted file is imported, unpickled or run here: the source is read
(:func:`autograder.load.load_source` on the submission folder, as a batch regrade of a Gradescope
export reads it) and graded in bpgrade's sandbox. The hidden cases are fresh for the submission,
keyed by the submitters' emails from ``submission_metadata.json`` (else its submission id) and
the graded source (:func:`autograder.batch.student_key` keys an export's folders alike).
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

from ..catalogue import CATALOGUE
from ..fsutil import atomic_write

ROOT_ENV = "BPGRADE_AUTOGRADER_ROOT"  #: replaces /autograder (tests, local validation)
DEFAULT_ROOT = "/autograder"
CONFIG = "otter_config.json"  #: in source/: bpgrade's settings, read by otter run's plugin too
PLUGIN = "autograder.gradescope.plugin.BpgradePlugin"  #: the key of those settings in CONFIG
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def gradescope_results(public, hidden, *, visibility: str = "visible") -> dict:
    """Gradescope's results.json from the hidden-case Report, worded with the public one:
    one test per part (name, score, max_score, status, output, visibility) and a top-level
    score. Never says "all tests passed": it says which cases, public or hidden, passed."""
    from ..report import to_gradescope

    data = to_gradescope(hidden, visibility=visibility)
    pub = {p.name: p for p in public.parts} if public is not None else {}
    for test, part in zip(data["tests"], hidden.parts):
        p = pub.get(part.name)
        counts = f"public {p.passed}/{p.total} cases passed; " if p is not None and p.total else ""
        counts += f"hidden {part.passed}/{part.total} cases passed" if part.total else "not graded"
        feedback = part.feedback.splitlines()
        if part.ok:  # "all n cases passed (tolerance)": the counts say it already
            feedback = [f"tolerance: {part.tolerance}"]
        elif feedback and re.fullmatch(r"\d+/\d+ cases passed", feedback[0]):
            feedback = feedback[1:]
        test["output"] = "\n".join([counts, *feedback])
    k, n = hidden.cases_passed
    lines = []
    if public is not None:
        pk, pn = public.cases_passed
        lines.append(f"public {pk}/{pn} cases passed; hidden {k}/{n} cases passed "
                     "(the score counts the hidden cases, graded on submission)")
    else:
        lines.append(f"hidden {k}/{n} cases passed")
    for mistake in (m for m in CATALOGUE.values() if m.headline):  # a hang, a crash: said first
        named = [p.name for p in hidden.parts if mistake.code in p.diagnoses]
        if named:
            lines.append(f"{mistake.headline}: " + ", ".join(named))
    if hidden.load_error:
        lines.append(hidden.load_error)
    data["output"] = "\n".join(lines)
    return data


def error_results(message: str, max_score: float = 0.0) -> dict:
    """A results.json that says grading itself failed (score 0, visible)."""
    test = {"name": "Autograder error", "score": 0.0, "max_score": float(max_score), "output": message,
            "visibility": "visible", "status": "failed"}
    return {"score": 0.0, "output": message, "tests": [test], "stdout_visibility": "hidden"}


def read_options(source_dir: Path) -> dict:
    """bpgrade's settings in the zip: ``{"assignment", "bundle", "visibility"}``."""
    config = json.loads((Path(source_dir) / CONFIG).read_text())
    for entry in config.get("plugins") or []:
        if isinstance(entry, dict) and isinstance(entry.get(PLUGIN), dict):
            return check_options(entry[PLUGIN])
    raise ValueError(f"{CONFIG} names no {PLUGIN} settings")


def check_options(options) -> dict:
    if not isinstance(options, dict) or not options.get("assignment"):
        raise ValueError(f"bpgrade's settings in {CONFIG} need an 'assignment'")
    visibility = options.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
    return {"bundle": "bpgrade", **options, "visibility": visibility}


def _max_score(assignment: str, base: Path) -> float:
    try:
        from .. import project

        return project.load_assignment(assignment, base).max_score
    except Exception:  # noqa: BLE001 - only used to word an error
        return 0.0


def _protect(folder: Path) -> None:
    """Hidden material readable by root only: the sandbox's workers run as another uid."""
    if not folder.exists():
        return
    os.chmod(folder, stat.S_IRWXU)
    for path in folder.rglob("*"):
        os.chmod(path, stat.S_IRWXU if path.is_dir() else stat.S_IRUSR | stat.S_IWUSR)


def _student(ag_dir: Path) -> str:
    """The student key of this submission (see :func:`autograder.project.student_key`): its users'
    emails from Gradescope's submission_metadata.json, else ``submission_<id>`` (the folder name
    of a Gradescope export), else "" (no metadata: a local ``otter run``)."""
    from ..project import student_key

    try:
        meta = json.loads((ag_dir / "submission_metadata.json").read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(meta, dict):
        return ""
    users = meta.get("users") if isinstance(meta.get("users"), list) else []
    emails = [u.get("email") for u in users if isinstance(u, dict)]
    return student_key(emails=emails, fallback=f"submission_{meta['id']}" if meta.get("id") is not None else "")


def read_source(submission: Path, assignment: str):
    """The graded text of a submission (a file or the submission folder), or the
    SubmissionError that says why it cannot be read."""
    from ..load import SubmissionError, load_source, without_checker

    try:  # the notebook's setup and check cells are inert, but need not even be imported
        return without_checker(load_source(submission, prefer=assignment))
    except SubmissionError as exc:
        return exc


def grade_submission(source, options: dict, ag_dir: Path, student: str = "") -> tuple[dict, str]:
    """(results.json, text report for the instructor's log) for ``source`` (or the error
    :func:`read_source` returned), graded with the bundle under ``ag_dir/source``."""
    from ..grade import Grader
    from ..sandbox.host import Sandbox

    base = (Path(ag_dir) / "source" / options.get("bundle", "bpgrade")).resolve()
    visibility = options.get("visibility", "visible")
    _protect(base / "solutions")
    if isinstance(source, Exception):
        return error_results(f"could not read the submission: {source}", _max_score(options["assignment"], base)), ""
    try:
        with Sandbox() as sandbox:  # forked before the reference or any hidden case is loaded
            public = Grader(options["assignment"], mode="check", base=base).grade_source(source, sandbox)
            hidden = Grader(options["assignment"], mode="grade", base=base).grade_source(
                source, sandbox, student=student)
    except Exception as exc:  # a grader bug or a broken zip: say so, do not crash the harness
        return error_results(f"bpgrade could not grade this submission ({type(exc).__name__}: {exc}); "
                             "please tell your instructor", _max_score(options["assignment"], base)), ""
    return gradescope_results(public, hidden, visibility=visibility), _text(hidden)


def _text(report) -> str:
    from ..report import to_text

    protections = ", ".join(report.protections) or "none reported"
    return f"---- bpgrade ----\n{to_text(report)}\nsandbox protections in force: {protections}"


def root_dir() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def run(ag_dir: Path) -> dict:
    """Grade ``ag_dir/submission`` and write ``ag_dir/results/results.json``; return it.
    A results.json is written whatever happens (an unreadable zip config included)."""
    ag_dir = Path(ag_dir)
    results = ag_dir / "results" / "results.json"
    text = ""
    try:
        options = read_options(ag_dir / "source")
    except (OSError, ValueError) as exc:
        data = error_results(f"the autograder's settings cannot be read ({exc}); please tell your instructor")
    else:
        student = _student(ag_dir)
        print(f"bpgrade: {options['assignment']}, hidden cases keyed by student {student!r} "
              f"(Python {sys.version.split()[0]})")  # Gradescope keeps stdout for the instructor
        try:
            source = read_source(ag_dir / "submission", options["assignment"])
            data, text = grade_submission(source, options, ag_dir, student=student)
        except Exception as exc:  # noqa: BLE001 - Gradescope must get a results.json whatever happens
            data = error_results(f"bpgrade could not grade this submission ({type(exc).__name__}); "
                                 "please tell your instructor")
    atomic_write(results, json.dumps(data, indent=2, allow_nan=False))
    if text:
        print(text)
    print(f"bpgrade: score {data.get('score')} written to {results}")
    return data


def short_of_full_marks(data: dict, spec) -> str | None:
    """None if ``data`` (a results.json) gives full marks on each of ``spec``'s parts, else how
    it falls short ("scored 7/10 (parts short: ...)")."""
    score = float(data.get("score") or 0.0)
    tests = data.get("tests") or []
    short = [t.get("name") for t in tests if t.get("score") != t.get("max_score")]
    if abs(score - spec.max_score) > 1e-9 or short or len(tests) != len(spec.parts):
        return f"scored {score:g}/{spec.max_score:g} (parts short: {', '.join(map(str, short)) or 'none'})"
    return None


def selfcheck(ag_dir: Path) -> int:
    """setup.sh's last step: grade the bundled reference as a submission, in a scratch layout
    beside ``ag_dir`` (its ``source/`` linked), on the image students will be graded on.
    0 if it scores full marks; otherwise 1, the results printed."""
    import shutil
    import tempfile

    from .. import project

    ag_dir = Path(ag_dir).resolve()
    options = read_options(ag_dir / "source")
    base = ag_dir / "source" / options["bundle"]
    spec = project.load_assignment(options["assignment"], base)
    with tempfile.TemporaryDirectory(prefix="bpgrade-selfcheck-") as tmp:
        root = Path(tmp)
        (root / "source").symlink_to(ag_dir / "source", target_is_directory=True)
        (root / "submission").mkdir()
        shutil.copyfile(project.solution_path(spec.id, base), root / "submission" / f"{spec.id}.py")
        data = run(root)
    problem = short_of_full_marks(data, spec)
    if problem:
        print(f"bpgrade self-check FAILED: the reference {problem} on this image\n{json.dumps(data, indent=2)[:4000]}")
        return 1
    print(f"bpgrade self-check: the reference scored {spec.max_score:g}/{spec.max_score:g} on this image")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--selfcheck"]:
        return selfcheck(Path(args[1]) if len(args) > 1 else root_dir())
    run(Path(args[0]) if args else root_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main())
