"""Real student code runs as it would in Jupyter: any installed module imports, plotting and
display() do nothing visible, a notebook runs cell by cell (a raising, hanging or crashing cell
is reported by its number and first line and the other cells still run), a script keeps the
definitions made before an error, and sources up to the documented size load."""
from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
import tempfile

import nbformat
import pytest

from autograder import load
from autograder.sandbox.guest import mounts
from autograder.grade import Grader
from autograder.load import MAX_SOURCE_BYTES, split_cells
from tests.helpers import part_of, reference_source
from tests.test_sandbox import probe

pytestmark = pytest.mark.slow

A = "logistic_regression"
PLOTTING = """\
import numpy as np
import matplotlib.pyplot as plt
from IPython.display import display
"""


def notebook(*cells: str, markdown: str = "# Homework 2\nWrite the functions below.") -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def scores(report) -> dict[str, float]:
    return {p.name: p.score for p in report.parts}


@pytest.fixture(scope="module")
def grader(sandbox):
    g = Grader(A, mode="grade")
    g.spec.time_limit = 1.0  # a hanging cell then costs seconds, not tens of them
    return g


def test_stdlib_and_site_packages_import_as_in_jupyter(grade_source):
    """Modules the zygote did not import: the interpreter's own files are readable in the
    sandbox, wherever Python is installed (here, pyenv under a 0700 home)."""
    source = ("import gzip, fileinput, logging.config, zoneinfo, urllib.request, typing, dataclasses\n"
              "from numpy import *\nimport pandas as pd\nfrom IPython.display import display\n"
              + reference_source(A))
    report = grade_source(A, source)
    assert report.load_error is None, report.load_error
    assert report.score == report.max_score and not report.load_warnings


def test_a_notebook_that_plots_scores_what_the_same_py_scores(tmp_path, grader, sandbox):
    ref = reference_source(A)
    nb = notebook(
        "%matplotlib inline\n" + PLOTTING + "!pip install numpy",
        ref,
        "%%time\nX = np.random.default_rng(0).normal(size=(8, 3))\nlosses = [bce_loss(X, (X[:, 0] > 0) * 1.0, np.ones(3), 0.0)]\n"
        "display(X.shape)\nplt.plot(losses)\nplt.title('loss')\nplt.show()\nplt.savefig('loss.png')",
        "fig, ax = plt.subplots()\nax.hist(predict_proba(X, np.ones(3), 0.0))\nget_ipython().run_line_magic('matplotlib', 'inline')",
    )
    as_notebook = grader.grade_path(write(tmp_path, f"{A}.ipynb", nb), sandbox)
    as_script = grader.grade_path(write(tmp_path, f"{A}.py", PLOTTING + ref), sandbox)
    assert as_notebook.load_error is None and not as_notebook.load_warnings, as_notebook.load_warnings
    assert scores(as_notebook) == scores(as_script)
    assert as_notebook.score == as_notebook.max_score


def test_a_raising_cell_is_named_and_the_later_cells_still_run(tmp_path, grader, sandbox):
    ref = reference_source(A)
    head, tail = ref.split("def grad_logits", 1)
    nb = notebook(
        head,
        "print(test_loss)  # a stray cell left from an earlier attempt",
        "def grad_logits" + tail,  # defined after the failing cell: still graded
        "assert 1 == 2, 'my own check'",
    )
    report = grader.grade_path(write(tmp_path, "hw.ipynb", nb), sandbox)
    assert report.score == report.max_score
    first, second = report.load_warnings
    assert first.startswith("code cell 2 (`print(test_loss)  # a stray cell left from an earlier attempt`) raised NameError")
    assert "the other cells ran" in first and "code cell 2, line 1" in first
    assert second.startswith("code cell 4 (`assert 1 == 2, 'my own check'`) raised AssertionError: my own check")


def test_a_redefinition_in_a_later_cell_is_what_is_graded(tmp_path, grader, sandbox):
    ref = reference_source(A)
    wrong = "def grad_logits(X, y, w, b):\n    return predict_proba(X, w, b) - y  # forgot 1/N\n"
    early_right = grader.grade_path(write(tmp_path, "a.ipynb", notebook(wrong, ref)), sandbox)
    late_wrong = grader.grade_path(write(tmp_path, "b.ipynb", notebook(ref, wrong)), sandbox)
    assert part_of(early_right, "grad_logits").score == part_of(early_right, "grad_logits").max_score
    assert part_of(late_wrong, "grad_logits").score == 0
    assert "scaled_by_N" in part_of(late_wrong, "grad_logits").diagnoses


