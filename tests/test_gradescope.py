"""The Gradescope autograder: a lean zip graded by bpgrade, outside any student kernel.

The slow tests run the zip as Gradescope does: its own ``run_autograder`` in the documented
``/autograder`` layout under a temporary root (this interpreter standing in for the venv setup.sh
builds), on the reference, a buggy notebook, a hang, a killed process and a plotting notebook;
and the real ``otter run -a autograder.zip`` (the plugin path instructors try locally) on a
submission that tampers with otter. setup.sh is checked statically (syntax, no conda/browser,
pins, the CPU index); ``BPGRADE_TEST_SETUP_SH=1`` also runs it in a throwaway root with a
Python 3.11 (network, ~1 GB, about a minute) and grades through the venv it builds."""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import project
from autograder.gradescope import autograder_zip as gradescope, harness
from autograder.gradescope.harness import error_results, gradescope_results
from autograder.students import notebooks as notebook
from autograder.report import PartResult, Report
from tests.helpers import mutate, reference_source

LR = "logistic_regression"
RUN_LIMIT = 240.0  #: seconds: every run_autograder / `otter run` here must finish well within this
META = {"id": 4242, "created_at": "2026-12-01T10:00:00-08:00",
        "users": [{"email": "Ada@Uni.edu", "id": 7, "name": "Ada"}]}  #: Gradescope's submission_metadata.json
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


# ------------------------------------------------------------------ fast: setup.sh and the pins

def _code_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_scripts_are_valid_bash(script):
    text = gradescope.setup_sh() if script == "setup.sh" else gradescope.run_autograder_sh()
    assert text.startswith("#!/usr/bin/env bash\n")
    proc = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_setup_installs_pinned_wheels_into_one_venv_without_conda_or_a_browser():
    code = _code_lines(gradescope.setup_sh())
    joined = "\n".join(code).lower()
    for word in ("conda", "miniforge", "mamba", "playwright", "chromium", "otter", "jupyter", "texlive",
                 "pandoc", "wget", "curl", "break-system-packages"):
        assert word not in joined, word
    assert code[0] == "set -euo pipefail" and code[1].startswith("umask 022")
    installs = [line for line in code if line.startswith('"${PIP[@]}"')]
    assert installs == ['"${PIP[@]}" "pip==23.2.1"',
                        f'"${{PIP[@]}}" --no-deps --index-url {gradescope.TORCH_INDEX} "torch=={gradescope.TORCH_VERSION}+cpu"',
                        '"${PIP[@]}" -r "$AG/source/requirements.txt"']
    assert gradescope.TORCH_INDEX == "https://download.pytorch.org/whl/cpu"
    assert '"$VENV/bin/python" -m pip check' in code
    # apt only to get Python 3.11 and its venv module, and only where the image lacks them
    apt = [line for line in code if line.startswith("apt-get")]
    assert apt == ["apt-get update", 'apt-get install -y --no-install-recommends "python3.11" "python3.11-venv"']
    at = code.index(apt[0])
    assert code[at - 2].startswith('if ! command -v "$PY"') and "venv" in code[at - 2]
    assert 'sys.exit(None if v == "3.11" else' in "\n".join(code)  # the venv's Python is checked
    assert gradescope.PYTHON_VERSION == "3.11"
    assert any("--selfcheck" in line for line in code)


def test_requirements_pin_every_package_and_leave_torch_to_the_cpu_index():
    lines = _code_lines(gradescope.requirements())
    assert lines == list(gradescope.PINNED)
    for line in lines:
        assert re.fullmatch(r"[a-z0-9-]+==[0-9][0-9a-z.]*", line), line
    names = [line.split("==")[0] for line in lines]
    assert len(set(names)) == len(names) and "torch" not in names and "otter-grader" not in names
    assert "numpy==2.4.6" in lines


def _name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", req).lower()


