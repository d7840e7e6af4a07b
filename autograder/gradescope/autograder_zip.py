"""``bpgrade gradescope``: a lean Gradescope autograder zip, graded by bpgrade.

The zip holds::

    setup.sh            run once by Gradescope: one venv, pinned wheels (no conda, no browser)
    run_autograder      run per submission: ``python -m autograder.gradescope.harness``
    requirements.txt    the PyPI pins setup.sh installs (torch comes alone from the CPU index)
    otter_config.json   bpgrade's settings (assignment, bundle, visibility); a local
                        ``otter run -a autograder.zip`` reads them too, through the plugin
    tests/README.md     otter run copies tests/; bpgrade has none there
    bpgrade/            this package's source, the assignment folder, the hidden reference and
                        ``solutions/grading.toml`` with this assignment's hidden key only

setup.sh needs Python :data:`PYTHON_VERSION` (the version bpgrade is tested on): the image's own
``python3.11`` if there is one, else Ubuntu's ``python3.11`` and ``python3.11-venv`` packages
(Gradescope's default base image, Ubuntu 22.04, ships Python 3.10; apt is its only use). In a
venv at ``/autograder/bpgrade-venv`` it installs pip, the CPU wheel of torch from PyTorch's CPU
index (``--no-deps``: nothing else comes from that index) and :data:`PINNED` from PyPI, runs
``pip check``, makes ``bpgrade/solutions`` readable by root only (the sandbox's workers run as
another uid) and grades the reference once through the harness: a build whose grading does not
work on Gradescope's image fails there, not on the first student. Gradescope grades with no
otter, Jupyter or kernel at all (:mod:`autograder.gradescope.harness`).

Before writing the zip, :func:`build` grades the reference notebook through it as Gradescope
does (the zip's own ``run_autograder`` in a temporary ``/autograder`` layout, with this
interpreter) and, where otter-grader is installed, with a real ``otter run``; it refuses to write
it unless the reference scores full marks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import project
from ..students import notebooks
from .harness import DEFAULT_ROOT, PLUGIN, ROOT_ENV, VISIBILITIES, short_of_full_marks

PYTHON_VERSION = "3.11"  #: the Python of the grading venv, checked by setup.sh (bpgrade's tested one)
PIP_VERSION = "23.2.1"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_VERSION = "2.13.0"
TORCH_PIN = f"torch=={TORCH_VERSION}+cpu"  #: the local version exists only on the CPU index
#: Everything else the grader imports at run time, from PyPI: bpgrade's dependencies and theirs,
#: at the versions its tests run with (Python 3.11). tests/test_gradescope.py checks that each of
#: pyproject's dependencies and each requirement of these is pinned here.
PINNED = (
    "attrs==26.1.0", "click==8.5.1", "contourpy==1.3.3", "cycler==0.12.1", "fastjsonschema==2.22.3",
    "filelock==4.3.2", "fonttools==4.68.0", "fsspec==2026.9.0", "jinja2==3.1.6", "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1", "jupyter-core==5.9.1", "kiwisolver==1.5.1", "markupsafe==3.0.4",
    "matplotlib==3.11.2", "mpmath==1.3.0", "nbformat==5.11.1", "networkx==3.6.1", "numpy==2.4.6",
    "packaging==26.4", "pillow==13.0.0", "platformdirs==4.14.9", "pyparsing==3.3.3",
    "python-dateutil==4.0.0", "pyyaml==6.0.4", "referencing==0.37.0", "rpds-py==2026.9.1",
    "setuptools==84.2.1", "sympy==1.14.0", "tqdm==4.70.1", "traitlets==5.16.1",
    "typing-extensions==4.16.0", "tzdata==2026.6",
)
BUNDLE = "bpgrade"
VENV = "bpgrade-venv"  #: under the autograder root
PYTHON_ENV = "BPGRADE_PYTHON"  #: run_autograder's interpreter instead of the venv's (local runs)
VALIDATE_TIMEOUT = 600.0  #: seconds for each validating run of the reference
ENGINE_SKIP = ("__pycache__",)

SETUP_SH = """#!/usr/bin/env bash
# bpgrade's Gradescope setup: Gradescope runs it once, as root, when it builds the image.
# One venv with pinned wheels: pip, torch (CPU wheel, PyTorch's CPU index), requirements.txt.
# No conda, Jupyter, otter or browser. {root_env} replaces {default_root} (local dry runs);
# BPGRADE_SETUP_PYTHON names the interpreter to build the venv from (default python{py}).
set -euo pipefail
umask 022  # the venv must be readable by the uid the sandbox runs student code as

