"""The trust boundary in the import graph. The code that runs beside student code (the zygote,
the worker and their confinement, ``autograder/sandbox/guest/``) and the shared plain modules of
``autograder/sandbox/`` import only the standard library, numpy, ``autograder.spec`` and each
other: never the grader's side (``sandbox.host``, grade, compare, oracle, project, ...). Checked
twice: in the source, and in the ``sys.modules`` of a live worker."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import project
from autograder.sandbox.host import Sandbox, Submission

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "autograder" / "sandbox"
SHARED = sorted(SANDBOX.glob("*.py"))
GUEST = sorted((SANDBOX / "guest").glob("*.py"))
A = "logistic_regression"
ASSIGNMENT_FILE = str(project.assignments_dir() / A / "assignment.py")

#: Engine modules outside the sandbox package that the guest may import: the assignment
#: vocabulary and the catalogue of codes it checks declarations against (data, no imports).
ENGINE = {"autograder", "autograder.spec", "autograder.catalogue"}
#: What a worker holds besides: the import-light checker a submitted notebook's setup cell
#: imports (``from autograder.notebook import checker``), preimported by the zygote, and the
#: student-side modules it names at import time (they import the grader only when a check runs,
#: in a kernel, never in a worker).
WORKER_EXTRA = {"autograder.notebook", "autograder.students", "autograder.students.checker",
                "autograder.students.notebooks"}
THIRD_PARTY = {"numpy"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported(path: Path, source: str | None = None) -> set[str]:
    """Every module an import statement in the file names, function-local imports included,
    relative imports resolved. ``from X import y`` names X, and X.y when that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names if _is_module(f"{module}.{alias.name}")}
    return found


def allowed(name: str, *, guest: bool) -> bool:
    """Whether the guest (or, ``guest=False``, a shared sandbox module) may import ``name``."""
    top = name.split(".")[0]
    if top != "autograder":
        return top in sys.stdlib_module_names or top in THIRD_PARTY
    if name in ENGINE or name == "autograder.sandbox":
        return True
    shared = {module_name(p) for p in SHARED}
    if name in shared:
        return True
    return guest and (name == "autograder.sandbox.guest" or name.startswith("autograder.sandbox.guest."))


def violations(path: Path, source: str | None = None) -> list[str]:
    guest = path.parent.name == "guest"
    return sorted(name for name in imported(path, source) if not allowed(name, guest=guest))


@pytest.mark.parametrize("path", SHARED + GUEST, ids=lambda p: str(p.relative_to(SANDBOX)))
def test_the_guest_and_the_shared_modules_import_no_grader_code(path):
    assert violations(path) == [], f"{module_name(path)} crosses the trust boundary"


def test_the_package_inits_on_the_guest_path_import_nothing():
    """``import autograder.sandbox.wire`` runs ``autograder/sandbox/__init__.py`` (and the guest's
    own ``__init__``): whatever they imported would be in every zygote."""
    for path in (SANDBOX / "__init__.py", SANDBOX / "guest" / "__init__.py"):
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))], path


@pytest.mark.parametrize("line", [
    "import autograder.grade",
    "from autograder import grade",
    "from ... import project",
    "from ...compare import NDARRAY",
    "from ..host import Sandbox",
    "from ..host.replies import text",
    "import torch",
])
def test_the_check_sees_a_grader_import_added_to_the_zygote(line):
    zygote = SANDBOX / "guest" / "zygote.py"
    source = zygote.read_text() + "\n\ndef later():\n    " + line + "\n"
    assert violations(zygote, source) != []


def test_importing_the_guest_loads_no_grader_module():
    """In a fresh interpreter (as the zygote and a spawned worker start), outside any sandbox."""
    code = ("import sys, json, autograder.sandbox.guest.zygote, autograder.sandbox.guest.worker\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('autograder'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "autograder.sandbox.guest.zygote" in loaded
    assert [m for m in loaded if not allowed(m, guest=True)] == []


PROBE = textwrap.dedent("""
    import sys
    from autograder.notebook import checker
    check = checker("logistic_regression")
    check("sigmoid")
    print("MODULES" + repr(sorted(m for m in sys.modules if m.startswith("autograder"))))
""")


def _worker_modules(box: Sandbox) -> list[str]:
    with Submission(box, PROBE, ASSIGNMENT_FILE) as sub:
        load = sub.load()
        assert load.status == "loaded", (load.status, load.error, load.stdout)
        return ast.literal_eval(load.stdout.split("MODULES", 1)[1].split("\n")[0])


def test_a_forked_worker_holds_no_grader_module(sandbox):
    """What the zygote imported, every worker it forks inherits: an ``import autograder.grade``
    anywhere in the zygote's imports shows here."""
    if sandbox.mode != "fork":
        pytest.skip("no zygote on this platform")
    loaded = _worker_modules(sandbox)
    assert "autograder.sandbox.guest.worker" in loaded  # the probe ran in a zygote's worker
    assert [m for m in loaded if not (allowed(m, guest=True) or m in WORKER_EXTRA)] == []


def test_a_spawned_worker_holds_no_grader_module():
    with Sandbox(isolation_mode="spawn") as box:
        loaded = _worker_modules(box)
    assert "autograder.sandbox.guest.confine" in loaded  # (the worker itself runs as __main__)
    assert [m for m in loaded if not (allowed(m, guest=True) or m in WORKER_EXTRA)] == []
