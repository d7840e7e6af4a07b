"""``bpgrade gradescope``: a Gradescope autograder zip, built with otter, graded by bpgrade.

The zip is ``otter generate``'s (setup.sh, run_autograder, run_otter.py, environment.yml,
otter_config.json, tests/) plus ``bpgrade/``: this package's source, the assignment folder, the
hidden reference and a ``solutions/grading.toml`` holding this assignment's hidden key (derived
from the course secret, which never leaves the instructor's machine). setup.sh installs
them (torch from the CPU wheel index) and makes ``bpgrade/solutions`` readable by root only;
the sandbox's workers run as another uid. otter_config.json enables
:class:`autograder.otter_plugin.BpgradePlugin`, which grades in otter's parent process.

Before writing the zip, ``build`` grades the reference solution through it with the real
``otter run`` and refuses to write it unless the reference scores full marks.
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

from . import notebook, project

TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_VERSION = "2.13.0"
PYTHON_VERSION = "3.11"
BUNDLE = "bpgrade"
PLUGIN = "autograder.otter_plugin.BpgradePlugin"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
VALIDATE_TIMEOUT = 600.0  #: seconds for the validating ``otter run`` of the reference
ENGINE_SKIP = ("__pycache__",)

SETUP_SH_TAIL = f"""
# ---- bpgrade ----------------------------------------------------------------------------------
# The hidden reference and key (bpgrade/solutions) are readable by root only: bpgrade's sandbox
# runs student code as another uid. /root stays traversable so that uid can import the standard
# library and numpy from the otter-env under /root/miniforge3.
chmod -R go-rwx {{ag}}/source/{BUNDLE}/solutions
chmod o+x /root
"""


class GradescopeError(Exception):
    """The autograder zip could not be built, or the reference does not score full marks."""


@dataclass
class Validation:
    score: float
    max_score: float
    seconds: float
    results: dict


def requirements() -> str:
    """The zip's pip requirements (otter adds otter-grader itself): torch from the CPU wheel
    index, and this package from the bundle."""
    return "\n".join([
        f"--extra-index-url {TORCH_INDEX}",
        f"torch=={TORCH_VERSION}",
        f"/autograder/source/{BUNDLE}",
    ]) + "\n"


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
    engine = Path(__file__).resolve().parent
    for path in sorted(engine.rglob("*.py")):  # subpackages too
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


def _generate(workdir: Path, assignment: str, visibility: str, python_version: str) -> Path:
    """Run ``otter generate`` in ``workdir`` and return the zip it wrote."""
    from otter.generate import main as otter_generate

    tests = workdir / "tests"
    tests.mkdir()
    config = workdir / "otter_config.json"
    config.write_text(json.dumps(otter_config(assignment, visibility), indent=2))
    reqs = workdir / "requirements.txt"
    reqs.write_text(requirements())
    out = workdir / "otter.zip"
    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        otter_generate(tests_dir=str(tests), output_path=str(out), config=str(config),
                       requirements=str(reqs), no_environment=True, python_version=python_version)
    finally:
        os.chdir(cwd)
    return out


def _assemble(otter_zip: Path, target: Path, bundle: dict[str, bytes | Path]) -> None:
    """otter's zip + the bundle, with bpgrade's lines appended to setup.sh."""
    with zipfile.ZipFile(otter_zip) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "setup.sh":
                data = data.rstrip(b"\n") + b"\n" + SETUP_SH_TAIL.replace("{ag}", "/autograder").encode()
            dst.writestr(info, data)
        if not any(n.startswith("tests/") for n in src.namelist()):  # otter copies tests/ into place
            dst.writestr("tests/README.md", "bpgrade grades this assignment in an otter plugin: no otter tests.\n")
        for name, content in sorted(bundle.items()):
            if isinstance(content, Path):
                dst.write(content, name)
            else:
                dst.writestr(name, content)


def reference_notebook(assignment: str, base: Path | None = None):
    """The student notebook with the reference solution in its answer cells."""
    nb = notebook.build(assignment, base)
    return notebook.fill(nb, project.solution_path(assignment, base).read_text())


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


def validate(zip_path: Path, assignment: str, base: Path | None = None) -> Validation:
    """Grade the reference notebook through the zip; it must score full marks on every part."""
    import nbformat

    spec = project.load_assignment(assignment, base)
    with tempfile.TemporaryDirectory(prefix="bpgrade-validate-") as tmp:
        sub = Path(tmp) / f"{assignment}.ipynb"
        nbformat.write(reference_notebook(assignment, base), str(sub))
        results, seconds = otter_run(zip_path, sub, Path(tmp) / "out")
    score = float(results.get("score", 0.0))
    short = [t["name"] for t in results.get("tests", []) if t.get("score") != t.get("max_score")]
    if abs(score - spec.max_score) > 1e-9 or short or len(results.get("tests", [])) != len(spec.parts):
        detail = json.dumps(results, indent=2)[:4000]
        raise GradescopeError(
            f"the reference solution scored {score:g}/{spec.max_score:g} through the autograder zip "
            f"(parts short: {short or 'none'}); refusing to write it.\n{detail}")
    return Validation(score, spec.max_score, seconds, results)


def build(assignment: str, out: Path, *, base: Path | None = None, visibility: str = "visible",
          python_version: str = PYTHON_VERSION) -> Validation:
    """Build, validate, then write the autograder zip at ``out`` (nothing is written on failure)."""
    base = base or project.root()
    if visibility not in VISIBILITIES:
        raise GradescopeError(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
    project.load_assignment(assignment, base)  # unknown id -> ProjectError
    try:
        import otter  # noqa: F401
    except ImportError:
        raise GradescopeError("otter-grader is not installed: pip install -e '.[gradescope]'") from None
    bundle = _bundle_files(assignment, base)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="bpgrade-gradescope-") as tmp:
        tmp = Path(tmp)
        otter_zip = _generate(tmp, assignment, visibility, python_version)
        candidate = tmp / "autograder.zip"
        _assemble(otter_zip, candidate, bundle)
        result = validate(candidate, assignment, base)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".tmp")
        shutil.copyfile(candidate, partial)
        partial.replace(out)
    return result
