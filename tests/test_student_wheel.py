"""The student wheel as a student gets it: a fresh virtual environment made by the README's student
quick start, run verbatim in a built handout (the wheel and Jupyter from the package index; no
checkout, no solutions). In it, `bpgrade check` as the README says, the notebooks' first cell
installing the checker where it is missing (Colab, a fresh JupyterHub server), and every student
notebook run top to bottom, in a folder without the .ipynb file: the stub (every check reports
`not_implemented`) and the reference pasted in (every check passes)."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder import project
from autograder.students import handout, notebooks, wheel
from tests.helpers import readme_pytest_commands, readme_student_commands, reference_source

pytestmark = pytest.mark.slow

IDS = project.assignment_ids()
LR = "logistic_regression"
PIP_TIMEOUT = 900
RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


@dataclass
class Student:
    handout: Path
    work: Path  #: the handout's student_template/, holding .venv
    python: Path
    wheel: Path

    def env(self) -> dict:
        """Ours without the checkout on the import path or bpgrade's variables."""
        return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BPGRADE_", "VIRTUAL_ENV"))}

    def run(self, *args, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.python), *map(str, args)], cwd=cwd or self.work, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def installed(self) -> bool:
        return self.run("-m", "pip", "show", "-q", wheel.DIST).returncode == 0

    def install(self) -> None:
        if not self.installed():
            done = self.run("-m", "pip", "install", "-q", self.wheel, timeout=PIP_TIMEOUT)
            assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="session")
def student(tmp_path_factory) -> Student:
    out = tmp_path_factory.mktemp("student") / "handout"
    handout.build(out)
    work = out / "student_template"
    (whl,) = work.glob("*.whl")
    install = next(line for line in readme_student_commands() if "pip install " in line)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BPGRADE_", "VIRTUAL_ENV"))}
    made = subprocess.run(["bash", "-c", install], cwd=work, env=env, capture_output=True, text=True,
                          timeout=PIP_TIMEOUT)
    assert made.returncode == 0, made.stderr[-3000:]
    found = Student(out, work, work / ".venv" / "bin" / "python", whl)
    return found


def test_the_environment_has_the_checker_and_no_checkout(student):
    assert student.run("-c", "import torch").returncode != 0  # checks need numpy only
    where = student.run("-c", "import autograder, autograder.project as p; print(autograder.__file__); "
                        "print(p.root()); print(p.student_side())").stdout.split()
    assert where[0].startswith(str(student.work / ".venv")) and where[1].endswith("site-packages/autograder")
    assert where[2] == "True"
    site = Path(where[1]).parent
    assert not list(site.glob("autograder/batch")) and not list(site.glob("autograder/gradescope"))
    assert not list(site.rglob("grading.toml")) and not list(site.rglob("solutions"))


