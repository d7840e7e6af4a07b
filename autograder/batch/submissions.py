"""A batch's submissions: what to grade, who it belongs to, and a hash of its content.

``discover(path)`` accepts

- a folder of ``.py`` / ``.ipynb`` files (one per student: the id is the file's stem),
- a folder of per-student folders or ``.zip`` files (the id is the folder or zip name),
- a Gradescope "Export Submissions" folder: ``submission_metadata.yml`` next to one folder per
  submission (``submission_<n>/``); the YAML maps each folder to its ``:submitters`` (each with
  ``:name``, ``:email``, ``:sid``) plus ``:created_at`` and ``:score``,
- a ``.zip`` of any of these (extracted safely into a scratch folder first).

Nothing here runs student code: files are only listed, hashed and (for zips) extracted.

Ids never move from one student to another. A name that is already an id (``alice.py`` ->
``alice``) keeps it; a name that has to be cleaned (``alice .py``, a name with an escape
sequence) or that clashes with another name ignoring case gets the cleaned name plus a suffix
derived from its exact name (``alice-1f3a09c2``), never from the order of the listing, and
the clash is reported in ``Discovered.notes``. Every entry that is not graded (a link, a
device, an unrecognised name such as ``dave.PY`` or ``erin.py.txt``) is in
``Discovered.skipped`` with its reason: the batch lists it and gives it a gradebook row.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

METADATA = "submission_metadata.yml"
MAX_ARCHIVE_MEMBERS = 200_000
MAX_ARCHIVE_BYTES = 4 * 1024**3  #: total uncompressed size a batch zip may expand to
MAX_HASHED_BYTES = 64 * 1024**2  #: per submission; past this the hash covers sizes only
SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")
_SKIP = re.compile(r"^(\.|__MACOSX$|__pycache__$|\.ipynb_checkpoints$)")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]+")


class DiscoveryError(Exception):
    """The batch input cannot be read as a set of submissions."""


@dataclass
class Student:
    name: str = ""
    email: str = ""
    sid: str = ""

    def to_plain(self) -> dict:
        return {"name": self.name, "email": self.email, "sid": self.sid}


@dataclass
class Item:
    """One submission to grade."""

    id: str  #: unique in the batch, safe as a file name
    path: Path  #: a .py / .ipynb / .zip file or a folder; what ``load_source`` receives
    students: list[Student] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  #: e.g. Gradescope's created_at / score
    _sha256: str | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = content_hash(self.path)
        return self._sha256


@dataclass
class Discovered:
    items: list[Item]
    layout: str  #: files | folders | gradescope
    root: Path
    skipped: list[str] = field(default_factory=list)  #: entries that are not submissions
    reasons: dict[str, str] = field(default_factory=dict)  #: skipped entry -> why it was not graded
    notes: list[str] = field(default_factory=list)  #: e.g. names that clean up to the same id

    def skip(self, entry: str, reason: str) -> None:
        self.skipped.append(entry)
        self.reasons[entry] = reason

    def skipped_ids(self) -> dict[str, str]:
        """A stable id for each skipped entry (its gradebook row), never one a submission has."""
        taken = {i.id.lower() for i in self.items}
        out = {}
        for entry in self.skipped:
            sid = f"skipped-{_suffixed(entry)}"
            while sid.lower() in taken:
                sid += "_"
            taken.add(sid.lower())
            out[entry] = sid
        return out


def safe_id(name: str) -> str:
    cleaned = _SAFE_ID.sub("_", name).strip("._") or "submission"
    return cleaned[:120]


def _suffixed(name: str, readable: str | None = None) -> str:
    """The cleaned ``readable`` (default: ``name``) plus 8 hex digits of the exact name's
    sha256: the same exact name always gets the same id, two exact names practically never do."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{safe_id(readable if readable is not None else name)[:111]}-{digest}"


