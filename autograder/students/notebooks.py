"""Student notebooks, generated from an assignment folder.

``build(assignment_id)`` writes the notebook a student fills in: the instructions (Markdown with
LaTeX), a setup cell, one answer cell per function holding the stub, and after it one check
cell per part. ``fill(nb, source)`` puts other code (e.g. the reference) into the answer cells.

The setup cell imports the in-kernel checker (:mod:`autograder.students.checker`) through
:mod:`autograder.notebook`, the name every handed-out notebook uses.

Cell conventions: answer cells carry ``metadata.bpgrade.function`` and the tag ``answer``,
check cells ``metadata.bpgrade.part`` and the tag ``check``; ids are stable, so regenerating
an unchanged assignment gives byte-identical files.
"""
from __future__ import annotations

# Only modules the sandbox's worker has already loaded are imported here: the checker imports
# this module, and a submitted notebook's setup cell imports the checker inside the worker.
import re
from pathlib import Path

NBFORMAT_MINOR = 5
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
ANSWER, CHECK, SETUP = "answer", "check", "setup"
PREAMBLE = "import numpy as np\n"


# ------------------------------------------------------------------ generating notebooks

def stub_path(assignment_id: str, base: Path | None = None) -> Path:
    from .. import project

    return (base or project.root()) / "student_template" / f"{assignment_id}.py"


def notebook_path(assignment_id: str, base: Path | None = None) -> Path:
    from .. import project

    return (base or project.root()) / "student_template" / f"{assignment_id}.ipynb"


def _markdown_sections(text: str) -> list[str]:
    """Split Markdown at its ``## `` headings (outside fenced code), one cell per section."""
    sections, current, fenced = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if line.startswith("## ") and not fenced and current:
            sections.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    if current:
        sections.append("\n".join(current).strip("\n"))
    sections = [s for s in sections if s.strip()]
    if len(sections) > 1 and "\n" not in sections[0]:  # a lone title joins the first section
        sections[:2] = [sections[0] + "\n\n" + sections[1]]
    return sections


def _split_module(source: str) -> tuple[list[str], dict[str, str]]:
    """(top-level statements other than function definitions and the docstring, {function: source})."""
    import ast

    tree = ast.parse(source)
    lines = source.splitlines()
    other, functions = [], {}
    for i, node in enumerate(tree.body):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[start - 1:node.end_lineno])
        if i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant) \
                and isinstance(node.value.value, str):
            continue  # the module docstring: the notebook's Markdown says it
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = text
        else:
            other.append(text)
    return other, functions


def _cell(kind: str, source: str, cell_id: str, tags: tuple[str, ...] = (), meta: dict | None = None):
    import nbformat

    metadata: dict = {}
    if tags:
        metadata["tags"] = list(tags)
    if meta:
        metadata["bpgrade"] = meta
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source, id=cell_id, metadata=metadata)
    return nbformat.v4.new_code_cell(source, id=cell_id, metadata=metadata)


def setup_source(assignment_id: str, other: list[str], install: str | None = None) -> str:
    """The setup cell: installs the checker where it is missing (Colab, a fresh JupyterHub
    server) from ``install`` (a URL or file; default: the student wheel beside the notebook),
    then the stub's imports and ``check = checker(...)``. Graded, the ``%pip`` line is inert."""
    from .wheel import GLOB

    target = f'"{install}"' if install else GLOB
    return "\n".join([
        "# Run this cell first. Where the checker is missing (Colab, a fresh JupyterHub server), it installs it.",
        "import importlib, sys",
        "try:",
        "    import autograder.notebook",
        "except ImportError:",
        f"    %pip install -q {target}",
        '    sys.modules.pop("autograder", None)  # a leftover folder may have been taken for the package',
        "    importlib.invalidate_caches()",
        *other,
        "from autograder.notebook import checker",
        "",
        f"check = checker({assignment_id!r})  # check(\"part\") runs the public cases of one part",
    ]).strip() + "\n"