AG="${{{root_env}:-{default_root}}}"
PY="${{BPGRADE_SETUP_PYTHON:-python{py}}}"
VENV="$AG/{venv}"

if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -m venv --clear "$VENV" >/dev/null 2>&1; then
    # Gradescope's default image (Ubuntu 22.04) has Python 3.10 and no venv module: take
    # Python {py} and its venv module from Ubuntu's archive (setup.sh's only use of apt)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "python{py}" "python{py}-venv"
    "$PY" -m venv --clear "$VENV"
fi
"$VENV/bin/python" -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(None if v == "{py}" else
    "bpgrade needs Python {py} (the version it is tested on), got " + sys.version.split()[0])'

PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --no-input)
"${{PIP[@]}}" "pip=={pip}"
"${{PIP[@]}}" --no-deps --index-url {torch_index} "{torch}"
"${{PIP[@]}}" -r "$AG/source/requirements.txt"
"$VENV/bin/python" -m pip check

# the hidden reference and key: root only (bpgrade's sandbox runs student code as another uid)
chmod -R go-rwx "$AG/source/{bundle}/solutions"

# grade the reference once, as a submission: setup fails here if grading fails on this image
PYTHONPATH="$AG/source/{bundle}" "$VENV/bin/python" -s -m autograder.gradescope.harness --selfcheck "$AG"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this per submission, as root, in {default_root}: bpgrade grades submission/
# and writes results/results.json (autograder.gradescope.harness). {root_env} replaces
# {default_root}; {python_env} replaces the venv's interpreter (local runs of this script).
AG="${{{root_env}:-{default_root}}}"
PY="${{{python_env}:-$AG/{venv}/bin/python}}"
if [ ! -x "$PY" ]; then
    mkdir -p "$AG/results"
    echo '{{"score": 0, "tests": [], "output": "The autograder is not installed (setup.sh did not finish); please tell your instructor."}}' \\
        > "$AG/results/results.json"
    echo "no Python at $PY: did setup.sh run?" >&2
    exit 1
fi
export PYTHONPATH="$AG/source/{bundle}"
exec "$PY" -s -m autograder.gradescope.harness "$AG"
"""

TESTS_README = "bpgrade grades this assignment itself (autograder.gradescope): no otter tests.\n"


class GradescopeError(Exception):
    """The autograder zip could not be built, or the reference does not score full marks."""


@dataclass
class Validation:
    score: float
    max_score: float
    seconds: float  #: the zip's run_autograder, as Gradescope runs it
    results: dict
    otter_seconds: float | None = None  #: ``otter run`` (None: otter-grader is not installed)


def _fill(template: str) -> str:
    return template.format(root_env=ROOT_ENV, default_root=DEFAULT_ROOT, python_env=PYTHON_ENV, py=PYTHON_VERSION,
                           venv=VENV, pip=PIP_VERSION, torch_index=TORCH_INDEX, torch=TORCH_PIN, bundle=BUNDLE)


def setup_sh() -> str:
    return _fill(SETUP_SH)


def run_autograder_sh() -> str:
    return _fill(RUN_AUTOGRADER)


def requirements() -> str:
    """The zip's requirements.txt: PyPI pins only (setup.sh installs torch before it)."""
    return (f"# installed by setup.sh after {TORCH_PIN} (from {TORCH_INDEX}, --no-deps)\n"
            + "\n".join(PINNED) + "\n")


