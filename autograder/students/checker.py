"""The in-notebook checker: ``check = checker("<id>")``, then ``check("<part>")`` runs that
part's public local check on the functions defined in the kernel, exactly as ``bpgrade check``
would (same cases, same sandbox, same feedback). The kernel is the student's own machine and
holds no secret, so it may build the source text from its own cells: the cells that defined the
assignment's functions (and the functions and simple constants they use).
"""
from __future__ import annotations

# Only modules the sandbox's worker has already loaded are imported here: a submitted notebook's
# setup cell imports this module inside the worker, whose uid may not read the stdlib's files.
import os
import sys
import types
from pathlib import Path

from .notebooks import PREAMBLE


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
    :func:`autograder.load.split_cells`). Calls of ``check`` are left out. One piece: the cells
    found, their order in the kernel's history and the names they leave unbound are one walk."""
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

    from ..load import CELL_MARKER, python_cell, without_checker

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


def find_base(assignment_id: str, here: Path | None = None) -> Path | None:
    """The project root holding ``assignments/<id>/``: $BPGRADE_ROOT or the installed checkout
    (None: what ``bpgrade check`` uses), else the nearest folder above ``here`` (default: the
    current directory), for a handout used without installing."""
    from .. import project

    if os.environ.get("BPGRADE_ROOT") or assignment_id in project.assignment_ids():
        return None
    here = Path(here or Path.cwd()).resolve()
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
        self.note: str | None = None  #: why the checks run unsandboxed here, if they do
        self._noted = False

    def _setup(self):
        import atexit

        if self._grader is None:
            from .. import project
            from ..grade import Grader
            from .local import sandbox_for

            if self.base is None:
                self.base = find_base(self.assignment)
            spec = project.load_assignment(self.assignment, self.base)
            # before torch is loaded (the zygote must not hold it); unsandboxed where it cannot be
            self._sandbox, self.note = sandbox_for(str(spec.folder / "assignment.py"))
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
            from ..spec import Cases

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
        from ..report import to_text

        if namespace is None:
            namespace = sys._getframe(2).f_globals
        self.last_report = self.report(part, namespace)
        text = to_text(self.last_report)
        if part is not None:  # the title line is the notebook's own heading
            text = text.split("\n", 1)[1]
        if self.note and (part is None or not self._noted):  # the first check, and every whole check
            text, self._noted = f"{self.note}\n{text}", True
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
