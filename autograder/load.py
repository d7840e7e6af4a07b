"""Submission files -> source text, or a clear :class:`SubmissionError`.

Accepts a ``.py`` file, a ``.ipynb`` notebook (code cells extracted with nbformat, never
executed here), or a folder / ``.zip`` holding one of those.

Submissions are files: inside a folder or a zip, a symbolic link, a hard link (a regular file
with another name elsewhere), a device, a fifo or a socket is refused by name, never followed or
opened (folders are walked with ``lstat``, the chosen file is opened with ``O_NOFOLLOW`` and
checked again on its descriptor). Every read is capped while it streams: a zip member is
decompressed in chunks and abandoned past the cap, whatever size its header claims.

A notebook's source keeps its cells: each code cell follows a marker line
(``# %% code cell 3``), and the worker runs the cells one by one in one namespace, as Jupyter
does (a raising cell is reported and the next cells still run). IPython syntax is made inert
line for line (line numbers stay those of the cell): line magics and shell escapes become
``pass``, a cell magic that runs Python (``%%time``, ``%%capture``) keeps its body, any other
cell magic (``%%bash``, ``%%writefile``, ``%%html``) leaves nothing to run.
"""
from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 2 * 1024 * 1024  #: the code a submission may hold (a notebook's code cells)
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  #: a notebook file, outputs (plots as base64 PNGs) included
MAX_ZIP_MEMBERS = 2000
MAX_FOLDER_ENTRIES = 2000  #: files and folders a folder submission may hold (outside tools' litter)
MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024  #: a zip's central directory (its listing), read before any member
_CHUNK = 64 * 1024  #: bytes decompressed per step (one step can never allocate more than this)
#: folders and zip members that are tools' litter, never a submission (not walked, not checked)
_LITTER = re.compile(r"(^|/)(\.[^/]*|__MACOSX|__pycache__|\.ipynb_checkpoints)(/|$)")
CELL_MARKER = "# %% code cell {n}"
_CELL_LINE = re.compile(r"^# %% code cell (\d+)$", re.MULTILINE)
#: cell magics whose body is Python that Jupyter runs (timed, captured, profiled)
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_LINE_MAGIC = re.compile(r"^(\s*)([%!].*|\?.*|[\w.]+\?\??\s*)$")
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.]+\s*=\s*)([%!].*)$")


class SubmissionError(Exception):
    """The submission cannot be read (wrong kind of file, broken notebook, ambiguous folder).
    Its message quotes student-chosen names and fields, so it is made safe to show here, once
    (:func:`autograder.safetext.shown`)."""

    def __init__(self, message: str):
        from .safetext import shown

        super().__init__(shown(message))


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
        assigned, magic = _ASSIGNED_MAGIC.match(line), _LINE_MAGIC.match(line)
        if assigned:
            line = f"{assigned.group(1)}None  # {assigned.group(2)}"
        elif magic:
            line = f"{magic.group(1)}pass  # {line.strip()}"
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


def _is_litter(name: str) -> bool:
    return bool(_LITTER.search(name))


def _pick(names: list[str], prefer: str | None, where: str) -> str:
    candidates = [n for n in names if n.endswith((".py", ".ipynb")) and not _is_litter(n)]
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


def not_a_file(name: str, mode: int, links: int = 1) -> str | None:
    """Why an entry of a folder or zip (``mode`` from lstat or the zip's external attributes) is
    refused, or None for a plain file or folder."""
    shown = f"`{name}`"
    if stat.S_ISLNK(mode):
        return f"{shown} is a symbolic link; submit the file itself"
    if stat.S_ISREG(mode):
        if links > 1:
            return f"{shown} is a hard link (the same file has {links} names); submit a copy of the file itself"
        return None
    if stat.S_ISDIR(mode):
        return None
    kind = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a fifo",
            stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(mode), "not a regular file")
    return f"{shown} is {kind}; submit the file itself"


