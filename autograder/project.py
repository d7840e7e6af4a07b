"""Where things live: the project root, assignment folders, hidden solutions, grading config.

The root is ``$BPGRADE_ROOT`` if set, else the checkout this package was installed from. It
holds ``assignments/<id>/`` (public: also shipped to students) and, on instructor machines only,
``solutions/<id>.py`` and ``solutions/grading.toml`` (the hidden seed).
"""
from __future__ import annotations

import importlib.util
import os
import sys
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
    return Path(__file__).resolve().parent.parent


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


def grading_config(base: Path | None = None) -> dict:
    """``solutions/grading.toml``; ``$BPGRADE_HIDDEN_SEED`` overrides the hidden seed."""
    path = (base or root()) / "solutions" / "grading.toml"
    config: dict = {}
    if path.is_file():
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    if os.environ.get("BPGRADE_HIDDEN_SEED"):
        config["hidden_seed"] = int(os.environ["BPGRADE_HIDDEN_SEED"])
    return config


def hidden_seed(assignment_id: str, base: Path | None = None) -> int:
    config = grading_config(base)
    seed = config.get(assignment_id, {}).get("hidden_seed", config.get("hidden_seed"))
    if seed is None:
        raise ProjectError(
            "no hidden seed: set hidden_seed in solutions/grading.toml or $BPGRADE_HIDDEN_SEED"
        )
    if not isinstance(seed, int) or seed < 0:
        raise ProjectError(f"hidden_seed must be a non-negative integer, got {seed!r}")
    return seed