def build(assignment_id: str, base: Path | None = None, *, install: str | None = None):
    """The student notebook of one assignment, as an ``nbformat`` NotebookNode (no outputs).
    ``install``: where its setup cell installs the checker from (see :func:`setup_source`)."""
    from .. import project

    import nbformat

    spec = project.load_assignment(assignment_id, base)
    instructions = (spec.folder / "instructions.md").read_text()
    stub = stub_path(assignment_id, base).read_text()
    other, functions = _split_module(stub)
    missing = [f.name for f in spec.functions if f.name not in functions]
    if missing:
        raise project.ProjectError(f"{stub_path(assignment_id, base)} lacks stubs for {missing}")

    cells = []
    sections = _markdown_sections(instructions)
    for i, section in enumerate(sections):
        cells.append(_cell("markdown", section, f"instructions-{i}"))
    cells.append(_cell("markdown", (
        "## Working in this notebook\n\n"
        "Fill in each answer cell below with numpy code and run it, then run the check cell(s) under it. "
        "A check runs the public cases of that part on the functions defined in this notebook, in a "
        "separate process (sandboxed on Linux), and prints the same feedback as "
        f"`bpgrade check {assignment_id} {assignment_id}.ipynb` (save the notebook first for that one). "
        "Public checks use a public seed and torch.autograd; on submission your code is graded on "
        "hidden cases as well, so passing every public case does not guarantee full marks.\n\n"
        "Keep the function names and signatures. Run the setup cell first: on Colab or a JupyterHub "
        "it installs the checker if it is missing (again after a runtime reset)."
    ), "working"))
    cells.append(_cell("code", setup_source(assignment_id, other, install), "setup", (SETUP,)))
    for fn in spec.functions:
        parts = [p for p in spec.parts if p.function == fn.name]
        args = ", ".join(fn.args)
        listing = ", ".join(f"`{p.name}` ({p.points:g} pt)" for p in parts) or "no graded part"
        cells.append(_cell("markdown", f"### `{fn.name}({args})`\n\nGraded parts: {listing}.",
                           f"about-{_slug(fn.name)}"))
        cells.append(_cell("code", functions[fn.name] + "\n", f"answer-{_slug(fn.name)}", (ANSWER,),
                           {"function": fn.name}))
        for p in parts:
            cells.append(_cell("code", f"check({p.name!r})\n", f"check-{_slug(p.name)}", (CHECK,),
                               {"part": p.name}))
    cells.append(_cell("markdown", "## All parts\n\nThe whole local check, as `bpgrade check` prints it.",
                       "all-parts"))
    cells.append(_cell("code", "check.all()\n", "check-all", (CHECK,), {"part": "*"}))

    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "bpgrade": {"assignment": assignment_id},
    })
    nb.nbformat_minor = NBFORMAT_MINOR
    nbformat.validate(nb)
    return nb


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:56]


def render(assignment_id: str, base: Path | None = None, *, install: str | None = None) -> str:
    """The notebook file's exact text (what is committed under student_template/, where
    ``install`` is the default)."""
    import nbformat

    return nbformat.writes(build(assignment_id, base, install=install)) + "\n"


def write_all(base: Path | None = None, check_only: bool = False) -> list[Path]:
    """Write student_template/<id>.ipynb for every assignment; with ``check_only`` write nothing
    and return the notebooks that are missing or out of date."""
    from .. import project

    changed = []
    for aid in project.assignment_ids(base):
        path = notebook_path(aid, base)
        text = render(aid, base)
        if path.is_file() and path.read_text() == text:
            continue
        changed.append(path)
        if not check_only:
            path.write_text(text)
    return changed


def fill(nb, source: str):
    """A copy of ``nb`` whose answer cells hold the functions of ``source`` (e.g. the reference).
    Top-level code of ``source`` that is not an assignment function (imports, helpers,
    constants) goes into the first answer cell; a function ``source`` lacks keeps the stub."""
    import copy

    nb = copy.deepcopy(nb)
    other, functions = _split_module(source)
    answer_names = [c.metadata.get("bpgrade", {}).get("function") for c in nb.cells
                    if c.cell_type == "code" and ANSWER in c.metadata.get("tags", [])]
    extra = other + [text for name, text in functions.items() if name not in answer_names]
    first = True
    for cell in nb.cells:
        name = cell.metadata.get("bpgrade", {}).get("function")
        if cell.cell_type != "code" or ANSWER not in cell.metadata.get("tags", []):
            continue
        body = functions.get(name, cell.source.rstrip("\n"))
        if first and extra:
            body = "\n\n".join(extra + [body])
        first = False
        cell.source = body + "\n"
    return nb
