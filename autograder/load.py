"""Submission files -> source text, or a clear :class:`SubmissionError`.

Accepts a ``.py`` file, a ``.ipynb`` notebook (code cells extracted with nbformat, never
executed here), or a folder / ``.zip`` holding one of those.

A notebook's source keeps its cells: each code cell follows a marker line
(``# %% code cell 3``), and the worker runs the cells one by one in one namespace, as Jupyter
does (a raising cell is reported and the next cells still run). IPython syntax is made inert
line for line (line numbers stay those of the cell): line magics and shell escapes become
``pass``, a cell magic that runs Python (``%%time``, ``%%capture``) keeps its body, any other
cell magic (``%%bash``, ``%%writefile``, ``%%html``) leaves nothing to run.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 2 * 1024 * 1024  #: the code a submission may hold (a notebook's code cells)
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  #: a notebook file, outputs (plots as base64 PNGs) included
MAX_ZIP_MEMBERS = 2000
CELL_MARKER = "# %% code cell {n}"
_CELL_LINE = re.compile(r"^# %% code cell (\d+)$", re.MULTILINE)
#: cell magics whose body is Python that Jupyter runs (timed, captured, profiled)
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_LINE_MAGIC = re.compile(r"^(\s*)([%!].*|\?.*|[\w.]+\?\??\s*)$")
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.]+\s*=\s*)([%!].*)$")


class SubmissionError(Exception):
    """The submission cannot be read (wrong kind of file, broken notebook, ambiguous folder)."""


@dataclass(frozen=True)
class Cell:
    """One unit the worker runs: a notebook's code cell (``number`` counts code cells from 1),
    or a whole script (``number`` None)."""

    number: int | None
    source: str

    @property
    def first_line(self) -> str:
        """The cell's first line of code, as a student recognises the cell."""
        return next((line.strip() for line in self.source.splitlines()
                     if line.strip() and not line.lstrip().startswith("#")), "")


def python_cell(text: str) -> str:
    """A notebook cell's code with IPython syntax made inert, line for line."""
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if name not in PYTHON_CELL_MAGICS:
            return "\n".join(f"# {line}" for line in lines)
        lines[0] = f"# {lines[0]}"
    out = []
    for line in lines:
        assigned = _ASSIGNED_MAGIC.match(line)
        if assigned:
            line = f"{assigned.group(1)}None  # {assigned.group(2)}"
        elif _LINE_MAGIC.match(line):
            indent = _LINE_MAGIC.match(line).group(1)
            line = f"{indent}pass  # {line.strip()}"
        out.append(line)
    return "\n".join(out)


def notebook_source(raw: bytes | str, name: str = "notebook") -> str:
    """The code cells of a notebook as one source text, each after its :data:`CELL_MARKER`."""
    import nbformat  # here: the sandbox imports this module for split_cells alone

    try:
        nb = nbformat.reads(raw if isinstance(raw, str) else raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for broken JSON
        raise SubmissionError(f"{name} is not a readable Jupyter notebook: {exc}") from None
    chunks = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        chunks.append(CELL_MARKER.format(n=len(chunks) + 1) + "\n" + python_cell(str(cell.get("source", ""))))
    return "\n\n".join(chunks) + "\n"


def split_cells(source: str) -> list[Cell]:
    """The units to run: a notebook's code cells (from :func:`notebook_source`), or the whole
    source as one script."""
    marks = list(_CELL_LINE.finditer(source))
    if not marks or source[:marks[0].start()].strip():
        return [Cell(None, source)]
    cells = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(source)
        cells.append(Cell(int(mark.group(1)), source[mark.end() + 1:end].rstrip("\n") + "\n"))
    return cells


def _limit(name: str) -> int:
    return MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_SOURCE_BYTES


def _too_large(name: str) -> SubmissionError:
    what = "notebook file" if name.endswith(".ipynb") else "file"
    return SubmissionError(f"{name} is too large: a {what} may hold at most {_limit(name) // 1024 // 1024} MiB")


def _decode(raw: bytes, name: str) -> str:
    if len(raw) > _limit(name):
        raise _too_large(name)
    if name.endswith(".ipynb"):
        source = notebook_source(raw, name)
    else:
        try:
            source = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SubmissionError(f"{name} is not UTF-8 text: {exc}") from None
    if len(source.encode()) > MAX_SOURCE_BYTES:
        kind = "code cells" if name.endswith(".ipynb") else "source"
        raise SubmissionError(f"the {kind} of {name} hold more than {MAX_SOURCE_BYTES // 1024 // 1024} MiB of code")
    return source


def _pick(names: list[str], prefer: str | None, where: str) -> str:
    candidates = [n for n in names if n.endswith((".py", ".ipynb"))
                  and "__MACOSX" not in n and "/." not in "/" + n and ".ipynb_checkpoints" not in n]
    if prefer:
        preferred = [n for n in candidates if Path(n).stem == prefer]
        if preferred:
            candidates = preferred
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise SubmissionError(f"{where} holds no .py or .ipynb file")
    listing = ", ".join(sorted(candidates)[:6])
    raise SubmissionError(
        f"{where} holds several candidate files ({listing}); name one {prefer or '<assignment>'}.py or .ipynb"
    )


def load_source(path: str | Path, prefer: str | None = None) -> str:
    """The Python source of a submission. ``prefer`` is the assignment id (file stem to pick)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in sorted(path.rglob("*")) if p.is_file()]
        chosen = _pick(names, prefer, f"folder {path}")
        return _decode((path / chosen).read_bytes(), chosen)
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                if len(infos) > MAX_ZIP_MEMBERS:
                    raise SubmissionError(f"{path.name} has more than {MAX_ZIP_MEMBERS} members")
                chosen = _pick([i.filename for i in infos if not i.is_dir()], prefer, f"zip {path.name}")
                info = zf.getinfo(chosen)
                if info.file_size > _limit(chosen):
                    raise _too_large(chosen)
                return _decode(zf.read(info), chosen)
        except zipfile.BadZipFile as exc:
            raise SubmissionError(f"{path.name} is not a valid zip file: {exc}") from None
    if path.suffix in (".py", ".ipynb"):
        return _decode(path.read_bytes(), path.name)
    raise SubmissionError(f"{path.name}: expected a .py file, a .ipynb notebook, a folder or a .zip")
