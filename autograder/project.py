"""Where things live: the project root, assignment folders, hidden solutions, grading config.

The root is ``$BPGRADE_ROOT`` if set; else, in the student wheel (which carries the public
assignment folders as package data, ``autograder/assignments/<id>/``), this package's own folder;
else the checkout this package was installed from. It holds ``assignments/<id>/`` (public: also
shipped to students) and, on instructor machines only, ``solutions/<id>.py`` and
``solutions/grading.toml`` (the hidden secret, from which each assignment's hidden key is derived).
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path
from types import ModuleType

from .spec import Assignment, AuthorError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PUBLIC_SEED = 20240423  #: the seed of local checks; printed cases come from it


class ProjectError(Exception):
    """Something the instructor must fix: unknown assignment, missing solution or config."""


def root() -> Path:
    env = os.environ.get("BPGRADE_ROOT")
    if env:
        return Path(env).resolve()
    if (package_dir() / PACKAGED_DATA).is_dir():  # the student wheel, installed: no checkout around it
        return package_dir()
    return package_dir().parent


#: the engine's front ends: what instructors (batch), students and Gradescope run around grading
FRONT_ENDS = ("batch", "students", "gradescope")
#: the front ends a student never runs: left out of the handout's wheel
INSTRUCTOR_ONLY = ("batch", "gradescope")
#: where the student wheel keeps the public assignment folders, inside this package
PACKAGED_DATA = "assignments"


def student_side() -> bool:
    """True in a student's install (the handout's wheel), which has no instructor front ends."""
    return not any((package_dir() / name).is_dir() for name in INSTRUCTOR_ONLY)


def package_dir() -> Path:
    """The engine's folder (this package), checked out or installed."""
    return Path(__file__).resolve().parent


def engine_files(*, without: tuple[str, ...] = ()) -> list[Path]:
    """Every source file of the engine, subpackages included, except the subpackages named in
    ``without``: what the Gradescope zip and the handout copy, and what the grader version
    hashes. The one place that knows which files make the engine."""
    top = package_dir()
    skip = (*without, PACKAGED_DATA)  # assignment data, where the student wheel carries it
    return sorted(p for p in top.rglob("*.py")
                  if "__pycache__" not in p.parts and p.relative_to(top).parts[0] not in skip)


def assignments_dir(base: Path | None = None) -> Path:
    return (base or root()) / "assignments"