def test_a_script_keeps_the_definitions_made_before_an_error(tmp_path, grader, sandbox):
    ref = reference_source(A)
    head, tail = ref.split("def grad_logits", 1)
    source = head + "\nprint(undefined_name)\n\ndef grad_logits" + tail
    report = grader.grade_path(write(tmp_path, f"{A}.py", source), sandbox)
    line = source.splitlines().index("print(undefined_name)") + 1
    (warning,) = report.load_warnings
    assert warning.startswith(f"the file raised NameError at line {line}: name 'undefined_name' is not defined")
    assert "the definitions made before it are graded" in warning
    assert part_of(report, "sigmoid").score == part_of(report, "sigmoid").max_score
    missing = part_of(report, "grad_logits")
    assert missing.score == 0 and missing.diagnoses == ["missing_function"]


def test_a_script_that_stops_before_any_definition_says_where(grade_source):
    report = grade_source(A, "import numpy as np\nx = 1 / 0\n" + reference_source(A))
    assert report.score == 0
    assert "raised ZeroDivisionError at line 2: division by zero" in report.load_error
    assert all(p.diagnoses == ["load_error"] for p in report.parts)


def test_a_missing_package_is_named_with_the_students_own_line(tmp_path, grader, sandbox):
    if importlib.util.find_spec("scipy") is not None:
        pytest.skip("scipy is installed where this runs")
    ref = reference_source(A)
    uses_expit = ref + "\n\ndef bce_loss(X, y, w, b):\n    p = expit(X @ w + b)\n    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))\n"
    nb = notebook("import numpy as np\nfrom scipy.special import expit", uses_expit)
    report = grader.grade_path(write(tmp_path, "hw.ipynb", nb), sandbox)
    (warning,) = report.load_warnings
    assert warning == ("`from scipy.special import expit` (code cell 1, line 2): scipy is not installed "
                       "where this is graded; use numpy; the other cells ran")
    assert part_of(report, "bce_loss").score == 0  # expit is not defined: the part fails ...
    assert all(p.score == p.max_score for p in report.parts if not p.name.startswith("bce_loss"))  # ... only it


@pytest.mark.parametrize("bad_cell, word", [
    pytest.param("import time\nwhile True:\n    time.sleep(0.01)", "did not finish within 2 s", id="hangs"),
    pytest.param("import os\nos._exit(3)", "the worker process died", id="kills_the_worker"),
])
def test_a_cell_that_hangs_or_kills_the_worker_is_skipped(tmp_path, grader, sandbox, bad_cell, word):
    ref = reference_source(A)
    nb = notebook("import numpy as np", bad_cell, ref)
    report = grader.grade_path(write(tmp_path, "hw.ipynb", nb), sandbox)
    (warning,) = report.load_warnings
    first = bad_cell.splitlines()[0]
    assert warning.startswith(f"code cell 2 (`{first}`) {word}") and "was skipped; the other cells ran" in warning
    assert report.score == report.max_score


def test_ipython_syntax_is_inert_and_keeps_line_numbers():
    cell = ("%matplotlib inline\nimport numpy as np\n!pip install numpy\nfor i in range(2):\n"
            "    !echo {i}\nfiles = !ls\nnp.exp?\nx = 1")
    code = load.python_cell(cell)
    assert code.count("\n") == cell.count("\n")
    namespace: dict = {}
    exec(compile(code, "<cell>", "exec"), namespace)
    assert namespace["x"] == 1 and namespace["files"] is None
    assert load.python_cell("%%time\ny = 2").splitlines()[1] == "y = 2"
    assert all(line.startswith("#") for line in load.python_cell("%%bash\nrm -rf /\necho hi").splitlines())


def test_notebook_cells_keep_their_numbers_and_markdown_does_not_count():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("b"), nbformat.v4.new_code_cell("y = 2\nz = 3")]
    cells = split_cells(load.notebook_source(nbformat.writes(nb)))
    assert [(c.number, c.source) for c in cells] == [(1, "x = 1\n"), (2, "y = 2\nz = 3\n")]
    assert split_cells("x = 1\n")[0].number is None