def otter_config(assignment: str, visibility: str = "visible") -> dict:
    return {
        "lang": "python",
        "show_stdout": False,
        "show_hidden": False,
        "plugins": [{PLUGIN: {"assignment": assignment, "bundle": BUNDLE, "visibility": visibility}}],
    }


def _bundle_files(assignment: str, base: Path) -> dict[str, bytes | Path]:
    """{path in the zip: file or bytes} for the project bundle."""
    files: dict[str, bytes | Path] = {}
    engine = project.package_dir()
    for path in project.engine_files():
        files[f"{BUNDLE}/autograder/{path.relative_to(engine).as_posix()}"] = path
    folder = project.assignments_dir(base) / assignment
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p in ENGINE_SKIP or p.startswith(".") for p in rel.parts):
            files[f"{BUNDLE}/assignments/{assignment}/{rel}"] = path
    reference = project.solution_path(assignment, base)
    if not reference.is_file():
        raise GradescopeError(f"no reference solution at {reference}: the autograder needs it")
    files[f"{BUNDLE}/solutions/{assignment}.py"] = reference
    key = project.assignment_key(assignment, base)  # resolved now ($BPGRADE_HIDDEN_SECRET applies)
    files[f"{BUNDLE}/solutions/grading.toml"] = (
        "# Hidden grading configuration of this autograder: never shown to students.\n"
        "# This assignment's hidden key (HMAC of the course secret, which is not here).\n"
        f'[{assignment}]\nhidden_key = "{key.hex()}"\n').encode()
    files[f"{BUNDLE}/pyproject.toml"] = base / "pyproject.toml"
    files[f"{BUNDLE}/README.md"] = (
        f"bpgrade, bundled for the Gradescope autograder of `{assignment}`.\n").encode()
    return files


def _mode(name: str) -> int:
    """A member's unix mode, whatever the instructor's umask: the scripts executable, the hidden
    files root-only, the rest world-readable (the sandbox's workers import the engine as
    another uid)."""
    if name in ("setup.sh", "run_autograder"):
        return 0o100755
    return 0o100600 if name.startswith(f"{BUNDLE}/solutions/") else 0o100644


def _write_zip(target: Path, assignment: str, visibility: str, bundle: dict[str, bytes | Path]) -> None:
    files: dict[str, bytes | str | Path] = {
        "setup.sh": setup_sh(), "run_autograder": run_autograder_sh(), "requirements.txt": requirements(),
        "otter_config.json": json.dumps(otter_config(assignment, visibility), indent=2) + "\n",
        "tests/README.md": TESTS_README, **dict(sorted(bundle.items()))}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _mode(name) << 16
            zf.writestr(info, content.read_bytes() if isinstance(content, Path) else content)


