"""The student handout: complete, usable with `bpgrade check` on its own, and free of anything
hidden (no solutions/, hidden seed, reference code or hidden expected value)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autograder import project
from autograder.students import handout, notebooks as notebook
from autograder.cli import main
from autograder.cases import groups
from autograder.grade import Grader
from tests.helpers import reference_source

IDS = project.assignment_ids()
LR = "logistic_regression"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "handout"
    result = CliRunner().invoke(main, ["handout", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _texts(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}


def test_handout_holds_stubs_notebooks_engine_assignments_and_readme(bundle):
    for aid in IDS:
        assert (bundle / "student_template" / f"{aid}.py").read_text() == notebook.stub_path(aid).read_text()
        assert (bundle / "student_template" / f"{aid}.ipynb").read_text() == notebook.render(aid)
        assert (bundle / "assignments" / aid / "instructions.md").is_file()
        assert (bundle / "assignments" / aid / "oracle.py").is_file()
    for name in ("README.md", "pyproject.toml", "autograder/grade.py", "autograder/cli.py"):
        assert (bundle / name).is_file(), name
    readme = (bundle / "README.md").read_text()
    assert "bpgrade check" in readme and "pip install -e ." in readme


def test_handout_contains_nothing_hidden(bundle):
    texts = _texts(bundle)
    assert not [p for p in texts if "solutions" in Path(p).parts or p.endswith("grading.toml")]
    assert not [p for p in texts if "__pycache__" in p or p.endswith(".pyc")]
    blob = "\n".join(texts.values())
    squeezed = "".join(blob.split())
    # the hidden secret and keys
    assert project.secret_markers() and not [m for m in project.secret_markers() if m in blob]
    # the reference solutions: every graded function's body, and every distinctive line
    for marker in handout.hidden_markers():
        assert marker not in blob and marker not in squeezed, marker[:60]
    # Lines the public assignment folders share with a reference are public by design (they
    # compute reference-correct inputs, e.g. a forward pass; the text has pseudo-code); no other
    # line may appear.
    public = "".join(p.read_text() for p in [*project.assignments_dir().glob("*/*.*"),
                                             *notebook.stub_path(LR).parent.glob("*.py")] if p.is_file())
    for aid in IDS:
        for line in reference_source(aid).splitlines():
            line = line.strip()
            if len(line) > 24 and not line.startswith(("#", "def ", '"""')) and line not in public:
                assert line not in blob, (aid, line)
    # hidden expected values: outputs of the hidden cases, as printed by repr and %.10g
    for aid in (LR,):
        grader = Grader(aid, mode="grade", shared=True)
        found = []
        for key, parts in groups(grader.spec).items():
            for case in grader.cases(key)[:3]:
                for value in grader.expected(parts[0], case).values():
                    for x in np.ravel(value)[:4]:
                        x = float(x)
                        for text in (repr(x), f"{x:.10g}"):
                            if sum(ch.isdigit() for ch in text.split("e")[0]) >= 8 and text in blob:
                                found.append(text)  # a number with 8+ digits: not a round probe value
        assert not found, found


def _env(bundle: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPGRADE_", "PYTHON"))}
    env.update(BPGRADE_ROOT=str(bundle), PYTHONPATH=str(bundle))
    return env


def test_bpgrade_check_runs_from_the_handout_without_solutions(bundle, tmp_path):
    env = _env(bundle)
    where = subprocess.run([sys.executable, "-c", "import autograder, autograder.project as p; "
                            "print(autograder.__file__); print(p.root())"],
                           cwd=bundle, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(bundle / "autograder" / "__init__.py"), str(bundle)]  # the handout's own engine
    assert not (bundle / "solutions").exists()

    work = bundle / "student_template"
    for aid in project.assignment_ids():  # every assignment, with the handout's files only
        stub = subprocess.run([sys.executable, "-m", "autograder", "check", aid, f"{aid}.py"],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert stub.returncode == 1, stub.stderr
        assert "[not_implemented]" in stub.stdout
        assert stub.stdout.rstrip().endswith("hidden tests run on submission")

        mine = tmp_path / f"{aid}.py"
        mine.write_text(reference_source(aid))
        done = subprocess.run([sys.executable, "-m", "autograder", "check", aid, str(mine)],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (aid, done.stdout + done.stderr)
        assert "FAIL" not in done.stdout and "public " in done.stdout


def test_handout_refuses_a_stub_that_holds_the_reference(tmp_path):
    base = tmp_path / "project"
    shutil.copytree(project.assignments_dir() / LR, base / "assignments" / LR,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (base / "solutions").mkdir()
    shutil.copyfile(project.solution_path(LR), base / "solutions" / f"{LR}.py")
    (base / "student_template").mkdir()
    (base / "student_template" / f"{LR}.py").write_text(reference_source(LR))  # an author's slip
    (base / "student_template" / "README.md").write_text("readme\n")
    shutil.copyfile(project.root() / "pyproject.toml", base / "pyproject.toml")
    with pytest.raises(handout.HandoutError, match="hidden material"):
        handout.build(tmp_path / "out", base=base)
    assert not (tmp_path / "out").exists()


def test_handout_refuses_a_non_empty_folder_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["handout", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output


@pytest.mark.slow
def test_handout_is_pip_installable(bundle, tmp_path):
    pytest.importorskip("setuptools")  # the build backend, without fetching it (--no-build-isolation)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(bundle)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(tmp_path.glob("bpgrade-*.whl"))