def test_the_readme_recipe_checks_the_stub_and_the_reference(student, tmp_path):
    check = next(line for line in readme_student_commands() if " check " in line)
    env = student.env()
    stub = subprocess.run(["bash", "-c", check], cwd=student.work, env=env, capture_output=True, text=True,
                          timeout=600)
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert "[not_implemented]" in stub.stdout and "hidden tests run on submission" in stub.stdout
    aid = IDS[0]  # the recipe's example
    (tmp_path / f"{aid}.py").write_text(reference_source(aid))
    (tmp_path / ".venv").symlink_to(student.work / ".venv")  # the same environment, beside this file
    done = subprocess.run(["bash", "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout and "public " in done.stdout


def test_the_readme_pytest_recipe_runs_the_checks_one_test_per_part(student):
    """The README's pytest lines, as written, in the student's environment: pytest installed
    beside the wheel finds the checks through its entry point, one test per part."""
    import xml.etree.ElementTree as ET

    cd, install, *runs = readme_pytest_commands()
    assert cd == "cd student_template"
    done = subprocess.run(["bash", "-c", install], cwd=student.work, env=student.env(), capture_output=True,
                          text=True, timeout=PIP_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    (student.work / f"{LR}.py").write_text(reference_source(LR))
    try:
        junit = next(line for line in runs if "--junitxml" in line)
        ran = subprocess.run(["bash", "-c", junit + f" {LR}.py"], cwd=student.work, env=student.env(),
                             capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        xml = student.work / junit.split("--junitxml=", 1)[1].split()[0]
        cases = [c.get("name") for c in ET.parse(xml).getroot().iter("testcase") if c.find("skipped") is None]
        assert sorted(cases) == sorted(p.name for p in project.load_assignment(LR).parts)
        every = subprocess.run(["bash", "-c", runs[0]], cwd=student.work, env=student.env(), capture_output=True,
                               text=True, timeout=600)
        assert every.returncode == 1 and "not_implemented" in every.stdout  # the other stubs fail
    finally:
        shutil.copyfile(notebooks.stub_path(LR), student.work / f"{LR}.py")


def _run_notebook(student: Student, nb, folder: Path) -> nbformat.NotebookNode:
    """Run ``nb`` in the student's environment, its kernel in ``folder`` (the .ipynb is not written
    there: as on Colab, the checks read the functions from the kernel)."""
    script, source, result = folder.parent / "run_notebook.py", folder.parent / "in.ipynb", folder.parent / "out.ipynb"
    script.write_text(RUN_NOTEBOOK)
    nbformat.write(nb, str(source))
    done = student.run(script, source, folder, result, cwd=folder, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return nbformat.read(str(result), as_version=4)


def _outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _errors(nb) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def _check_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and notebooks.CHECK in c.metadata.get("tags", [])]


def _folder(folder: Path, student: Student) -> Path:
    """A new folder holding only the wheel, where a notebook's kernel runs."""
    folder.mkdir(parents=True)
    shutil.copyfile(student.wheel, folder / student.wheel.name)  # beside the notebook, as the handout says
    return folder


@contextlib.contextmanager
def _served(folder: Path):
    """An HTTP server on the loopback interface serving ``folder``: a course's web site."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/wheels/"
        finally:
            server.shutdown()


@pytest.mark.parametrize("source", ["beside", "url"])
def test_the_first_cell_installs_the_checker_where_it_is_missing(student, source, tmp_path):
    """Colab, or a fresh JupyterHub server: no checker installed; the setup cell installs it, from
    the wheel uploaded beside the notebook or from the URL the course published it at."""
    gone = student.run("-m", "pip", "uninstall", "-y", "-q", wheel.DIST)
    assert gone.returncode == 0 and not student.installed(), gone.stderr
    if source == "beside":
        nb = nbformat.read(str(student.work / f"{LR}.ipynb"), as_version=4)
        folder = _folder(tmp_path / "kernel", student)
    else:
        site = tmp_path / "site"
        (site / "wheels").mkdir(parents=True)
        shutil.copyfile(student.wheel, site / "wheels" / student.wheel.name)
        folder = tmp_path / "kernel"
        folder.mkdir()
    with _served(tmp_path / "site") if source == "url" else contextlib.nullcontext() as url:
        if url:  # as `bpgrade handout --wheel-url` writes it (its + as %2B)
            nb = notebooks.build(LR, install=handout._install_url(url, student.wheel.name))
            assert "%2B" in nb.cells[[c.id for c in nb.cells].index("setup")].source
        nb = _run_notebook(student, nb, folder)
    assert student.installed()
    assert _errors(nb) == []
    checks = _check_cells(nb)
    assert checks and all("[not_implemented]" in _outputs(c) for c in checks[:-1])


@pytest.mark.parametrize("aid", IDS)
def test_the_student_notebook_runs_top_to_bottom_stub_and_reference(student, aid, tmp_path):
    student.install()
    spec = project.load_assignment(aid)
    stub = _run_notebook(student, nbformat.read(str(student.work / f"{aid}.ipynb"), as_version=4),
                         _folder(tmp_path / "stub" / "kernel", student))
    assert _errors(stub) == []
    for cell in _check_cells(stub)[:-1]:
        out = _outputs(cell)
        assert out.startswith("FAIL ") and "[not_implemented]" in out and "public 0/" in out, out

    solved = notebooks.fill(notebooks.build(aid), reference_source(aid))
    done = _run_notebook(student, solved, _folder(tmp_path / "reference" / "kernel", student))
    assert _errors(done) == []
    checks = _check_cells(done)
    assert len(checks) == len(spec.parts) + 1
    for cell in checks[:-1]:
        out = _outputs(cell)
        assert out.startswith(f"PASS {cell.metadata['bpgrade']['part']} "), out
        assert "hidden tests run on submission" in out
    final = _outputs(checks[-1])
    assert "FAIL" not in final and final.count("PASS") == len(spec.parts), final