def assignment_ids(base: Path | None = None) -> list[str]:
    folder = assignments_dir(base)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "assignment.py").is_file())


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_assignment(assignment_id: str, base: Path | None = None) -> Assignment:
    folder = assignments_dir(base) / assignment_id
    if not (folder / "assignment.py").is_file():
        known = ", ".join(assignment_ids(base)) or "none"
        raise ProjectError(f"unknown assignment {assignment_id!r} (known: {known})")
    module = _import(folder / "assignment.py", f"bpgrade_assignment_{assignment_id}")
    assignment = getattr(module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise AuthorError(f"{folder / 'assignment.py'} must define ASSIGNMENT = Assignment(...)")
    if assignment.id != assignment_id:
        raise AuthorError(f"{folder} declares id {assignment.id!r}; the folder name must match")
    assignment.folder = folder
    return assignment


def load_torch_oracle(assignment: Assignment) -> ModuleType:
    module = _import(assignment.folder / "oracle.py", f"bpgrade_oracle_{assignment.id}")
    missing = [f.name for f in assignment.functions if not callable(getattr(module, f.name, None))]
    if missing:
        raise AuthorError(f"{assignment.folder / 'oracle.py'} lacks torch oracles for {missing}")
    return module


def solution_path(assignment_id: str, base: Path | None = None) -> Path:
    return (base or root()) / "solutions" / f"{assignment_id}.py"


def load_reference(assignment: Assignment, base: Path | None = None) -> ModuleType:
    path = solution_path(assignment.id, base)
    if not path.is_file():
        raise ProjectError(
            f"no reference solution at {path}: full grading needs the hidden solutions/ folder "
            f"(students: use `bpgrade check`)"
        )
    module = _import(path, f"bpgrade_reference_{assignment.id}")
    missing = [f.name for f in assignment.functions if not callable(getattr(module, f.name, None))]
    if missing:
        raise AuthorError(f"reference solution {path} lacks {missing}")
    return module


SECRET_ENV = "BPGRADE_HIDDEN_SECRET"  #: overrides solutions/grading.toml (CI, Gradescope); never a CLI option
SECRET_BYTES = 32  #: a new secret's size (256 bits)
MIN_SECRET_HEX = 32  #: the shortest secret or key accepted: 128 bits, as hex digits
_HEX = re.compile(r"[0-9a-fA-F]+")
_SECRET_LOCK = threading.Lock()


def grading_config_path(base: Path | None = None) -> Path:
    return (base or root()) / "solutions" / "grading.toml"


def grading_config(base: Path | None = None) -> dict:
    """``solutions/grading.toml`` as a dict (empty if there is none); see :func:`assignment_key`."""
    path = grading_config_path(base)
    if not path.is_file():
        return {}
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{path} is not valid TOML: {exc}") from None


def _hex_bytes(value, where: str) -> bytes:
    """A secret or key written as hex: at least 128 bits, or a ProjectError saying how to fix it."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ProjectError(
            f"{where} is the small integer {value}: a hidden seed that small is recovered by brute force "
            f"from a few leaked values, and with it every hidden case. Delete the `hidden_seed` line (bpgrade "
            f"then writes a random hidden_secret into solutions/grading.toml on its next run), or set "
            f'hidden_secret = "<hex>" yourself, e.g. from `python -c "import secrets; print(secrets.token_hex(32))"`. '
            f"Every hidden case changes with it.")
    if not isinstance(value, str) or not _HEX.fullmatch(value.strip()) or len(value.strip()) % 2:
        raise ProjectError(f"{where} must be a string of hex digits (e.g. `python -c \"import secrets; "
                           f"print(secrets.token_hex(32))\"`)")
    value = value.strip()
    if len(value) < MIN_SECRET_HEX:
        raise ProjectError(f"{where} has {len(value) * 4} bits; at least {MIN_SECRET_HEX * 4} are needed "
                           f"(use 64 hex digits: `python -c \"import secrets; print(secrets.token_hex(32))\"`)")
    return bytes.fromhex(value)


def _refuse_seed(value, where: str) -> None:
    """The old ``hidden_seed`` is never read: say how to replace it."""
    _hex_bytes(value, where)  # a small integer: the brute-force message
    raise ProjectError(f"{where} is no longer read: rename it hidden_secret (a string of at least "
                       f"{MIN_SECRET_HEX} hex digits); every hidden case changes with it")


def hidden_secret(base: Path | None = None, *, create: bool = True) -> bytes:
    """The course's hidden secret: ``$BPGRADE_HIDDEN_SECRET`` (hex) if set, else ``hidden_secret``
    in ``solutions/grading.toml``. With ``create`` and neither present, a new random 256-bit secret
    is written there (the file is made readable by its owner only) and the instructor told so.
    An old small-integer ``hidden_seed`` is refused with a message saying how to replace it."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return _hex_bytes(env, f"${SECRET_ENV}")
    if os.environ.get("BPGRADE_HIDDEN_SEED"):
        raise ProjectError(f"$BPGRADE_HIDDEN_SEED is no longer used (a small integer is not secret): unset it "
                           f"and set ${SECRET_ENV} to 64 hex digits, or keep the secret in solutions/grading.toml")
    path = grading_config_path(base)
    with _SECRET_LOCK:
        config = grading_config(base)
        if "hidden_secret" in config:
            return _hex_bytes(config["hidden_secret"], f"hidden_secret in {path}")
        if "hidden_seed" in config:
            _refuse_seed(config["hidden_seed"], f"hidden_seed in {path}")
        if not create:
            raise ProjectError(f"no hidden secret: {path} has no hidden_secret and ${SECRET_ENV} is not set")
        return _create_secret(path)


def _create_secret(path: Path) -> bytes:
    import secrets

    if not path.parent.is_dir():
        raise ProjectError(f"no hidden secret and no {path.parent} folder to keep one in: full grading needs "
                           f"the hidden solutions/ folder (or ${SECRET_ENV})")
    secret = secrets.token_hex(SECRET_BYTES)
    old = path.read_text() if path.is_file() else ""
    header = "" if old else (
        "# Hidden grading configuration: never shipped to students, never committed anywhere public.\n")
    text = (header + "# The hidden secret: every hidden case derives from it (keyed per assignment, per student and\n"
            "# per submission). Keep it for the whole term; changing it changes every hidden case.\n"
            "# $BPGRADE_HIDDEN_SECRET overrides it (CI, Gradescope).\n"
            f'hidden_secret = "{secret}"\n')
    # a TOML top-level key must come before any [table]: put the secret first
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + ("\n" + old if old else ""))
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    print(f"bpgrade: created a new hidden secret in {path} (readable by you only). Keep this file for the "
          f"whole term and back it up; never give it to students. Every hidden case derives from it: "
          f"changing or losing it changes every hidden case, so regrades would differ.", file=sys.stderr)
    return bytes.fromhex(secret)


