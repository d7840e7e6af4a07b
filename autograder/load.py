"""Submission files -> source text, or a clear :class:`SubmissionError`.

Accepts a ``.py`` file, a ``.ipynb`` notebook (code cells extracted with nbformat, never
executed here), or a folder / ``.zip`` holding one of those. IPython magics and shell escapes
in notebooks are commented out so the code compiles as plain Python.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import nbformat

MAX_SOURCE_BYTES = 2 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000
_MAGIC = re.compile(r"^(\s*)([%!].*)$")


class SubmissionError(Exception):
    """The submission cannot be read (wrong kind of file, broken notebook, ambiguous folder)."""


def notebook_source(raw: bytes | str, name: str = "notebook") -> str:
    try:
        nb = nbformat.reads(raw if isinstance(raw, str) else raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for broken JSON
        raise SubmissionError(f"{name} is not a readable Jupyter notebook: {exc}") from None
    chunks = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        lines = [_MAGIC.sub(r"\1# \2", line) for line in str(cell.get("source", "")).splitlines()]
        chunks.append(f"# --- cell {i} ---\n" + "\n".join(lines))
    return "\n\n".join(chunks) + "\n"


def _decode(raw: bytes, name: str) -> str:
    if len(raw) > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{name} is larger than {MAX_SOURCE_BYTES // 1024} KiB")
    if name.endswith(".ipynb"):
        return notebook_source(raw, name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{name} is not UTF-8 text: {exc}") from None


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
                if info.file_size > MAX_SOURCE_BYTES:
                    raise SubmissionError(f"{chosen} in {path.name} is too large")
                return _decode(zf.read(info), chosen)
        except zipfile.BadZipFile as exc:
            raise SubmissionError(f"{path.name} is not a valid zip file: {exc}") from None
    if path.suffix in (".py", ".ipynb"):
        return _decode(path.read_bytes(), path.name)
    raise SubmissionError(f"{path.name}: expected a .py file, a .ipynb notebook, a folder or a .zip")
