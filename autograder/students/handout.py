"""The student handout: everything a student needs to work and check locally, nothing hidden.

Layout of the bundle::

    README.md           how to install the checker and check locally, per platform (generated
                        from student_template/README.md and :func:`recipes`)
    assignments/<id>/   instructions, parts, case generators, torch oracle (all public),
                        whatever else a public assignment folder holds, and
                        expected/public-<seed>.npz: the public cases' expected outputs, computed
                        by the torch oracle now, so that checks need numpy only
                        (:mod:`autograder.students.expected`)
    student_template/   <id>.py stubs, <id>.ipynb notebooks, bpgrade.toml (which makes
                        ``pytest`` check them: :mod:`autograder.students.folder`) and the student wheel
                        (bpgrade_student-<version>-py3-none-any.whl: the engine's student side and
                        every file of assignments/, the pytest plugin among its entry points:
                        see :mod:`autograder.students.wheel`)

``build()`` refuses to finish if any file it wrote (the wheel's members included) contains the
hidden secret or key, or a line of a reference solution that the public files do not also contain.
"""
from __future__ import annotations

import ast
import re
import shutil
import urllib.parse
import zipfile
from pathlib import Path

from .. import project
from . import expected, folder, notebooks, wheel

INSTRUCTOR_ONLY = project.INSTRUCTOR_ONLY  #: engine packages a student never runs
MIN_BODY = 30  #: characters (whitespace removed) for a reference function body to be a marker
RECIPES = "{{recipes}}"  #: where the handout README template takes the per-platform recipes


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
          force: bool = False, wheel_url: str | None = None) -> list[Path]:
    """Write the handout into ``out`` (which must not exist, or be empty, unless ``force``).
    ``wheel_url``: where the instructor will publish the wheel (a folder URL ending in ``/``, or
    the wheel's own URL); the notebooks then install the checker from there, else from the
    wheel file beside them. The wheel is the first file of the list returned."""
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
    work = out / "student_template"
    work.mkdir()
    for aid in ids:
        written += _copy_assignment(project.assignments_dir(base) / aid, out / "assignments" / aid)
        written.append(expected.record(aid, base, folder=out / "assignments" / aid))
        stub = notebooks.stub_path(aid, base)
        shutil.copyfile(stub, work / stub.name)
        written.append(work / stub.name)
    # after everything that writes into assignments/: the wheel carries all of it
    try:
        built = wheel.build(out / "assignments", work)
    except wheel.WheelError as exc:
        shutil.rmtree(out)
        raise HandoutError(str(exc)) from None
    install = _install_url(wheel_url, built.name) if wheel_url else None
    for aid in ids:
        nb = work / f"{aid}.ipynb"
        nb.write_text(notebooks.render(aid, base, install=install))
        written.append(nb)
    written.append(folder.write_marker(work, ids))  # after the stubs and notebooks it fingerprints
    template = (base / "student_template" / "README.md").read_text()
    (out / "README.md").write_text(template.replace(RECIPES, recipes(built.name, ids[0], install)))
    written = [built, *written, out / "README.md"]

    leaks = scan(out, hidden_markers(base, ids))
    if leaks:
        shutil.rmtree(out)
        raise HandoutError("the handout would contain hidden material: " + "; ".join(leaks[:5]))
    return written


def _install_url(url: str, wheel_name: str) -> str:
    """The wheel's URL: ``url`` itself if it names this wheel, else the folder ``url`` joined
    with the wheel's name (its ``+`` written %2B, as some web servers read a bare one as a space)."""
    if url.endswith(".whl"):
        named = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        if named != wheel_name:
            raise HandoutError(f"--wheel-url names {named}, but this build is {wheel_name}: give the folder "
                               f"URL you will upload it to (ending in /) and the name is added")
        return url
    return url.rstrip("/") + "/" + urllib.parse.quote(wheel_name)


# ------------------------------------------------------------------ the install recipes