def assignment_key(assignment_id: str, base: Path | None = None, *, create: bool = True) -> bytes:
    """The assignment's hidden key: HMAC-SHA256(secret, assignment id). A ``[<assignment>]`` table
    may hold the derived ``hidden_key`` itself (a Gradescope zip ships only that, never the course
    secret); ``$BPGRADE_HIDDEN_SECRET`` takes precedence over both."""
    if not os.environ.get(SECRET_ENV):
        table = grading_config(base).get(assignment_id, {})
        if isinstance(table, dict):
            if "hidden_seed" in table:
                _refuse_seed(table["hidden_seed"], f"[{assignment_id}] hidden_seed in {grading_config_path(base)}")
            if "hidden_key" in table:
                return _hex_bytes(table["hidden_key"], f"[{assignment_id}] hidden_key in {grading_config_path(base)}")
    secret = hidden_secret(base, create=create)
    return hmac.new(secret, b"bpgrade-assignment\0" + assignment_id.encode(), hashlib.sha256).digest()


def secret_markers(base: Path | None = None) -> list[str]:
    """Hex strings that must never reach a student (the secret and every assignment's key), as far
    as they exist; never creates a secret."""
    markers = []
    try:
        markers.append(hidden_secret(base, create=False).hex())
    except ProjectError:
        pass
    for aid in assignment_ids(base):
        try:
            markers.append(assignment_key(aid, base, create=False).hex())
        except ProjectError:
            pass
    return markers


# ------------------------------------------------------------------ case seeds

def _words(digest: bytes) -> tuple[int, ...]:
    """The first 128 bits of ``digest`` as the four 32-bit words :mod:`autograder.cases` seeds with."""
    return tuple(int.from_bytes(digest[i:i + 4], "big") for i in range(0, 16, 4))


def submission_case_seed(key: bytes, *, student: str, source_sha256: str) -> tuple[int, ...]:
    """Fresh hidden cases: HMAC(assignment key, student id + the graded source's sha256). The
    same file of the same student always gets the same cases; another file, or another student,
    gets unrelated ones."""
    message = b"bpgrade-fresh\0" + student.encode("utf-8", "surrogatepass") + b"\0" + source_sha256.encode()
    return _words(hmac.new(key, message, hashlib.sha256).digest())


def shared_case_seed(key: bytes, variant: int | None = None) -> tuple[int, ...]:
    """Shared hidden cases (every submission the same; ``variant`` picks another shared set)."""
    message = b"bpgrade-shared\0" + (b"" if variant is None else str(int(variant)).encode())
    return _words(hmac.new(key, message, hashlib.sha256).digest())


def student_key(*, emails=(), fallback: str = "") -> str:
    """The student id fresh hidden cases are keyed by, the same on every path: the submitters'
    emails (lower-cased, sorted, comma-joined) where known (Gradescope's metadata, or a Gradescope
    export in a batch), else ``fallback`` (the batch id, ``submission_<n>``, or ``--student``)."""
    found = sorted({str(e).strip().lower() for e in emails if e and str(e).strip()})
    return ",".join(found) if found else fallback
