"""A student's folder: which files in it are assignment files that ``pytest`` checks.

The rule (README, "Local tests with pytest"): ``<id>.py`` and ``<id>.ipynb``, for an assignment
``<id>`` the checker knows, are checked when their folder is

- pytest's rootdir (a repository or folder holding the assignment files at its top), or
- a *handout folder*: one holding the marker file :data:`MARKER` (``bpgrade handout`` writes it
  into ``student_template/``).

Nothing else is collected, so files named like an assignment elsewhere (a course repository's
tests, fixtures, solutions) are left alone. In a handout folder an assignment the marker lists
whose file is absent is reported as skipped, and an untouched stub beside a filled-in twin (the
``.py`` file beside the notebook) is skipped rather than failed (of two untouched twins, the
notebook); at the rootdir neither happens (a repository for one assignment is not missing the
others).

The marker is TOML::

    assignments = ["<id>", ...]                     # what this folder is handed out with
    [stubs]                                         # sha256 of each stub's code as handed out
    "<id>.py" = "<sha256>"
    "<id>.ipynb" = "<sha256>"
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "bpgrade.toml"  #: marks a handout folder (see the module docstring)
SUFFIXES = (".py", ".ipynb")  #: the kinds of assignment file, in the order a twin is looked for


@dataclass
class Marker:
    """A handout folder's marker: the assignments handed out, and their stubs' hashes."""

    assignments: list[str] = field(default_factory=list)
    stubs: dict[str, str] = field(default_factory=dict)


def read_marker(folder: Path) -> Marker | None:
    """The marker of ``folder``, or None if it is not a handout folder. A marker that does not
    parse still marks the folder (with nothing listed)."""
    path = Path(folder) / MARKER
    if not path.is_file():
        return None
    from ..project import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Marker()
    ids = data.get("assignments", [])
    stubs = data.get("stubs", {})
    return Marker([i for i in ids if isinstance(i, str)] if isinstance(ids, list) else [],
                  {k: v for k, v in stubs.items() if isinstance(v, str)} if isinstance(stubs, dict) else {})


def code_sha256(path: Path, assignment_id: str) -> str:
    """sha256 of the code of an assignment file as the checker reads it (a notebook's code cells,
    not its outputs), so a notebook that was only run is still its stub."""
    from ..load import load_source

    return hashlib.sha256(load_source(path, prefer=assignment_id).encode("utf-8", "surrogatepass")).hexdigest()


def write_marker(folder: Path, assignment_ids: list[str]) -> Path:
    """Mark ``folder`` (the handout's ``student_template/``, already holding the stubs) as a
    handout folder for ``assignment_ids``."""
    folder = Path(folder)
    lines = ["# bpgrade: the assignment files in this folder. `pytest` here runs their local checks,",
             "# one test per part (README, \"Local tests with pytest\"). Written by `bpgrade handout`.",
             "assignments = [" + ", ".join(f'"{i}"' for i in assignment_ids) + "]",
             "",
             "# sha256 of each stub's code as handed out: an untouched stub beside a filled-in twin",
             "# (the .py file beside the notebook) is skipped, not failed.",
             "[stubs]"]
    for aid in assignment_ids:
        for suffix in SUFFIXES:
            stub = folder / f"{aid}{suffix}"
            if stub.is_file():
                lines.append(f'"{stub.name}" = "{code_sha256(stub, aid)}"')
    path = folder / MARKER
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def is_student_folder(folder: Path, rootdir: Path) -> bool:
    """Whether assignment files in ``folder`` are checked (see the module docstring)."""
    return Path(folder) == Path(rootdir) or (Path(folder) / MARKER).is_file()


def assignment_base(assignment_id: str, folder: Path) -> tuple[bool, Path | None]:
    """(whether ``assignment_id`` is an assignment the checker knows from ``folder``, the base to
    grade it with: None for what ``bpgrade check`` uses, else the handout folder above)."""
    from ..project import ProjectError
    from .checker import find_base

    try:
        return True, find_base(assignment_id, here=folder)
    except ProjectError:
        return False, None


def untouched_twin(path: Path, assignment_id: str, marker: Marker | None) -> str:
    """Why ``path`` is not checked ("" if it is): it is its stub, untouched, and its twin of the
    other kind is checked instead: a twin that is filled in, or, when both are untouched, the
    ``.py`` file (each part then fails once, not twice)."""
    if marker is None or path.name not in marker.stubs:
        return ""
    from ..load import SubmissionError

    try:
        if code_sha256(path, assignment_id) != marker.stubs[path.name]:
            return ""
        for suffix in SUFFIXES:
            twin = path.with_suffix(suffix)
            if suffix == path.suffix or not twin.is_file():
                continue
            if code_sha256(twin, assignment_id) != marker.stubs.get(twin.name):
                return f"{path.name} is the untouched stub; your work in {twin.name} is checked"
            if suffix == SUFFIXES[0]:
                return f"{path.name} and {twin.name} are both untouched stubs; {twin.name} is checked"
    except (SubmissionError, OSError):  # an unreadable file is checked, and its check says why
        return ""
    return ""


def absent(folder: Path, marker: Marker) -> list[str]:
    """The assignments a handout folder's marker lists that have no file in it."""
    return [aid for aid in marker.assignments
            if not any((Path(folder) / f"{aid}{s}").is_file() for s in SUFFIXES)]
