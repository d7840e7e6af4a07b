"""The Gradescope autograder: built with otter, graded by bpgrade's plugin outside the student's
kernel. The slow tests run the real `otter run -a autograder.zip` on the reference, a buggy
notebook, a notebook that tampers with otter, one that hangs and one that kills its process."""
from __future__ import annotations

import json
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import project
from autograder.gradescope import autograder_zip as gradescope
from autograder.students import notebooks as notebook
from autograder.gradescope.plugin import error_results, gradescope_results
from autograder.report import PartResult, Report
from tests.helpers import mutate, reference_source

otter = pytest.importorskip("otter", reason="the Gradescope tests need otter-grader (pip install -e '.[test]')")

LR = "logistic_regression"
OTTER_RUN_LIMIT = 240.0  #: seconds: every `otter run` here must finish well within this
TIMES: dict[str, float] = {}

REF = reference_source(LR)
BUGGY = mutate(REF, "return (predict_proba(X, w, b) - y) / X.shape[0]", "return predict_proba(X, w, b) - y")
WRONG = mutate(REF, "    dz = grad_logits(X, y, w, b)\n    return X.T @ dz, float(np.sum(dz))", "    return 0, 0")
HANG = mutate(REF, "    dz = grad_logits(X, y, w, b)\n    return X.T @ dz, float(np.sum(dz))",
              "    while True:\n        pass")
KILL = mutate(REF, "    return (predict_proba(X, w, b) - y) / X.shape[0]",
              "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)")
# otter.md section 1.3 "tamper", verbatim but for the guard: where otter cannot be imported
# (bpgrade's sandbox) the wrong answer is still graded, so "no extra points" is measured exactly.
TAMPER = '''try:
    from otter.test_files.abstract_test import TestCaseResult
    import otter.test_files.ok_test as _ok, otter.test_files.exception_test as _ex
    def _always_pass(self, env):
        self.test_case_results = [TestCaseResult(test_case=tc, message="ok", passed=True) for tc in self.test_cases]
    _ok.OKTestFile.run = _always_pass
    _ex.ExceptionTestFile.run = _always_pass
except ImportError:
    pass
'''


def _lost(*parts: str) -> float:
    spec = project.load_assignment(LR)
    return spec.max_score - sum(spec.part(p).points for p in parts)


def _notebook(path: Path, source: str, extra_cell: str | None = None) -> Path:
    nb = notebook.fill(notebook.build(LR), source)
    if extra_cell:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell, id="extra"))
    nbformat.write(nb, str(path))
    return path


# ------------------------------------------------------------------ fast: results.json wording

def _report(mode: str, parts: list[tuple[str, int, int, list[str]]]) -> Report:
    report = Report(assignment=LR, title="t", mode=mode, max_score=float(len(parts)))
    for name, passed, total, codes in parts:
        report.parts.append(PartResult(name=name, function=name, max_score=1.0, score=passed / total,
                                       passed=passed, total=total, diagnoses=codes, tolerance="tol"))
    return report


def test_results_json_has_one_entry_per_part_and_honest_wording():
    public = _report("check", [("a", 5, 5, []), ("b", 5, 5, [])])
    hidden = _report("grade", [("a", 6, 6, []), ("b", 0, 6, ["timeout"])])
    data = gradescope_results(public, hidden)
    assert data["score"] == 1.0
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [("a", 1.0, 1.0), ("b", 0.0, 1.0)]
    assert data["tests"][1]["output"].startswith("public 5/5 cases passed; hidden 0/6 cases passed")
    assert "public 10/10 cases passed; hidden 6/12 cases passed" in data["output"]
    assert "timed out" in data["output"] and "b" in data["output"].split("timed out")[1]
    assert "all tests passed" not in json.dumps(data).lower()
    assert error_results("boom", 10)["score"] == 0 and error_results("boom", 10)["tests"][0]["max_score"] == 10


