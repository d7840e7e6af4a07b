"""The otter plugin that grades a Gradescope submission with bpgrade, outside the student's kernel.

otter runs a submission's notebook in a Jupyter kernel and its tests in that same kernel, so
student code there can rewrite otter's test runners, read hidden tests, and, as root in the
Gradescope container, rewrite the reference solution. This plugin never lets that happen.
Its hooks run in otter's parent process (``otter.run.run_autograder``), in this order:

``before_grading(config)``
    before any student code runs: delete a submitted ``.OTTER_LOG`` (otter would unpickle it
    with dill) and every other file otter did not ask for, read the submission's source,
    replace the submission file with an inert placeholder, grade the source with bpgrade's
    sandbox (hidden cases, reference and torch oracles; public cases too, for the summary) and
    write ``results/results.json`` at once, so it exists even if otter fails later.
``before_execution(nb)``
    return a notebook without student code: otter's kernel still starts and runs otter's own
    cells, but nothing of the submission, so it cannot hang, die or tamper.
``after_grading(results)``
    make otter write bpgrade's results.json instead of its own.

Configured in the autograder zip's ``otter_config.json`` (written by ``bpgrade gradescope``)::

    {"plugins": [{"autograder.otter_plugin.BpgradePlugin":
                  {"assignment": "<assignment id>", "bundle": "bpgrade", "visibility": "visible"}}]}

``bundle`` is the project root inside the zip (``source/bpgrade``): assignment folder, hidden
reference and this assignment's hidden key (never the course secret). The hidden cases are fresh
for the submission: keyed by the submitters' emails from Gradescope's
``submission_metadata.json`` (else its submission id) and the graded source, as a batch regrade
of a Gradescope export keys them (:func:`autograder.batch.student_key`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin

from .gradebook import atomic_write

OTTER_LOG = ".OTTER_LOG"
KEEP = ("tests", "__init__.py")  #: what otter itself puts in the submission folder
PLACEHOLDER_PY = "# graded by bpgrade from the submitted source, outside this kernel\n"


def gradescope_results(public, hidden, *, visibility: str = "visible") -> dict:
    """Gradescope's results.json from the hidden-case Report, worded with the public one:
    one test per part (name, score, max_score, status, output, visibility) and a top-level
    score. Never says "all tests passed": it says which cases, public or hidden, passed."""
    from .report import to_gradescope

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
    timed_out = [p.name for p in hidden.parts if "timeout" in p.diagnoses]
    if timed_out:
        lines.append("timed out (the call hung and was stopped): " + ", ".join(timed_out))
    crashed = [p.name for p in hidden.parts if "crashed" in p.diagnoses]
    if crashed:
        lines.append("the process running your code died in: " + ", ".join(crashed))
    if hidden.load_error:
        lines.append(hidden.load_error)
    data["output"] = "\n".join(lines)
    return data


def error_results(message: str, max_score: float = 0.0) -> dict:
    """A results.json that says grading itself failed (score 0, visible)."""
    test = {"name": "Autograder error", "score": 0.0, "max_score": float(max_score), "output": message,
            "visibility": "visible", "status": "failed"}
    return {"score": 0.0, "output": message, "tests": [test], "stdout_visibility": "hidden"}


def _max_score(assignment: str, base: Path) -> float:
    try:
        from . import project

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


class _Results:
    """Stands in for ``GradingResults.to_gradescope_dict`` (set on the instance)."""

    def __init__(self, data: dict):
        self.data = data

    def __call__(self, *args, **kwargs) -> dict:
        return self.data


class BpgradePlugin(AbstractOtterPlugin):
    """Grade the submission with bpgrade in otter's parent process; see the module docstring."""

    def _config(self) -> dict:
        config = self.plugin_config or {}
        if not isinstance(config, dict) or not config.get("assignment"):
            raise ValueError("BpgradePlugin needs {'assignment': <id>} in otter_config.json")
        return config

    def before_grading(self, config) -> None:
        options = self._config()
        submission = Path(self.submission_path)
        folder = submission.parent
        ag_dir = Path(getattr(config, "autograder_dir", None) or folder.parent)
        self.results_path = ag_dir / "results" / "results.json"
        config.grade_from_log = False
        for path in folder.rglob(OTTER_LOG):  # otter would dill-load it as root
            path.unlink()
        source = _read_source(submission, options["assignment"])
        for path in folder.iterdir():  # nothing submitted may be importable by otter's kernel
            if path.name in KEEP or path == submission:
                continue
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        _neutralise(submission)
        self.data = self._grade(source, options, ag_dir, student=_student(ag_dir))
        atomic_write(self.results_path, json.dumps(self.data, indent=2, allow_nan=False))

    def _grade(self, source, options: dict, ag_dir: Path, student: str = "") -> dict:
        from .grade import Grader
        from .sandbox.host import Sandbox

        base = (ag_dir / "source" / options.get("bundle", "bpgrade")).resolve()
        visibility = options.get("visibility", "visible")
        _protect(base / "solutions")
        if isinstance(source, Exception):
            return error_results(f"could not read the submission: {source}", _max_score(options["assignment"], base))
        try:
            with Sandbox() as sandbox:  # forked before the reference or any hidden case is loaded
                public = Grader(options["assignment"], mode="check", base=base).grade_source(source, sandbox)
                hidden = Grader(options["assignment"], mode="grade", base=base).grade_source(
                    source, sandbox, student=student)
        except Exception as exc:  # a grader bug or a broken zip: say so, do not crash otter
            return error_results(f"bpgrade could not grade this submission ({type(exc).__name__}: {exc}); "
                                 "please tell your instructor", _max_score(options["assignment"], base))
        self.text = _text(hidden)
        return gradescope_results(public, hidden, visibility=visibility)

    def before_execution(self, submission):
        nb = nbformat.v4.new_notebook(metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        })
        nb.cells.append(nbformat.v4.new_markdown_cell(
            "Graded by bpgrade from the submitted source; no submitted code runs in this kernel."))
        return nb

    def after_grading(self, results) -> None:
        results.to_gradescope_dict = _Results(self.data)

    def generate_report(self) -> str:
        return getattr(self, "text", "")


def _student(ag_dir: Path) -> str:
    """The student key of this submission (see :func:`autograder.project.student_key`): its users'
    emails from Gradescope's submission_metadata.json, else ``submission_<id>`` (the folder name
    of a Gradescope export), else "" (no metadata: a local ``otter run``)."""
    from .project import student_key

    try:
        meta = json.loads((ag_dir / "submission_metadata.json").read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(meta, dict):
        return ""
    users = meta.get("users") if isinstance(meta.get("users"), list) else []
    emails = [u.get("email") for u in users if isinstance(u, dict)]
    return student_key(emails=emails, fallback=f"submission_{meta['id']}" if meta.get("id") is not None else "")


def _read_source(submission: Path, assignment: str):
    from .load import SubmissionError, load_source

    from .notebook import without_checker

    try:  # the notebook's setup and check cells are inert, but need not even be imported
        return without_checker(load_source(submission, prefer=assignment))
    except SubmissionError as exc:
        return exc


def _neutralise(submission: Path) -> None:
    """Overwrite the submission file: otter reads it again (and its folder is on the kernel's
    sys.path, so a submitted ``numpy.py`` would otherwise be imported there)."""
    if submission.suffix == ".ipynb":
        nb = nbformat.v4.new_notebook(metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
        nbformat.write(nb, str(submission))
    else:
        submission.write_text(PLACEHOLDER_PY)


def _text(report) -> str:
    from .report import to_text

    return "---- bpgrade ----\n" + to_text(report)
