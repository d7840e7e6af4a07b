"""The student handout: everything a student needs to work and check locally, nothing hidden.

Layout of the bundle (the repository's own layout, minus ``solutions/`` and ``tests/``)::

    README.md           how to install the checker and check locally (student_template/README.md)
    pyproject.toml      so that ``pip install -e .`` gives the ``bpgrade`` command and the pytest
                        plugin (its pytest settings are the students': no instructors' tests/)
    autograder/         the engine (local checks use the public seed and the torch oracle only)
    assignments/<id>/   instructions, parts, case generators, torch oracle (all public), and
                        expected/public-<seed>.npz: the public cases' expected outputs, computed
                        by the torch oracle now, so that checks need numpy only
                        (:mod:`autograder.students.expected`)
    student_template/   <id>.py stubs and <id>.ipynb notebooks, and bpgrade.toml, which makes
                        ``pytest`` check them (:mod:`autograder.students.folder`)

``build()`` refuses to finish if any file it wrote contains the hidden secret or key, or a line of a
reference solution that the public files do not also contain.
"""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from .. import project
from . import expected, folder, notebooks

INSTRUCTOR_ONLY = ("batch", "gradescope")  #: engine packages a student never runs
MIN_BODY = 30  #: characters (whitespace removed) for a reference function body to be a marker


class HandoutError(Exception):
    """The handout cannot be built (or would contain hidden material)."""


def _copy_assignment(src: Path, dst: Path) -> list[Path]:
    """The assignment's files (:func:`expected.assignment_files`), then its public cases'
    expected outputs, recorded with torch so that checks need numpy only."""
    written = []
    for path in expected.assignment_files(src):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    return written


#: the handout's pytest settings: `pytest` anywhere in it runs the assignment files' checks
#: (marked by student_template/bpgrade.toml) and the student's own tests
STUDENT_PYTEST = """[tool.pytest.ini_options]
# `pytest` runs the local checks of each assignment file in student_template/, one test per
# part, and your own test_*.py files (README, "Local tests with pytest")
addopts = "-ra"
"""


def _student_pyproject(text: str) -> str:
    """The project file with the instructors' pytest settings (their tests/ folder) replaced."""
    table = re.compile(r"^\[tool\.pytest\.ini_options\]\n(?:(?!\[).*\n?)*", re.MULTILINE)
    return table.sub(lambda _: STUDENT_PYTEST + "\n", text).rstrip("\n") + "\n"


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def hidden_markers(base: Path | None = None, assignments: list[str] | None = None) -> list[str]:
    """Strings that must never reach a student: the hidden secret and keys (hex), and the body of every
    reference function (docstring removed, whitespace squeezed out) of at least
    ``MIN_BODY`` characters, for the functions students write. Single lines and helpers are not
    markers: the public assignment folders legitimately share short expressions with the
    reference (e.g. a stable sigmoid, a forward pass)."""
    base = base or project.root()
    markers = []
    markers += project.secret_markers(base)
    for aid in assignments or project.assignment_ids(base):
        ref = project.solution_path(aid, base)
        if not ref.is_file():
            continue
        graded = {f.name for f in project.load_assignment(aid, base).functions}
        source = ref.read_text()
        lines = source.splitlines()
        for node in ast.parse(source).body:
            if not isinstance(node, ast.FunctionDef) or node.name not in graded:
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if not body:
                continue
            text = _squeeze("\n".join(lines[body[0].lineno - 1:body[-1].end_lineno]))
            if len(text) >= MIN_BODY:
                markers.append(text)
    return markers


def build(out: Path, *, base: Path | None = None, assignments: list[str] | None = None,
          force: bool = False) -> list[Path]:
    """Write the handout into ``out`` (which must not exist, or be empty, unless ``force``)."""
    base = base or project.root()
    out = Path(out)
    ids = assignments or project.assignment_ids(base)
    unknown = sorted(set(ids) - set(project.assignment_ids(base)))
    if unknown:
        raise HandoutError(f"unknown assignment(s) {unknown}")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise HandoutError(f"{out} exists and is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    written = []
    engine = project.package_dir()
    for path in project.engine_files(without=INSTRUCTOR_ONLY):
        target = out / "autograder" / path.relative_to(engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    for aid in ids:
        written += _copy_assignment(project.assignments_dir(base) / aid, out / "assignments" / aid)
        written.append(expected.record(aid, base, folder=out / "assignments" / aid))
        stub = notebooks.stub_path(aid, base)
        target = out / "student_template" / stub.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stub, target)
        nb = out / "student_template" / f"{aid}.ipynb"
        nb.write_text(notebooks.render(aid, base))
        written += [target, nb]
    written.append(folder.write_marker(out / "student_template", ids))
    (out / "pyproject.toml").write_text(_student_pyproject((base / "pyproject.toml").read_text()))
    shutil.copyfile(base / "student_template" / "README.md", out / "README.md")
    written += [out / "pyproject.toml", out / "README.md"]

    leaks = scan(out, hidden_markers(base, ids))
    if leaks:
        shutil.rmtree(out)
        raise HandoutError("the handout would contain hidden material: " + "; ".join(leaks[:5]))
    return written


def scan(folder: Path, markers: list[str]) -> list[str]:
    """``"<file>: <marker>"`` for every marker found in a file under ``folder`` (compared with
    whitespace squeezed out; notebooks by their cell sources), and any solutions/ folder."""
    found = []
    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if "solutions" in rel.parts:
            found.append(f"{rel}: a solutions/ folder")
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix == ".ipynb":
            import json

            try:
                cells = json.loads(text).get("cells", [])
                text += "\n".join("".join(c.get("source", "")) for c in cells)
            except (ValueError, AttributeError):
                pass
        squeezed = _squeeze(text)
        for marker in markers:
            if marker in text or marker in squeezed:
                found.append(f"{rel}: {marker[:40]!r}")
    return found