def stable_ids(names: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Ids for entries (entry name -> the name its id comes from, e.g. a file's stem), and
    notes on the clashes. An entry whose name is already a safe id keeps it unless another
    entry's name equals it ignoring case; every other entry gets :func:`_suffixed` of its
    exact entry name. Nothing depends on the order of ``names``."""
    clean = {entry: base for entry, base in names.items() if safe_id(base) == base}
    by_key: dict[str, list[str]] = {}
    for entry, base in names.items():
        by_key.setdefault(safe_id(base).lower(), []).append(entry)
    ids, notes = {}, []
    for entry, base in names.items():
        rivals = [e for e in by_key[safe_id(base).lower()] if e in clean and e != entry]
        ids[entry] = base if entry in clean and not rivals else _suffixed(entry, base)
    for key, entries in sorted(by_key.items()):
        if len(entries) > 1:
            listing = ", ".join(f"`{e}` -> {ids[e]}" for e in sorted(entries))
            notes.append(f"{len(entries)} names clean up to the id {key}, so each keeps its own: {listing}")
    return ids, notes


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's (relative path, bytes) pairs in sorted order."""
    h = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    budget = MAX_HASHED_BYTES
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = file.relative_to(path).as_posix()
        size = file.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        if size <= budget:
            h.update(file.read_bytes())
            budget -= size
    return h.hexdigest()


# ------------------------------------------------------------------ discovery

def discover(path: str | Path, *, scratch: Path | None = None) -> Discovered:
    """The submissions under ``path`` (a folder or a zip); ``scratch`` receives zip contents."""
    path = Path(path)
    if not path.exists():
        raise DiscoveryError(f"{path} does not exist")
    if path.is_file():
        if path.suffix != ".zip":
            raise DiscoveryError(f"{path.name}: expected a folder or a .zip of submissions")
        if scratch is None:
            raise DiscoveryError("a zip of submissions needs a scratch folder to extract into")
        target = scratch / safe_id(path.stem)
        refused = extract_zip(path, target)
        path = target
    else:
        refused = {}
    root = _descend(path)
    found = _gradescope(root) if (root / METADATA).is_file() else _plain(root)
    for name, reason in refused.items():
        found.skip(name, reason)
    return found


def _entries(folder: Path, refused: dict[str, str] | None = None) -> list[Path]:
    """The entries worth a look (tools' litter left out); links, devices, fifos and sockets go
    into ``refused`` (name -> reason) instead, never followed."""
    from ..load import not_a_file

    out = []
    for p in sorted(folder.iterdir()):
        if _SKIP.match(p.name):
            continue
        mode = p.lstat().st_mode
        problem = not_a_file(p.name, mode)
        if problem:
            if refused is not None:
                refused[p.name] = problem
            continue
        out.append(p)
    return out


def _descend(folder: Path) -> Path:
    """Skip wrapper folders (a zip of ``assignment_123_export/``): while the only entry is a
    folder without any submission file or metadata next to it, go into it."""
    for _ in range(4):
        if (folder / METADATA).is_file():
            return folder
        entries = _entries(folder)
        if len(entries) == 1 and entries[0].is_dir():
            inner = entries[0]
            inner_entries = _entries(inner)
            looks_like_batch = (inner / METADATA).is_file() or any(
                p.is_dir() or p.suffix == ".zip" for p in inner_entries)
            if looks_like_batch:
                folder = inner
                continue
        break
    return folder


def _plain(root: Path) -> Discovered:
    refused: dict[str, str] = {}
    entries = _entries(root, refused)
    graded = [e for e in entries if e.is_dir() or e.suffix in SUBMISSION_SUFFIXES]
    ids, notes = stable_ids({e.name: e.name if e.is_dir() else e.stem for e in graded})
    items = [Item(ids[e.name], e, students=[Student(sid=ids[e.name])]) for e in graded]
    layout = "folders" if any(i.path.is_dir() or i.path.suffix == ".zip" for i in items) else "files"
    found = Discovered(items, layout, root, notes=notes)
    for entry in entries:
        if entry not in graded:
            found.skip(entry.name, f"`{entry.name}` is not a submission: expected a .py, .ipynb or .zip file "
                                   "(lower-case suffix) or a folder")
    for name, reason in refused.items():
        found.skip(name, reason)
    return found


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _gradescope(root: Path) -> Discovered:
    import yaml

    try:
        with open(root / METADATA, encoding="utf-8") as fh:
            metadata = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"{root / METADATA} is not readable YAML: {exc}") from None
    if not isinstance(metadata, dict):
        raise DiscoveryError(f"{root / METADATA}: expected a mapping of submission folders")
    found = Discovered([], "gradescope", root)
    items, seen = found.items, set()
    refused: dict[str, str] = {}
    present = {p.name for p in _entries(root, refused)}
    for key, record in metadata.items():
        key = str(key)
        folder = root / key
        if safe_id(key) != key or key.lower() in seen or key not in present or not folder.is_dir():
            found.skip(key, refused.get(key) or f"`{key}` is listed in {METADATA} but is not a submission folder")
            continue
        seen.add(key.lower())
        record = record if isinstance(record, dict) else {}
        students = []
        for person in record.get(":submitters") or []:
            if isinstance(person, dict):
                students.append(Student(name=_text(person.get(":name")), email=_text(person.get(":email")),
                                        sid=_text(person.get(":sid"))))
        meta = {k.lstrip(":"): _text(record.get(k)) for k in (":created_at", ":score") if k in record}
        items.append(Item(key, folder, students=students, meta=meta))
    listed = {i.path.name for i in items}
    for name in sorted(present | set(refused)):
        if name != METADATA and name not in listed and name not in found.reasons:
            found.skip(name, refused.get(name) or f"`{name}` is not listed in {METADATA}")
    return found


# ------------------------------------------------------------------ safe extraction

def extract_zip(path: Path, target: Path) -> dict[str, str]:
    """Extract ``path`` into ``target``: no absolute paths, no ``..``, no links, size-capped.
    Re-extraction of the same zip (a resumed batch) replaces the previous copy. Returns the
    members not extracted (name -> reason)."""
    from ..load import not_a_file

    refused: dict[str, str] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARCHIVE_MEMBERS:
                raise DiscoveryError(f"{path.name} has more than {MAX_ARCHIVE_MEMBERS} members")
            total = sum(i.file_size for i in infos)
            if total > MAX_ARCHIVE_BYTES:
                raise DiscoveryError(f"{path.name} expands to {total} bytes (limit {MAX_ARCHIVE_BYTES})")
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for info in infos:
                name = info.filename.replace("\\", "/")
                parts = [p for p in name.split("/") if p not in ("", ".")]
                if not parts or name.startswith("/") or ".." in parts or ":" in parts[0]:
                    refused[name] = f"`{name}` points outside the zip; not extracted"
                    continue
                mode = (info.external_attr >> 16) & 0xFFFF
                problem = not_a_file(name, mode) if stat.S_IFMT(mode) else None
                if problem:  # symlinks, devices
                    if not _SKIP.match(parts[-1]) and "__MACOSX" not in parts:
                        refused[name] = problem
                    continue
                dest = tmp.joinpath(*parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile as exc:
        raise DiscoveryError(f"{path.name} is not a valid zip file: {exc}") from None
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return refused
