"""The student wheel: the one thing a student installs (``pip install bpgrade_student-....whl``).

It holds the engine's student side (every engine file but the instructor-only front ends, see
:data:`autograder.project.INSTRUCTOR_ONLY`) and, as package data under
``autograder/assignments/<id>/``, every file of the handout's public assignment folders, whatever
their names; :func:`autograder.project.root` finds them there when no checkout is around. The
``bpgrade`` command it installs offers the student commands only (see ``cli.STUDENT_COMMANDS``).

The wheel is built by setuptools (through ``pip wheel``) from a staging project written into a
temporary folder. Its version is the engine's with the staged content's hash as a local label
(``0.1.0+1a2b3c4d``): a new handout (an assignment added, a fix) is a new version, so ``pip
install`` of it replaces an older one instead of saying "already satisfied", and the same
content always gives the same version.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .. import __version__, project

DIST = "bpgrade-student"  #: the distribution's name (its wheel files start bpgrade_student-)
SUMMARY = "Local checks for the bpgrade backpropagation exercises (the student side: no hidden material)."
REQUIRES_PYTHON = ">=3.10"
#: what the student side imports: numpy (everything), click (the command), nbformat (notebooks),
#: matplotlib (assignment figures, students' plots; preloaded in the sandbox); no torch by default
DEPENDENCIES = (
    "numpy>=1.24",
    "click>=8.1",
    "nbformat>=5.7",
    "matplotlib>=3.7",
    "tomli>=2.0; python_version < '3.11'",
)
#: the wheel's entry points, by group: the one place to add one (e.g. a ``pytest11`` plugin)
ENTRY_POINTS = {
    "console_scripts": {"bpgrade": "autograder.cli:main"},
    "pytest11": {"bpgrade": "autograder.students.pytest_plugin"},  # `pytest` in a student's folder
}
SKIP = ("__pycache__", ".ipynb_checkpoints")
BUILD_TIMEOUT = 600


class WheelError(Exception):
    """The student wheel could not be built."""


#: any build's file name, as a shell pattern: what a notebook installs when no URL is given
GLOB = f"{DIST.replace('-', '_')}-*.whl"


def file_name(version: str) -> str:
    """The wheel's file name for ``version`` (pure Python, any platform)."""
    return f"{DIST.replace('-', '_')}-{version}-py3-none-any.whl"


def data_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` but tools' litter (caches, checkpoints, dot files)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part in SKIP or part.startswith(".") for part in p.relative_to(folder).parts))


def stage(assignments: Path, into: Path) -> str:
    """Write the staging project into ``into``: ``autograder/`` (student side), its
    ``assignments/`` (every file of the folder ``assignments``) and ``pyproject.toml``.
    Returns the version (the engine's, labelled with a hash of what was staged)."""
    engine = project.package_dir()
    files = [(Path("autograder") / p.relative_to(engine), p)
             for p in project.engine_files(without=project.INSTRUCTOR_ONLY)]
    files += [(Path("autograder") / project.PACKAGED_DATA / p.relative_to(assignments), p)
              for p in data_files(assignments)]
    digest = hashlib.sha256()
    for rel, src in files:
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        digest.update(rel.as_posix().encode() + b"\0" + target.read_bytes() + b"\0")
    digest.update(_pyproject("0").encode())
    version = f"{__version__}+{digest.hexdigest()[:8]}"
    (into / "pyproject.toml").write_text(_pyproject(version))
    return version


def _toml_list(items) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _pyproject(version: str) -> str:
    lines = [
        "[build-system]",
        'requires = ["setuptools>=64"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f'name = "{DIST}"',
        f'version = "{version}"',
        f'description = "{SUMMARY}"',
        f'requires-python = "{REQUIRES_PYTHON}"',
        'license = { text = "MIT" }',
        f"dependencies = {_toml_list(DEPENDENCIES)}",
    ]
    for group, points in ENTRY_POINTS.items():
        table = "[project.scripts]" if group == "console_scripts" else f'[project.entry-points."{group}"]'
        lines += ["", table, *(f'"{name}" = "{target}"' for name, target in points.items())]
    lines += [
        "",
        "[tool.setuptools.packages.find]",
        'include = ["autograder", "autograder.*"]',
        "",
        "[tool.setuptools.package-data]",
        f'autograder = ["{project.PACKAGED_DATA}/**/*"]',
    ]
    return "\n".join(lines) + "\n"


def build(assignments: Path, out_dir: Path) -> Path:
    """Build the student wheel into ``out_dir`` from the engine and the public assignment folders
    under ``assignments``; returns its path. Uses the setuptools of this environment if it has
    one (offline), else lets pip fetch it into an isolated build environment."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bpgrade-wheel-") as tmp:
        staging, dist = Path(tmp) / "project", Path(tmp) / "dist"
        staging.mkdir()
        version = stage(assignments, staging)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist)]
        if importlib.util.find_spec("setuptools") is not None:
            command.append("--no-build-isolation")
        env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        try:
            proc = subprocess.run([*command, str(staging)], capture_output=True, text=True, env=env,
                                  timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise WheelError(f"building the student wheel took longer than {BUILD_TIMEOUT} s") from None
        built = dist / file_name(version)
        if proc.returncode != 0 or not built.is_file():
            raise WheelError("building the student wheel failed (it needs pip, and setuptools or network "
                             f"access to fetch it):\n{(proc.stderr or proc.stdout)[-2000:]}")
        target = out_dir / built.name
        shutil.copyfile(built, target)
    return target


def members(wheel: Path) -> list[str]:
    """The wheel's file names."""
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()
