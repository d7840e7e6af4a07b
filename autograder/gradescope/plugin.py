"""The otter plugin that grades a submission with bpgrade, outside the student's kernel: what a
local ``otter run -a autograder.zip`` uses. Gradescope itself runs the zip's ``run_autograder``
(:mod:`autograder.gradescope.harness`) and no otter at all; both grade through
:func:`autograder.gradescope.harness.grade_submission`.

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

    {"plugins": [{"autograder.gradescope.plugin.BpgradePlugin":
                  {"assignment": "<assignment id>", "bundle": "bpgrade", "visibility": "visible"}}]}

``bundle`` is the project root inside the zip (``source/bpgrade``): assignment folder, hidden
reference and this assignment's hidden key (never the course secret).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from otter.plugins import AbstractOtterPlugin

from ..fsutil import atomic_write
from .harness import _student, check_options, error_results, grade_submission, gradescope_results, read_source

__all__ = ["BpgradePlugin", "error_results", "gradescope_results"]

OTTER_LOG = ".OTTER_LOG"
KEEP = ("tests", "__init__.py")  #: what otter itself puts in the submission folder
PLACEHOLDER_PY = "# graded by bpgrade from the submitted source, outside this kernel\n"


class _Results:
    """Stands in for ``GradingResults.to_gradescope_dict`` (set on the instance)."""

    def __init__(self, data: dict):
        self.data = data

    def __call__(self, *args, **kwargs) -> dict:
        return self.data


class BpgradePlugin(AbstractOtterPlugin):
    """Grade the submission with bpgrade in otter's parent process; see the module docstring."""

    def before_grading(self, config) -> None:
        options = check_options(self.plugin_config or {})
        submission = Path(self.submission_path)
        folder = submission.parent
        ag_dir = Path(getattr(config, "autograder_dir", None) or folder.parent)
        self.results_path = ag_dir / "results" / "results.json"
        config.grade_from_log = False
        for path in folder.rglob(OTTER_LOG):  # otter would dill-load it as root
            path.unlink()
        source = read_source(submission, options["assignment"])
        for path in folder.iterdir():  # nothing submitted may be importable by otter's kernel
            if path.name in KEEP or path == submission:
                continue
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        _neutralise(submission)
        self.data, self.text = grade_submission(source, options, ag_dir, student=_student(ag_dir))
        atomic_write(self.results_path, json.dumps(self.data, indent=2, allow_nan=False))

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


def _neutralise(submission: Path) -> None:
    """Overwrite the submission file: otter reads it again (and its folder is on the kernel's
    sys.path, so a submitted ``numpy.py`` would otherwise be imported there)."""
    if submission.suffix == ".ipynb":
        nb = nbformat.v4.new_notebook(metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
        nbformat.write(nb, str(submission))
    else:
        submission.write_text(PLACEHOLDER_PY)
