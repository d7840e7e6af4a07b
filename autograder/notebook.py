"""Student notebooks: generated from an assignment folder, and checked from inside the kernel.

``build(assignment_id)`` writes the notebook a student fills in: the instructions (Markdown with
LaTeX), a setup cell, one answer cell per function holding the stub, and after it one check
cell per part. ``fill(nb, source)`` puts other code (e.g. the reference) into the answer cells.

In the notebook, ``check = checker("<id>")`` and then ``check("<part>")`` runs that part's
public local check on the functions defined in the notebook, exactly as ``bpgrade check``
would (same cases, same sandbox, same feedback). The kernel is the student's own machine and
holds no secret, so it may build the source text from its own cells: the cells that defined
the assignment's functions (and the functions and simple constants they use).

Cell conventions: answer cells carry ``metadata.bpgrade.function`` and the tag ``answer``,
check cells ``metadata.bpgrade.part`` and the tag ``check``; ids are stable, so regenerating
an unchanged assignment gives byte-identical files.
"""
from __future__ import annotations

# Only modules the sandbox's worker has already loaded are imported here: a submitted notebook's
# setup cell imports this module inside the worker, whose uid may not read the stdlib's files.
import os
import re
import sys
import types
from pathlib import Path

NBFORMAT_MINOR = 5
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
ANSWER, CHECK, SETUP = "answer", "check", "setup"
PREAMBLE = "import numpy as np\n"


# ------------------------------------------------------------------ generating notebooks

def stub_path(assignment_id: str, base: Path | None = None) -> Path:
    from . import project

    return (base or project.root()) / "student_template" / f"{assignment_id}.py"


def notebook_path(assignment_id: str, base: Path | None = None) -> Path:
    from . import project

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


def build(assignment_id: str, base: Path | None = None):
    """The student notebook of one assignment, as an ``nbformat`` NotebookNode (no outputs)."""
    from . import project

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
        "separate sandboxed process, and prints the same feedback as "
        f"`bpgrade check {assignment_id} {assignment_id}.ipynb` (save the notebook first for that one). "
        "Public checks use a public seed and torch.autograd; on submission your code is graded on "
        "hidden cases as well, so passing every public case does not guarantee full marks.\n\n"
        "Keep the function names and signatures. Run the setup cell first."
    ), "working"))
    setup = "\n".join(other + [
        "from autograder.notebook import checker",
        "",
        f"check = checker({assignment_id!r})  # check(\"part\") runs the public cases of one part",
    ])
    cells.append(_cell("code", setup.strip() + "\n", "setup", (SETUP,)))
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


def render(assignment_id: str, base: Path | None = None) -> str:
    """The notebook file's exact text (what is committed under student_template/)."""
    import nbformat

    return nbformat.writes(build(assignment_id, base)) + "\n"


def write_all(base: Path | None = None, check_only: bool = False) -> list[Path]:
    """Write student_template/<id>.ipynb for every assignment; with ``check_only`` write nothing
    and return the notebooks that are missing or out of date."""
    from . import project

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


# ------------------------------------------------------------------ checking inside the kernel

def _in_kernel() -> bool:
    """True in a Jupyter kernel. Elsewhere (the grader's sandbox loading this notebook's code,
    a plain script) ``check(...)`` does nothing, so a submitted notebook grades cleanly."""
    return "ipykernel" in sys.modules


def _cell_text(fn: types.FunctionType) -> str | None:
    """The source of the cell (or file) in which ``fn`` was defined, from linecache."""
    import linecache

    filename = fn.__code__.co_filename
    lines = linecache.getlines(filename)
    return "".join(lines) if lines else None


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _is_checker_statement(node) -> bool:
    """Top-level statements of a cell that belong to the checking machinery, not the answer."""
    import ast

    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "autograder":
        return True
    if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "autograder" for a in node.names):
        return True
    call = node.value if isinstance(node, ast.Expr) else node.value if isinstance(node, ast.Assign) else None
    if isinstance(call, ast.Call):
        func = call.func
        while isinstance(func, ast.Attribute):
            func = func.value
        if isinstance(func, ast.Name) and func.id in ("check", "checker"):
            return True
    return False


