"""Student notebooks: committed and up to date, valid, inert when graded, and their check cells
print `bpgrade check`'s feedback, in a real Jupyter kernel."""
from __future__ import annotations

import io
import linecache
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

from autograder import notebook, project
from autograder.students import checker as nbcheck, notebooks
from autograder.grade import grade
from tests.helpers import mutate, reference_source

IDS = project.assignment_ids()
LR = "logistic_regression"
MISSING_1_OVER_N = ("return (predict_proba(X, w, b) - y) / X.shape[0]", "return predict_proba(X, w, b) - y")


def _cells(nb, tag):
    return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


@pytest.mark.parametrize("aid", IDS)
def test_committed_notebook_is_valid_and_up_to_date(aid):
    path = notebooks.notebook_path(aid)
    assert path.is_file(), f"{path} is missing: run `bpgrade notebooks`"
    nbformat.validate(nbformat.read(str(path), as_version=4))
    assert path.read_text() == notebooks.render(aid), f"{path} is out of date: run `bpgrade notebooks`"


@pytest.mark.parametrize("aid", IDS)
def test_one_answer_cell_per_function_and_one_check_cell_per_part(aid):
    spec = project.load_assignment(aid)
    nb = notebooks.build(aid)
    answers = [c.metadata["bpgrade"]["function"] for c in _cells(nb, notebooks.ANSWER)]
    assert answers == [f.name for f in spec.functions]
    checks = [c.metadata["bpgrade"]["part"] for c in _cells(nb, notebooks.CHECK)]
    assert checks[-1] == "*"  # check.all()
    assert sorted(checks[:-1]) == sorted(p.name for p in spec.parts)
    order = [c.metadata.get("bpgrade", {}) for c in nb.cells]
    for p in spec.parts:  # each check cell comes after its function's answer cell
        assert order.index({"function": p.function}) < order.index({"part": p.name})
    markdown = "\n\n".join(c.source for c in nb.cells if c.id.startswith("instructions-"))
    instructions = (spec.folder / "instructions.md").read_text()
    assert markdown.split() == instructions.split()  # all of it, math (LaTeX) included
    assert not any(c.get("outputs") for c in nb.cells)


def test_notebook_with_the_reference_scores_full_marks_when_graded(tmp_path, sandbox):
    """The setup and check cells are inert in the grader's sandbox (no kernel there)."""
    path = tmp_path / f"{LR}.ipynb"
    nbformat.write(notebooks.fill(notebooks.build(LR), reference_source(LR)), str(path))
    report = grade(path, assignment=LR, sandbox=sandbox)
    assert report.score == report.max_score
    assert not report.notes, report.notes


def _namespace(source: str, tmp_path: Path, **names) -> dict:
    """Run ``source`` as notebook cells would be: each chunk (split at two blank lines)
    compiled under its own fake cell file name, kept in linecache as IPython does."""
    ns: dict = {"__name__": "__main__", "In": [""], **names}
    for i, cell in enumerate(source.split("\n\n\n")):
        name = str(tmp_path / f"ipykernel_cell_{i}.py")
        linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
        exec(compile(cell, name, "exec"), ns)
        ns["In"].append(cell)
    return ns


def test_check_prints_the_same_feedback_as_bpgrade_check(tmp_path, sandbox):
    source = mutate(reference_source(LR), *MISSING_1_OVER_N)
    ns = _namespace(source, tmp_path)
    check = notebook.checker(LR, enabled=True)
    try:
        out = io.StringIO()
        with redirect_stdout(out):
            check("grad_logits", ns)
        shown = check.last_report
        full = grade(source=source, assignment=LR, mode="check", sandbox=sandbox)
    finally:
        check.close()
    expected = next(p for p in full.parts if p.name == "grad_logits")
    assert [p.name for p in shown.parts] == ["grad_logits"]
    assert shown.parts[0].feedback == expected.feedback
    assert "scaled_by_N" in expected.feedback and expected.feedback.splitlines()[0] in out.getvalue()
    assert out.getvalue().rstrip().endswith("hidden tests run on submission")


def test_source_from_namespace_takes_helpers_constants_and_drops_check_calls(tmp_path):
    cells = [
        "import math\nEPS = 1e-12\nLIMIT = (1, 2)",
        "def _helper(z):\n    return z + EPS * math.pi",
        "def sigmoid(z):\n    return _helper(z)\ncheck('sigmoid')",
        "def unrelated():\n    while True:\n        pass",
    ]
    ns = _namespace("\n\n\n".join(cells), tmp_path, check=lambda *a: None)
    text = nbcheck.source_from_namespace(ns, ["sigmoid", "predict_proba"])
    assert "import math" in text and "EPS = 1e-12" in text
    assert "def _helper" in text and "def sigmoid" in text
    assert "check(" not in text and "unrelated" not in text
    assert text.index("def _helper") < text.index("def sigmoid")
    compiled = {}
    exec(compile(text, "<joined>", "exec"), compiled)
    assert compiled["sigmoid"](1.0) == pytest.approx(1.0 + 1e-12 * 3.141592653589793)


def test_cli_notebooks_check_reports_up_to_date():
    from click.testing import CliRunner

    from autograder.cli import main

    result = CliRunner().invoke(main, ["notebooks", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


# ------------------------------------------------------------------ in a real Jupyter kernel

def _execute(nb, cwd: Path, timeout: int = 300):
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _errors(nb) -> list[str]:
    return [o.get("ename", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


# The stub and the reference notebook of every assignment run top to bottom in a kernel of a
# student's fresh environment, with the wheel only: tests/test_student_wheel.py.


@pytest.mark.slow
def test_buggy_notebook_check_cells_in_a_kernel_match_bpgrade_check(tmp_path):
    source = mutate(reference_source(LR), *MISSING_1_OVER_N)
    nb = _execute(notebooks.fill(notebooks.build(LR), source), tmp_path)
    path = tmp_path / f"{LR}.ipynb"
    nbformat.write(nb, str(path))
    cli = grade(path, assignment=LR, mode="check")  # what `bpgrade check` prints, from the saved file
    by_part = {c.metadata["bpgrade"]["part"]: _text(c) for c in _cells(nb, notebooks.CHECK)}
    for part in cli.parts:
        shown = by_part[part.name]
        assert shown.startswith(("PASS " if part.ok else "FAIL ") + part.name)
        if not part.ok:
            for line in part.feedback.splitlines():
                assert line in shown, (part.name, line)
    assert {p.name for p in cli.parts if not p.ok} == {"grad_logits", "gradients.dw", "gradients.db"}