def test_requirements_pin_cpu_torch_and_install_the_bundle():
    reqs = gradescope.requirements().splitlines()
    assert reqs[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert f"torch=={gradescope.TORCH_VERSION}" in reqs
    assert f"/autograder/source/{gradescope.BUNDLE}" in reqs


# ------------------------------------------------------------------ slow: the real otter run

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ag") / "autograder.zip"
    start = time.perf_counter()
    result = gradescope.build(LR, out)
    TIMES["build (incl. validating otter run)"] = time.perf_counter() - start
    TIMES["validating otter run (reference)"] = result.seconds
    assert result.score == result.max_score
    return out


def _run(zip_path: Path, submission: Path, out: Path, name: str) -> dict:
    results, seconds = gradescope.otter_run(zip_path, submission, out, timeout=OTTER_RUN_LIMIT)
    TIMES[name] = seconds
    print(f"\n[{name}] otter run: {seconds:.1f} s\n{json.dumps(results, indent=2)}")
    return results


def _by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


@pytest.mark.slow
def test_zip_bundles_the_grader_and_locks_the_hidden_files(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
        setup = zf.read("setup.sh").decode()
        env = zf.read("environment.yml").decode()
    for name in ("setup.sh", "run_autograder", "run_otter.py", f"bpgrade/solutions/{LR}.py",
                 "bpgrade/solutions/grading.toml", f"bpgrade/assignments/{LR}/assignment.py",
                 "bpgrade/autograder/gradescope/plugin.py", "bpgrade/pyproject.toml"):
        assert name in names, name
    assert config["plugins"] == [{gradescope.PLUGIN: {"assignment": LR, "bundle": "bpgrade", "visibility": "visible"}}]
    assert "chmod -R go-rwx /autograder/source/bpgrade/solutions" in setup
    assert "download.pytorch.org/whl/cpu" in env and "torch==" in env


@pytest.mark.slow
def test_a_reference_notebook_scores_full_marks(autograder_zip, tmp_path):
    results = _run(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", REF), tmp_path / "out", "a reference")
    spec = project.load_assignment(LR)
    assert results["score"] == spec.max_score
    assert [t["name"] for t in results["tests"]] == [p.name for p in spec.parts]
    assert all(t["score"] == t["max_score"] for t in results["tests"])
    assert "public " in results["output"] and "hidden " in results["output"]


@pytest.mark.slow
def test_b_buggy_notebook_gets_the_right_partial_score(autograder_zip, tmp_path, grade_source):
    results = _run(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", BUGGY), tmp_path / "out", "b buggy")
    engine = grade_source(LR, BUGGY)  # bpgrade grade on the same code: partial credit per case
    assert 0 < engine.score < engine.max_score
    assert results["score"] == pytest.approx(engine.score)
    tests = _by_name(results)
    assert {n: t["score"] for n, t in tests.items()} == pytest.approx({p.name: p.score for p in engine.parts})
    assert {n for n, t in tests.items() if t["score"] < t["max_score"]} == {"grad_logits", "gradients.dw", "gradients.db"}
    assert "[scaled_by_N]" in tests["grad_logits"]["output"]


@pytest.mark.slow
def test_c_tampering_with_otter_earns_no_extra_points(autograder_zip, tmp_path, grade_source):
    marker = tmp_path / "OTTER_LOG_WAS_UNPICKLED"

    class Payload:  # what a submitted .OTTER_LOG can do when otter dill-loads it as root
        def __reduce__(self):
            return (open, (str(marker), "w"))

    nb = _notebook(tmp_path / f"{LR}.ipynb", WRONG, TAMPER)
    submission = tmp_path / "submission.zip"
    with zipfile.ZipFile(submission, "w") as zf:
        zf.write(nb, nb.name)
        zf.writestr(".OTTER_LOG", pickle.dumps(Payload()))
        zf.writestr("numpy.py", f"open({str(tmp_path / 'SHADOW_IMPORTED')!r}, 'w').close()\n")
    results = _run(autograder_zip, submission, tmp_path / "out", "c tamper")
    untampered = grade_source(LR, WRONG)  # the same wrong answer without the tampering
    assert results["score"] == pytest.approx(untampered.score) and untampered.score < untampered.max_score
    tests = _by_name(results)
    assert {n: t["score"] for n, t in tests.items()} == pytest.approx({p.name: p.score for p in untampered.parts})
    assert tests["gradients.dw"]["score"] == 0
    assert not marker.exists(), "a submitted .OTTER_LOG was unpickled"
    assert not (tmp_path / "SHADOW_IMPORTED").exists(), "a submitted module was imported"


@pytest.mark.slow
def test_d_infinite_loop_still_writes_results_naming_the_timeout(autograder_zip, tmp_path):
    start = time.perf_counter()
    results = _run(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", HANG), tmp_path / "out", "d hang")
    assert time.perf_counter() - start < 120
    tests = _by_name(results)
    for name in ("gradients.dw", "gradients.db"):
        assert tests[name]["score"] == 0 and "[timeout]" in tests[name]["output"], tests[name]["output"]
    assert "timed out" in results["output"] and "gradients.dw" in results["output"]
    assert results["score"] == pytest.approx(_lost("gradients.dw", "gradients.db"))


@pytest.mark.slow
def test_e_killed_process_still_writes_results_naming_the_part(autograder_zip, tmp_path):
    results = _run(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", KILL), tmp_path / "out", "e kill")
    tests = _by_name(results)
    assert "[crashed]" in tests["grad_logits"]["output"]
    assert "grad_logits" in results["output"].split("died in:")[1]
    assert results["score"] == pytest.approx(_lost("grad_logits", "gradients.dw", "gradients.db"))


@pytest.mark.slow
def test_build_refuses_to_write_a_zip_whose_reference_does_not_score_full_marks(tmp_path):
    base = tmp_path / "project"
    shutil.copytree(project.assignments_dir() / LR, base / "assignments" / LR,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (base / "solutions").mkdir()
    (base / "solutions" / f"{LR}.py").write_text(BUGGY)  # a reference with a bug the torch oracle sees
    (base / "solutions" / "grading.toml").write_text(f'hidden_secret = "{"42" * 32}"\n')
    (base / "student_template").mkdir()
    shutil.copyfile(notebook.stub_path(LR), base / "student_template" / f"{LR}.py")
    shutil.copyfile(project.root() / "pyproject.toml", base / "pyproject.toml")
    out = tmp_path / "autograder.zip"
    with pytest.raises(gradescope.GradescopeError, match="refusing to write it"):
        gradescope.build(LR, out, base=base)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def teardown_module(module):
    if TIMES:
        print("\notter run times (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in TIMES.items()))


@pytest.mark.slow
def test_f_a_notebook_that_plots_scores_what_the_same_py_scores(autograder_zip, tmp_path, grade_source):
    plots = ("%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n"
             "zs = np.linspace(-6, 6, 50)\nplt.plot(zs, sigmoid(zs))\nplt.show()\ndisplay(zs[:3])")
    results = _run(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", BUGGY, extra_cell=plots),
                   tmp_path / "out", "f plotting notebook")
    engine = grade_source(LR, "import matplotlib.pyplot as plt\n" + BUGGY)
    assert {n: t["score"] for n, t in _by_name(results).items()} == pytest.approx({p.name: p.score for p in engine.parts})
    assert results["score"] == pytest.approx(engine.score) and 0 < engine.score < engine.max_score