def test_the_pins_cover_bpgrade_and_what_its_dependencies_require():
    """Every run-time dependency of bpgrade (pyproject, on Python 3.11) is pinned, and so is every
    requirement of a pinned package as installed here: pip resolves nothing unpinned."""
    import importlib.metadata as md
    import tomllib

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.7",
           "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "extra": ""}
    pinned = {_name(p.split("==")[0]) for p in gradescope.PINNED} | {"torch"}
    deps = tomllib.loads((project.root() / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {_name(r.name) for r in map(Requirement, deps) if not r.marker or r.marker.evaluate(env)}
    assert wanted <= pinned, wanted - pinned
    missing = {}
    for name in sorted(pinned):
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue
        for req in map(Requirement, requires):
            if (not req.marker or req.marker.evaluate(env)) and _name(req.name) not in pinned:
                missing.setdefault(name, []).append(req.name)
    assert not missing, missing


def _layout(tmp_path: Path) -> Path:
    root = tmp_path / "autograder"
    for sub in ("source", "submission", "results"):
        (root / sub).mkdir(parents=True)
    return root


def test_harness_writes_an_error_result_when_its_settings_are_missing(tmp_path):
    root = _layout(tmp_path)
    data = harness.run(root)
    assert data["score"] == 0 and data["tests"][0]["name"] == "Autograder error"
    assert json.loads((root / "results" / "results.json").read_text()) == data


def test_harness_names_an_unreadable_submission(tmp_path):
    root = _layout(tmp_path)
    (root / "source" / "otter_config.json").write_text(json.dumps(gradescope.otter_config(LR)))
    (root / "submission" / "a.py").write_text("x = 1\n")
    (root / "submission" / "b.py").write_text("x = 2\n")
    data = harness.run(root)
    assert data["score"] == 0 and "could not read the submission" in data["output"]
    assert "several candidate files" in data["output"] and f"{LR}.py" in data["output"]


def test_run_autograder_without_setup_writes_a_visible_error(tmp_path):
    root = _layout(tmp_path)
    script = root / "run_autograder"
    script.write_text(gradescope.run_autograder_sh())
    script.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), harness.ROOT_ENV: str(root)}
    proc = subprocess.run([str(script)], cwd=root, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "did setup.sh run?" in proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "not installed" in data["output"]


# ------------------------------------------------------------------ slow: the zip as Gradescope runs it

@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ag") / "autograder.zip"
    start = time.perf_counter()
    result = gradescope.build(LR, out)
    TIMES["build (incl. both validating runs)"] = time.perf_counter() - start
    TIMES["validating run_autograder (reference)"] = result.seconds
    if result.otter_seconds is not None:
        TIMES["validating otter run (reference)"] = result.otter_seconds
    assert result.score == result.max_score
    return out


def _gradescope(zip_path: Path, submission: Path, tmp_path: Path, name: str, *, metadata: dict | None = META,
                python: str | None = sys.executable) -> tuple[dict, str]:
    results, seconds, output = gradescope.gradescope_run(zip_path, submission, tmp_path / "autograder",
                                                         metadata=metadata, python=python, timeout=RUN_LIMIT)
    TIMES[name] = seconds
    print(f"\n[{name}] run_autograder: {seconds:.1f} s\n{json.dumps(results, indent=2)}")
    return results, output


def _otter(zip_path: Path, submission: Path, out: Path, name: str) -> dict:
    pytest.importorskip("otter", reason="otter run needs otter-grader (pip install -e '.[test]')")
    results, seconds = gradescope.otter_run(zip_path, submission, out, timeout=RUN_LIMIT)
    TIMES[name] = seconds
    print(f"\n[{name}] otter run: {seconds:.1f} s\n{json.dumps(results, indent=2)}")
    return results


def _by_name(results: dict) -> dict:
    return {t["name"]: t for t in results["tests"]}


def _with_visibility(zip_path: Path, out: Path, visibility: str) -> Path:
    """The same zip with another visibility in its settings (what --visibility writes)."""
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "otter_config.json":
                data = json.dumps(gradescope.otter_config(LR, visibility)).encode()
            dst.writestr(info, data)
    return out


@pytest.mark.slow
def test_zip_is_lean_bundles_the_grader_and_locks_the_hidden_files(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("otter_config.json"))
        setup = zf.read("setup.sh").decode()
        modes = {n: zf.getinfo(n).external_attr >> 16 for n in names}
        assert zf.read("run_autograder").decode() == gradescope.run_autograder_sh()
        assert zf.read("requirements.txt").decode() == gradescope.requirements()
    for name in ("setup.sh", "run_autograder", "requirements.txt", "tests/README.md", f"bpgrade/solutions/{LR}.py",
                 "bpgrade/solutions/grading.toml", f"bpgrade/assignments/{LR}/assignment.py",
                 "bpgrade/autograder/gradescope/harness.py", "bpgrade/autograder/gradescope/plugin.py"):
        assert name in names, name
    assert not names & {"environment.yml", "run_otter.py"}  # otter's conda set-up is gone
    assert {n for n, mode in modes.items() if mode & 0o111} == {"setup.sh", "run_autograder"}
    assert {n for n, mode in modes.items() if not mode & 0o004} == {n for n in names if n.startswith("bpgrade/solutions/")}
    assert config["plugins"] == [{gradescope.PLUGIN: {"assignment": LR, "bundle": "bpgrade", "visibility": "visible"}}]
    assert setup == gradescope.setup_sh() and "chmod -R go-rwx \"$AG/source/bpgrade/solutions\"" in setup


@pytest.mark.slow
def test_a_reference_notebook_scores_full_marks_with_visible_results(autograder_zip, tmp_path):
    results, output = _gradescope(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", REF), tmp_path, "a reference")
    spec = project.load_assignment(LR)
    assert results["score"] == spec.max_score
    assert [t["name"] for t in results["tests"]] == [p.name for p in spec.parts]
    assert all(t["score"] == t["max_score"] == spec.part(t["name"]).points for t in results["tests"])
    assert results["visibility"] == "visible" and {t["visibility"] for t in results["tests"]} == {"visible"}
    assert results["stdout_visibility"] == "hidden"  # the instructor's log: student key, text report
    assert "public " in results["output"] and "hidden " in results["output"]
    assert "keyed by student 'ada@uni.edu'" in output and "---- bpgrade ----" in output
    assert re.search(r"sandbox protections in force: .*wall_clock_timeout", output)


@pytest.mark.slow
def test_b_buggy_notebook_gets_partial_credit_named_mistakes_and_the_chosen_visibility(autograder_zip, tmp_path,
                                                                                        grade_source):
    zip_path = _with_visibility(autograder_zip, tmp_path / "after_published.zip", "after_published")
    results, _ = _gradescope(zip_path, _notebook(tmp_path / f"{LR}.ipynb", BUGGY), tmp_path, "b buggy")
    engine = grade_source(LR, BUGGY)  # bpgrade grade on the same code: partial credit per case
    assert 0 < engine.score < engine.max_score
    assert results["score"] == pytest.approx(engine.score)
    tests = _by_name(results)
    assert {n: t["score"] for n, t in tests.items()} == pytest.approx({p.name: p.score for p in engine.parts})
    assert {n for n, t in tests.items() if t["score"] < t["max_score"]} == {"grad_logits", "gradients.dw", "gradients.db"}
    assert "[scaled_by_N]" in tests["grad_logits"]["output"]
    assert {t["status"] for n, t in tests.items() if n.startswith(("grad_logits", "gradients"))} == {"failed"}
    assert results["visibility"] == "after_published"
    assert {t["visibility"] for t in results["tests"]} == {"after_published"}


@pytest.mark.slow
@pytest.mark.parametrize("path", ["run_autograder", "otter run"])
def test_c_tampering_with_otter_earns_no_extra_points(autograder_zip, tmp_path, grade_source, path):
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
    if path == "otter run":
        results = _otter(autograder_zip, submission, tmp_path / "out", "c tamper (otter run)")
    else:
        results, _ = _gradescope(autograder_zip, submission, tmp_path, "c tamper")
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
    results, _ = _gradescope(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", HANG), tmp_path, "d hang")
    assert time.perf_counter() - start < 120
    tests = _by_name(results)
    for name in ("gradients.dw", "gradients.db"):
        assert tests[name]["score"] == 0 and "[timeout]" in tests[name]["output"], tests[name]["output"]
    assert "timed out" in results["output"] and "gradients.dw" in results["output"]
    assert results["score"] == pytest.approx(_lost("gradients.dw", "gradients.db"))


@pytest.mark.slow
def test_e_killed_process_still_writes_results_naming_the_part(autograder_zip, tmp_path):
    results, _ = _gradescope(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", KILL), tmp_path, "e kill")
    tests = _by_name(results)
    assert "[crashed]" in tests["grad_logits"]["output"]
    assert "grad_logits" in results["output"].split("died in:")[1]
    assert results["score"] == pytest.approx(_lost("grad_logits", "gradients.dw", "gradients.db"))


@pytest.mark.slow
def test_f_a_notebook_that_plots_scores_what_the_same_py_scores(autograder_zip, tmp_path, grade_source):
    plots = ("%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom IPython.display import display\n"
             "zs = np.linspace(-6, 6, 50)\nplt.plot(zs, sigmoid(zs))\nplt.show()\ndisplay(zs[:3])")
    results, _ = _gradescope(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", BUGGY, extra_cell=plots),
                             tmp_path, "f plotting notebook")
    engine = grade_source(LR, "import matplotlib.pyplot as plt\n" + BUGGY)
    assert {n: t["score"] for n, t in _by_name(results).items()} == pytest.approx({p.name: p.score for p in engine.parts})
    assert results["score"] == pytest.approx(engine.score) and 0 < engine.score < engine.max_score


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


# ------------------------------------------------------------------ opt-in: setup.sh for real

@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("BPGRADE_TEST_SETUP_SH"),
                    reason="set BPGRADE_TEST_SETUP_SH=1 to run setup.sh (network, ~1 GB, about a minute)")
def test_g_setup_sh_builds_the_venv_and_run_autograder_grades_with_it(autograder_zip, tmp_path):
    """setup.sh as Gradescope runs it, but in a throwaway root and from this machine's Python 3.11
    (so its apt branch is not taken), then run_autograder with the venv it built."""
    base_python = getattr(sys, "_base_executable", sys.executable)
    if sys.version_info[:2] != (3, 11):
        pytest.skip("setup.sh builds its venv from Python 3.11")
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    gradescope.extract(autograder_zip, root / "source")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPGRADE_") and k != "PYTHONPATH"}
    env.update({harness.ROOT_ENV: str(root), "BPGRADE_SETUP_PYTHON": base_python, "PIP_RETRIES": "1"})
    start = time.perf_counter()
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=1800)
    TIMES["g setup.sh (venv, pip installs, self-check)"] = time.perf_counter() - start
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "bpgrade self-check: the reference scored 10/10 on this image" in proc.stdout
    assert "sandbox protections in force: " in proc.stdout  # in Gradescope's build log
    python = root / gradescope.VENV / "bin" / "python"
    freeze = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout
    installed = {_name(line.split("==")[0]): line.split("==")[1] for line in freeze.splitlines() if "==" in line}
    for pin in (*gradescope.PINNED, gradescope.TORCH_PIN, f"pip=={gradescope.PIP_VERSION}"):
        name, version = pin.split("==")
        assert installed.get(_name(name)) == version, pin
    assert not {"otter-grader", "jupyter-client", "ipykernel", "playwright"} & set(installed)
    assert oct((root / "source" / "bpgrade" / "solutions").stat().st_mode & 0o777) == "0o700"
    for name, source in (("g reference (setup venv)", REF), ("g buggy (setup venv)", BUGGY)):
        results, _ = _gradescope(autograder_zip, _notebook(tmp_path / f"{LR}.ipynb", source), tmp_path, name,
                                 python=None)
        spec = project.load_assignment(LR)
        assert (results["score"] == spec.max_score) == (source is REF) and results["score"] > 0


def teardown_module(module):
    if TIMES:
        print("\nGradescope run times (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in TIMES.items()))