def _walk(folder: Path) -> list[str]:
    """The regular files under ``folder`` (relative names), walked with lstat: a link, device,
    fifo or socket anywhere outside tools' litter refuses the whole submission by name."""
    found, todo, seen = [], [""], 0
    while todo:
        rel = todo.pop()
        with os.scandir(folder / rel if rel else folder) as it:
            for entry in it:
                name = f"{rel}/{entry.name}" if rel else entry.name
                if _is_litter(name):
                    continue
                st = entry.stat(follow_symlinks=False)
                # a folder's own files may be hard-linked by the instructor's copy tools; only the
                # candidates (what could be read) are held to one name, in _read_file
                problem = not_a_file(name, st.st_mode)
                if problem:
                    raise SubmissionError(problem)
                if stat.S_ISDIR(st.st_mode):
                    todo.append(name)
                else:
                    found.append(name)
                seen += 1
                if seen > MAX_FOLDER_ENTRIES:
                    raise SubmissionError(f"folder {folder.name} holds more than {MAX_FOLDER_ENTRIES} entries")
    return sorted(found)


def _read_file(path: Path, name: str) -> bytes:
    """A regular file's bytes, opened without following a link (also in a race with a swap),
    checked on the descriptor, read up to its cap."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise SubmissionError(not_a_file(name, stat.S_IFLNK)) from None
        raise SubmissionError(f"{name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        problem = not_a_file(name, st.st_mode, st.st_nlink)
        if problem:
            raise SubmissionError(problem)
        return _capped(fh, name)


def _capped(fh, name: str) -> bytes:
    """Read ``fh`` in chunks, stopping with an error once the cap for ``name`` is passed."""
    limit, parts, size = _limit(name), [], 0
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise _too_large(name)
        parts.append(chunk)


def _zip_directory_size(path: Path) -> tuple[int, int] | None:
    """(entries, bytes) of a zip's central directory from its end record, read before
    ``zipfile`` builds its listing (which holds every entry in memory); None if not found."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536 - 22))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    _, _, _, _, entries, directory, _, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
    return entries, directory


def _read_zip(path: Path, prefer: str | None) -> str:
    where = f"zip {path.name}"
    listing = _zip_directory_size(path)
    if listing and (listing[0] > MAX_ZIP_MEMBERS or listing[1] > MAX_ZIP_DIRECTORY_BYTES):
        raise SubmissionError(f"{where} has more than {MAX_ZIP_MEMBERS} members")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise SubmissionError(f"{where} has more than {MAX_ZIP_MEMBERS} members")
        names = []
        for info in infos:
            if _is_litter(info.filename):
                continue
            mode = (info.external_attr >> 16) & 0xFFFF  # unix st_mode; 0 from tools that set none
            problem = not_a_file(info.filename, mode) if stat.S_IFMT(mode) else None
            if problem:
                raise SubmissionError(problem)
            if not info.is_dir():
                names.append(info.filename)
        chosen = _pick(names, prefer, where)
        info = zf.getinfo(chosen)
        if info.file_size > _limit(chosen):
            raise _too_large(chosen)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 and lzma members are decompressed without an output bound per read
            raise SubmissionError(f"{chosen} in {where} is compressed with method "
                                  f"{info.compress_type}; zip it again with the usual (deflate) compression")
        with zf.open(info) as member:
            return _decode(_capped(member, chosen), chosen)


def load_source(path: str | Path, prefer: str | None = None) -> str:
    """The Python source of a submission. ``prefer`` is the assignment id (file stem to pick)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    if path.is_dir():
        chosen = _pick(_walk(path), prefer, f"folder {path}")
        return _decode(_read_file(path / chosen, chosen), chosen)
    if path.suffix == ".zip":
        try:
            return _read_zip(path, prefer)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, zlib.error) as exc:
            raise SubmissionError(f"{path.name} is not a valid zip file: {exc}") from None
    if path.suffix in (".py", ".ipynb"):
        with open(path, "rb") as fh:
            return _decode(_capped(fh, path.name), path.name)
    raise SubmissionError(f"{path.name}: expected a .py file, a .ipynb notebook, a folder or a .zip")


# ------------------------------------------------------------------ the checker's own lines

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