def without_checker(text: str) -> str:
    """``text`` without its top-level checker statements (autograder imports, ``check(...)``,
    ``check = checker(...)``); unchanged if it does not parse."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines()
    drop: set[int] = set()
    keep: set[int] = set()
    for node in tree.body:
        (drop if _is_checker_statement(node) else keep).update(range(node.lineno - 1, node.end_lineno))
    drop -= keep  # a line shared with other code (``x = 1; check("p")``) stays
    # blank lines keep the line numbers of tracebacks
    return "\n".join("" if i in drop else line for i, line in enumerate(lines)) + ("\n" if text.endswith("\n") else "")


def _literal(value) -> bool:
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return True
    if isinstance(value, (tuple, list, frozenset)):
        return all(_literal(v) for v in value)
    if isinstance(value, dict):
        return all(_literal(k) and _literal(v) for k, v in value.items())
    return False


def source_from_namespace(namespace: dict, functions: list[str]) -> str:
    """Python source equivalent to the notebook's definitions of ``functions``: the cells that
    defined them and, transitively, the notebook functions they use (in execution order), plus
    imports and simple constants they refer to, as notebook cells (see
    :func:`autograder.load.split_cells`). Calls of ``check`` are left out."""
    import ast

    pending = [namespace[n] for n in functions if isinstance(namespace.get(n), types.FunctionType)]
    seen_fns: set[int] = set()
    cells: dict[str, str] = {}
    needed: set[str] = set()
    while pending:
        fn = pending.pop()
        if id(fn) in seen_fns or fn.__globals__ is not namespace:
            continue
        seen_fns.add(id(fn))
        text = _cell_text(fn)
        if text is not None:
            cells.setdefault(fn.__code__.co_filename, text)
        for name in _code_names(fn.__code__):
            value = namespace.get(name)
            if isinstance(value, types.FunctionType):
                pending.append(value)
            else:
                needed.add(name)

    history = [str(x).rstrip() for x in namespace.get("In", []) or []]

    def order(item):
        text = item[1].rstrip()
        hits = [i for i, h in enumerate(history) if h == text]
        return hits[-1] if hits else len(history)

    from .load import CELL_MARKER, python_cell

    body = [without_checker(python_cell(text)) for _, text in sorted(cells.items(), key=order)]
    bound = set()
    for text in body:
        try:
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bound.add(node.id)
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    bound.add(node.name)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        except SyntaxError:
            pass
    head = [PREAMBLE.rstrip()]
    for name in sorted(needed - bound - {"np"}):
        if name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            head.append(f"import {value.__name__}" if value.__name__ == name
                        else f"import {value.__name__} as {name}")
        elif _literal(value):
            head.append(f"{name} = {value!r}")
    # one cell each, as in the notebook: the sandbox runs them one by one, and a cell that
    # raises there (a plot of a variable defined elsewhere) is reported without stopping the rest
    chunks = ["\n".join(head), *(t.rstrip() for t in body)]
    return "\n\n".join(CELL_MARKER.format(n=i) + "\n" + c for i, c in enumerate(chunks, 1)) + "\n"


def _find_base(assignment_id: str) -> Path | None:
    """The project root holding ``assignments/<id>/``: $BPGRADE_ROOT, the installed checkout,
    or the nearest folder above the current directory (a handout used without installing)."""
    from . import project

    if os.environ.get("BPGRADE_ROOT") or assignment_id in project.assignment_ids():
        return None
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "assignments" / assignment_id / "assignment.py").is_file():
            return folder
    raise project.ProjectError(
        f"cannot find assignments/{assignment_id}/ (set BPGRADE_ROOT to the handout folder)")


class Checker:
    """``check("part")`` prints that part's public check; ``check.all()`` the whole check.

    Usage (the notebook's setup cell)::

        check = checker("my_assignment")
        check("my_part")
    """

    def __init__(self, assignment: str, *, enabled: bool | None = None, base: Path | None = None):
        self.assignment = assignment
        self.enabled = _in_kernel() if enabled is None else enabled
        self.base = base
        self.last_report = None
        self._sandbox = None
        self._grader = None

    def _setup(self):
        import atexit

        if self._grader is None:
            from .grade import Grader
            from .sandbox.host import Sandbox

            if self.base is None:
                self.base = _find_base(self.assignment)
            self._sandbox = Sandbox()  # before torch is loaded (the zygote must not hold it)
            atexit.register(self.close)
            self._grader = Grader(self.assignment, mode="check", base=self.base)
        return self._grader

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
            self._grader = None

    def source(self, namespace: dict) -> str:
        names = [f.name for f in self._setup().spec.functions]
        return source_from_namespace(namespace, names)

    def report(self, part: str | None = None, namespace: dict | None = None):
        """The check-mode Report (of one part, or of all parts) for the notebook's functions."""
        import copy
        import dataclasses

        grader = self._setup()
        spec = grader.spec
        if part is not None:
            try:
                spec.part(part)
            except KeyError:
                known = ", ".join(p.name for p in spec.parts)
                raise KeyError(f"{self.assignment} has no part {part!r} (parts: {known})") from None
            from .spec import Cases

            # a probe or property part counts only beside a passing random values case of its
            # function (no_values_pass): grade those parts too, and show the asked-for one alone
            asked = spec.part(part)
            keep = [p for p in spec.parts if p.name == part or (
                p.function == asked.function and p.values and isinstance(p.cases, Cases))]
            grader = copy.copy(grader)  # shares the cases and oracle results already computed
            grader.spec = dataclasses.replace(spec, parts=keep)
            report = grader.grade_source(self.source(namespace), self._sandbox)
            report.parts = [p for p in report.parts if p.name == part]
            report.max_score = float(asked.points)
            return report
        return grader.grade_source(self.source(namespace), self._sandbox)

    def _print(self, part: str | None, namespace: dict | None) -> None:
        from .report import to_text

        if namespace is None:
            namespace = sys._getframe(2).f_globals
        self.last_report = self.report(part, namespace)
        text = to_text(self.last_report)
        if part is not None:  # the title line is the notebook's own heading
            text = text.split("\n", 1)[1]
        print(text)

    def __call__(self, part: str, namespace: dict | None = None) -> None:
        if self.enabled:
            self._print(part, namespace)

    def all(self, namespace: dict | None = None) -> None:
        if self.enabled:
            self._print(None, namespace)

    def __repr__(self) -> str:
        return f"checker({self.assignment!r})"


def checker(assignment: str, **kwargs) -> Checker:
    """The notebook's check function for one assignment (see :class:`Checker`)."""
    return Checker(assignment, **kwargs)