def extract(zip_path: Path, dest: Path) -> None:
    """Unzip keeping the members' unix modes, as ``unzip`` does (``zipfile`` alone drops them)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def gradescope_run(zip_path: Path, submission: Path, root: Path, *, metadata: dict | None = None,
                   python: str | None = sys.executable, timeout: float = VALIDATE_TIMEOUT) -> tuple[dict, float, str]:
    """Run the zip's ``run_autograder`` in Gradescope's layout under ``root`` (``source/`` the
    unzipped zip, ``submission/`` the submitted file, or a submitted zip unpacked,
    ``submission_metadata.json``, ``results/``), as Gradescope does: cwd ``root``, the copy at
    ``root/run_autograder``. ``python`` (default: this interpreter) stands in for the venv
    setup.sh builds; None: that venv, under ``root`` (a dry run of setup.sh made it).
    Returns (results.json, seconds, the script's output)."""
    root = Path(root)
    for sub in ("submission", "results"):  # fresh per submission, as in Gradescope's containers
        shutil.rmtree(root / sub, ignore_errors=True)
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    extract(zip_path, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    submission = Path(submission)
    if submission.is_dir():
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    elif submission.suffix == ".zip":
        with zipfile.ZipFile(submission) as zf:
            zf.extractall(root / "submission")
    else:
        shutil.copy(submission, root / "submission")
    (root / "submission_metadata.json").write_text(json.dumps(metadata or {}))
    results = root / "results" / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPGRADE_") and k != "PYTHONPATH"}
    env[ROOT_ENV] = str(root)
    if python is not None:
        env[PYTHON_ENV] = python
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GradescopeError(f"run_autograder did not finish within {timeout:g} s") from None
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or not results.is_file():
        raise GradescopeError(f"run_autograder exited {proc.returncode} "
                              f"({'with' if results.is_file() else 'without'} a results.json):\n{output[-3000:]}")
    return json.loads(results.read_text()), seconds, output


def reference_notebook(assignment: str, base: Path | None = None):
    """The student notebook with the reference solution in its answer cells."""
    nb = notebooks.build(assignment, base)
    return notebooks.fill(nb, project.solution_path(assignment, base).read_text())


def otter_run(zip_path: Path, submission: Path, out_dir: Path, *, timeout: float = VALIDATE_TIMEOUT) -> tuple[dict, float]:
    """Run the real ``otter run`` on one submission; return (results.json, seconds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    if results.exists():
        results.unlink()
    cmd = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(zip_path), "-o", str(out_dir), str(submission)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GradescopeError(f"`otter run` did not finish within {timeout:g} s") from None
    seconds = time.perf_counter() - start
    if not results.is_file():
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise GradescopeError(f"`otter run` wrote no results.json (exit {proc.returncode}):\n{tail}")
    return json.loads(results.read_text()), seconds


def _otter_installed() -> bool:
    try:
        import otter  # noqa: F401
    except ImportError:
        return False
    return True


def _full_marks(results: dict, spec, how: str) -> None:
    problem = short_of_full_marks(results, spec)
    if problem:
        raise GradescopeError(f"the reference solution {problem} through the autograder zip ({how}); "
                              f"refusing to write it.\n{json.dumps(results, indent=2)[:4000]}")


def validate(zip_path: Path, assignment: str, base: Path | None = None, *, otter: bool | None = None) -> Validation:
    """Grade the reference notebook through the zip, as Gradescope does (its run_autograder) and,
    with otter-grader installed (or ``otter=True``), with ``otter run``: full marks on every part."""
    import nbformat

    spec = project.load_assignment(assignment, base)
    otter = _otter_installed() if otter is None else otter
    with tempfile.TemporaryDirectory(prefix="bpgrade-validate-") as tmp:
        sub = Path(tmp) / f"{assignment}.ipynb"
        nbformat.write(reference_notebook(assignment, base), str(sub))
        results, seconds, _ = gradescope_run(zip_path, sub, Path(tmp) / "autograder")
        _full_marks(results, spec, "run_autograder")
        otter_seconds = None
        if otter:
            otter_results, otter_seconds = otter_run(zip_path, sub, Path(tmp) / "otter-out")
            _full_marks(otter_results, spec, "otter run")
    return Validation(float(results["score"]), spec.max_score, seconds, results, otter_seconds)


def build(assignment: str, out: Path, *, base: Path | None = None, visibility: str = "visible") -> Validation:
    """Build, validate, then write the autograder zip at ``out`` (nothing is written on failure)."""
    base = base or project.root()
    if visibility not in VISIBILITIES:
        raise GradescopeError(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
    project.load_assignment(assignment, base)  # unknown id -> ProjectError
    bundle = _bundle_files(assignment, base)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="bpgrade-gradescope-") as tmp:
        candidate = Path(tmp) / "autograder.zip"
        _write_zip(candidate, assignment, visibility, bundle)
        result = validate(candidate, assignment, base)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".tmp")
        shutil.copyfile(candidate, partial)
        partial.replace(out)
    return result
