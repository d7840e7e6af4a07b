"""A batch's submissions: what to grade, who it belongs to, and a hash of its content.

``discover(path)`` accepts

- a folder of ``.py`` / ``.ipynb`` files (one per student: the id is the file's stem),
- a folder of per-student folders or ``.zip`` files (the id is the folder or zip name),
- a Gradescope "Export Submissions" folder: ``submission_metadata.yml`` next to one folder per
  submission (``submission_<n>/``); the YAML maps each folder to its ``:submitters`` (each with
  ``:name``, ``:email``, ``:sid``) plus ``:created_at`` and ``:score``,
- a ``.zip`` of any of these (extracted safely into a scratch folder first).

Nothing here runs student code: files are only listed, hashed and (for zips) extracted.
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


def safe_id(name: str) -> str:
    cleaned = _SAFE_ID.sub("_", name).strip("._") or "submission"
    return cleaned[:120]


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
        extract_zip(path, target)
        path = target
    root = _descend(path)
    if (root / METADATA).is_file():
        return _gradescope(root)
    return _plain(root)


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not _SKIP.match(p.name) and not p.is_symlink())


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
    items, skipped, seen = [], [], set()
    entries = _entries(root)
    for entry in entries:
        if entry.is_dir() or entry.suffix in SUBMISSION_SUFFIXES:
            base = safe_id(entry.stem if entry.is_file() else entry.name)
            sid = _unique(base, seen)
            items.append(Item(sid, entry, students=[Student(sid=sid)]))
        else:
            skipped.append(entry.name)
    layout = "folders" if any(i.path.is_dir() or i.path.suffix == ".zip" for i in items) else "files"
    return Discovered(items, layout, root, skipped)


def _unique(base: str, seen: set[str]) -> str:
    name, n = base, 1
    while name.lower() in seen:
        n += 1
        name = f"{base}-{n}"
    seen.add(name.lower())
    return name


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
    items, skipped, seen = [], [], set()
    for key, record in metadata.items():
        key = str(key)
        folder = root / key
        if safe_id(key) != key or not folder.is_dir():
            skipped.append(f"{key} (listed in {METADATA}, no such folder)")
            continue
        record = record if isinstance(record, dict) else {}
        students = []
        for person in record.get(":submitters") or []:
            if isinstance(person, dict):
                students.append(Student(name=_text(person.get(":name")), email=_text(person.get(":email")),
                                        sid=_text(person.get(":sid"))))
        meta = {k.lstrip(":"): _text(record.get(k)) for k in (":created_at", ":score") if k in record}
        items.append(Item(_unique(key, seen), folder, students=students, meta=meta))
    listed = {i.path.name for i in items}
    for entry in _entries(root):
        if entry.name != METADATA and entry.name not in listed:
            skipped.append(f"{entry.name} (not in {METADATA})")
    return Discovered(items, "gradescope", root, skipped)


# ------------------------------------------------------------------ safe extraction

def extract_zip(path: Path, target: Path) -> None:
    """Extract ``path`` into ``target``: no absolute paths, no ``..``, no links, size-capped.
    Re-extraction of the same zip (a resumed batch) replaces the previous copy."""
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
                    continue
                mode = (info.external_attr >> 16) & 0o170000
                if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    continue  # symlinks, devices
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