def test_sources_up_to_the_documented_limit_load(tmp_path, grader, sandbox):
    ref = reference_source(A)
    padding = "# " + "x" * 98 + "\n"
    big = ref + padding * ((MAX_SOURCE_BYTES - len(ref) - 1000) // len(padding))
    assert 1024 * 1024 < len(big.encode()) < MAX_SOURCE_BYTES
    report = grader.grade_path(write(tmp_path, f"{A}.py", big), sandbox)
    assert report.score == report.max_score, report.load_error
    too_big = grader.grade_path(write(tmp_path, "big.py", big + padding * 20000), sandbox)
    assert too_big.load_error == "big.py is too large: a file may hold at most 2 MiB"


def test_a_notebook_counts_its_code_not_its_plots(tmp_path, grader, sandbox):
    """Outputs (a plot is a base64 PNG) do not count towards the size limit; code cells do."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(reference_source(A))
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo" + "A" * (3 << 20)})]
    nb.cells = [cell]
    path = tmp_path / "plots.ipynb"
    nbformat.write(nb, str(path))
    assert path.stat().st_size > MAX_SOURCE_BYTES
    report = grader.grade_path(path, sandbox)
    assert report.score == report.max_score, report.load_error


def test_an_unreadable_home_above_the_interpreter_is_bridged_not_opened():
    top = tempfile.mkdtemp(prefix="bpgrade-bridge-")  # under /tmp: every directory above it is passable
    try:
        os.chmod(top, 0o755)
        home = os.path.join(top, "home")
        python = os.path.join(home, ".pyenv", "versions", "3.11.7")
        os.makedirs(python)
        os.makedirs(os.path.join(home, ".ssh"))
        os.chmod(home, stat.S_IRWXU)
        bridges = mounts.bridge_paths([python, os.path.join(python, "lib"), top], uid=61999)
        assert bridges == {home: [python]}  # the way to the interpreter; the .ssh beside it is not
        os.chmod(home, 0o755)
        assert mounts.bridge_paths([python], uid=61999) == {}
    finally:
        shutil.rmtree(top)


def test_the_worker_sees_the_interpreter_but_not_the_home_around_it(sandbox):
    prefix = os.path.realpath(sys.base_prefix)
    home = next((p for p in _ancestors(prefix) if not mounts.traversable(p, 61999)), None)
    if os.geteuid() != 0 or home is None:
        pytest.skip("needs root and a Python installed under a directory other users cannot pass")
    result, protections = probe(sandbox, f"""
        import gzip
        RESULT["gzip"] = gzip.__name__
        RESULT["home"] = sorted(os.listdir({home!r}))
        for leaf in (".bashrc", ".profile", ".bash_history"):
            try:
                open(os.path.join({home!r}, leaf)).read(1)
                RESULT[leaf] = "read"
            except OSError as exc:
                RESULT[leaf] = type(exc).__name__
    """)
    assert "interpreter_bridged" in protections
    assert result["gzip"] == "gzip"
    visible = os.path.relpath(prefix, home).split(os.sep)[0]
    assert result["home"] == [visible]  # the way to the interpreter, nothing else of the home
    assert "read" not in (result[".bashrc"], result[".profile"], result[".bash_history"])


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(2, len(parts))]


def test_autograd_libraries_stay_out_of_reach_when_the_blocker_is_removed(sandbox):
    """The interpreter is readable, the autograd libraries are not: hidden like secrets."""
    torch_dirs = [p for p in mounts.forbidden_paths() if os.path.basename(p) == "torch"]
    if not torch_dirs:
        pytest.skip("torch is not installed here")
    result, _ = probe(sandbox, f"""
        sys.meta_path[:] = [f for f in sys.meta_path if "Blocker" not in type(f).__name__]
        try:
            import torch  # at most an empty namespace package: its folder is an empty mount point
            torch.tensor([1.0], requires_grad=True)
            RESULT["import"] = "usable"
        except Exception as exc:
            RESULT["import"] = type(exc).__name__
        try:
            RESULT["listing"] = os.listdir({torch_dirs[0]!r})[:3]
        except OSError as exc:
            RESULT["listing"] = type(exc).__name__
    """)
    assert result["import"] in ("AttributeError", "ImportError", "ModuleNotFoundError"), result
    assert result["listing"] == "PermissionError"


# ------------------------------------------------- the same plotting notebook on every path

PLOT_CELL = ("%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n"
             "zs = np.linspace(-6, 6, 50)\nplt.plot(zs, sigmoid(zs))\nplt.title('sigmoid')\nplt.show()\n"
             "display(zs[:3])")


def plotting_notebook(path, source: str):
    """The student notebook with ``source`` in its answer cells and a plotting cell after them."""
    from autograder.students import notebooks as nbmod

    nb = nbmod.fill(nbmod.build(A), source)
    first_check = next(i for i, c in enumerate(nb.cells) if nbmod.CHECK in c.metadata.get("tags", []))
    nb.cells.insert(first_check, nbformat.v4.new_code_cell(PLOT_CELL, id="plots"))
    nbformat.write(nb, str(path))
    return path


def _cli(*args: str) -> str:
    run = __import__("subprocess").run([sys.executable, "-m", "autograder.cli", *args], capture_output=True,
                                       text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr
    return run.stdout


def test_bpgrade_grade_scores_a_plotting_notebook_like_the_py(tmp_path):
    import json

    ref = reference_source(A)
    nb = json.loads(_cli("grade", A, str(plotting_notebook(tmp_path / f"{A}.ipynb", ref)), "--json"))
    py = json.loads(_cli("grade", A, str(write(tmp_path, f"{A}.py", PLOTTING + ref)), "--json"))
    assert {p["name"]: p["score"] for p in nb["parts"]} == {p["name"]: p["score"] for p in py["parts"]}
    assert nb["score"] == nb["max_score"] and nb["load_warnings"] == []


def test_bpgrade_batch_scores_a_plotting_notebook_like_the_py(tmp_path):
    import csv

    from autograder.batch import run_batch

    subs = tmp_path / "subs"
    subs.mkdir()
    buggy = reference_source(A).replace("return (predict_proba(X, w, b) - y) / X.shape[0]",
                                        "return predict_proba(X, w, b) - y")
    plotting_notebook(subs / "alice.ipynb", buggy)
    write(subs, "bob.py", PLOTTING + buggy)
    run_batch(A, subs, out=tmp_path / "out", workers=1, progress=False)
    with open(tmp_path / "out" / "gradebook.csv", newline="") as fh:
        rows = {row["submission_id"]: row for row in csv.DictReader(fh)}
    graded = [name for name in rows["alice"] if name not in ("submission_id", "sid", "seconds")]
    assert {k: rows["alice"][k] for k in graded} == {k: rows["bob"][k] for k in graded}
    assert 0 < float(rows["alice"]["total"]) < 10


def test_the_in_notebook_check_passes_a_plotting_notebook_in_a_real_kernel(tmp_path):
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    from autograder.students import notebooks as nbmod

    path = plotting_notebook(tmp_path / f"{A}.ipynb", reference_source(A))
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream")
               for c in nb.cells if nbmod.CHECK in c.metadata.get("tags", [])]
    spec_parts = [p.name for p in Grader(A, mode="check").spec.parts]
    for part, out in zip(spec_parts, outputs):
        assert out.startswith(f"PASS {part} "), out
    assert outputs[-1].count("PASS") == len(spec_parts), outputs[-1]


def test_the_worker_sees_the_package_but_not_the_checkout_nor_other_processes(sandbox):
    """Of the checkout only `autograder/` is visible: `.git` holds the history of solutions/,
    and the root's files and tests are the course's, not the student's. /proc hides the
    grader's and the zygote's processes (hidepid), so their command lines are unreadable."""
    from autograder import project

    if os.geteuid() != 0:
        pytest.skip("the mount namespace needs root")
    root = str(project.root())
    result, protections = probe(sandbox, f"""
        for path in ({root + '/.git'!r}, {root + '/tests'!r}, {root + '/solutions'!r}, {root + '/autograder'!r}):
            try:
                RESULT[path] = len(os.listdir(path))
            except OSError as exc:
                RESULT[path] = type(exc).__name__
        RESULT["readme"] = open({root + '/README.md'!r}).read(100)
        if not os.path.isdir({root + '/.git'!r}):  # a git worktree: .git is a file naming the repository
            RESULT[{root + '/.git'!r}] = open({root + '/.git'!r}).read() or "empty"
        RESULT["grader"] = os.path.exists("/proc/{os.getpid()}")
        RESULT["others"] = [p for p in os.listdir("/proc") if p.isdigit() and p != str(os.getpid())]
    """)
    assert "proc_hidepid" in protections
    assert result[root + "/tests"] == result[root + "/solutions"] == "PermissionError"
    assert result[root + "/.git"] in ("PermissionError", "empty")  # a directory, or a worktree's file
    assert isinstance(result[root + "/autograder"], int) and result[root + "/autograder"] > 10
    assert result["readme"] == ""  # the root's files read as empty
    assert result["grader"] is False and result["others"] == []