def posix_recipe(example: str) -> list[str]:
    """The terminal commands of a Linux or macOS student, from the handout folder: the main
    README's student quick start, the handout README's and what ``bpgrade handout`` prints."""
    lines = [
        ("cd student_template", ""),
        (f"python3 -m venv .venv && .venv/bin/pip install {wheel.GLOB} notebook", ""),  # any build's name
        (f".venv/bin/bpgrade check {example} {example}.py", f"# or {example}.ipynb (saved)"),
        (".venv/bin/jupyter notebook", "# the notebooks, in your browser"),
    ]
    width = max(len(command) for command, comment in lines if comment) + 2
    return [f"{command:<{width}}{comment}".rstrip() for command, comment in lines]


def windows_recipe(wheel_file: str, example: str) -> list[str]:
    """The same in PowerShell (or cmd), where no shell expands the wheel's name."""
    return [
        "cd student_template",
        "py -m venv .venv",
        f".venv\\Scripts\\pip install {wheel_file} notebook",
        f".venv\\Scripts\\bpgrade check {example} {example}.py",
        ".venv\\Scripts\\jupyter notebook",
    ]


def recipes(wheel_file: str, example: str, url: str | None = None) -> str:
    """The handout README's install section: one recipe per platform, in Markdown."""
    source = f"`{url}`" if url else f"the file `{wheel_file}` in `student_template/`"
    # without a URL, the notebooks install the wheel from the folder they are in
    beside = "" if url else f" with `{wheel_file}` beside it"
    block = "\n".join
    return f"""The checker is one file, {source}: install it with pip, with numpy and its other
dependencies (torch is not needed). Python 3.10 or newer.

### Linux and macOS (a terminal)

From this folder, in a virtual environment of its own (`.venv`); Debian's and Ubuntu's own Python
refuse `pip install` outside one ("externally-managed-environment"; there `sudo apt install
python3-venv` gives the `venv` module). On macOS use Python from python.org or Homebrew (Apple's
`python3` is 3.9).

```bash
{block(posix_recipe(example))}
```

### Windows (PowerShell)

From this folder, with Python from python.org (`py` is its launcher):

```powershell
{block(windows_recipe(wheel_file, example))}
```

On macOS and Windows there is no Linux sandbox: checks run your code in a separate Python
process, and say so ("note: not sandboxed"). That is fine for your own code on your own machine.

### Google Colab

Open the notebook in Colab (File > Upload notebook){beside and f", and upload `{wheel_file}` in the Files pane on the left (into `/content`)"}.
Run the notebook's first cell: where the checker is missing it runs `%pip install`, which takes a few
seconds. When Colab gives you a new runtime (after a disconnection or a reset), run it again{beside and " (upload the wheel again first: a new runtime starts with an empty `/content`)"}.
Colab's own numpy and matplotlib are used.

### JupyterHub

Upload the notebook{beside} into a folder on the hub, open it and run its first cell: it
installs the checker where it is missing (once per server: it stays installed while your server
keeps its files). Or install it for all your notebooks from a terminal on the hub:
`pip install {url or wheel_file}`. Nothing else is needed (no server extension).
"""


def _texts(folder: Path):
    """(name, text) of every file under ``folder``, a wheel's members as ``<wheel>/<member>``."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    yield Path(rel, name), zf.read(name).decode(errors="replace")
            continue
        try:
            yield rel, path.read_text(errors="replace")
        except OSError:
            continue


def scan(folder: Path, markers: list[str]) -> list[str]:
    """``"<file>: <marker>"`` for every marker found in a file under ``folder`` or a wheel's
    member (compared with whitespace squeezed out; notebooks by their cell sources), any
    solutions/ folder or grading.toml, and any instructor-only module."""
    found = []
    for rel, text in _texts(Path(folder)):
        if "solutions" in rel.parts or rel.name == "grading.toml":
            found.append(f"{rel}: a solutions/ folder or grading.toml")
            continue
        pairs = set(zip(rel.parts, rel.parts[1:]))
        if any(("autograder", name) in pairs for name in INSTRUCTOR_ONLY):
            found.append(f"{rel}: an instructor-only module")
            continue
        if rel.suffix == ".ipynb":
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
