"""`pytest` in a student's folder, and checks without torch.

One handout is built per module (its public cases' expected outputs recorded with torch); pytest
runs in it as a subprocess, as a student would run it, and its verdicts are compared with
`bpgrade check`'s on the same files: every part passes on the reference and fails, part for part
and with the same text, on the stub and on a mutant."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import project, selftest
from autograder.grade import Grader, grade
from autograder.report import to_json, to_text
from autograder.students import expected, folder, handout, notebooks
from autograder.students.pytest_plugin import part_text
from tests.helpers import ROOT, reference_source

IDS = project.assignment_ids()
LR = "logistic_regression"
NB = "softmax_ce"  #: handed in as a notebook
BROKEN = "mse_two_layer"  #: handed in with a syntax error
PLUGIN = "autograder.students.pytest_plugin"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The handout, its student wheel installed into ``<handout>/../site`` (what a student's
    ``pip install`` puts in their environment: the engine's student side and the assignments,
    recorded outputs included)."""
    out = tmp_path_factory.mktemp("handout") / "handout"
    handout.build(out)
    (whl,) = (out / "student_template").glob("*.whl")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                           str(_site(out)), str(whl)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _site(bundle: Path) -> Path:
    return bundle.parent / "site"


def _env(bundle: Path, *, plugins: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPGRADE_", "PYTHON", "PYTEST_"))}
    env["PYTHONPATH"] = str(_site(bundle))
    if not plugins:  # only this plugin (given with -p), as the entry point loads it where the wheel is installed
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _pytest(bundle: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", *args],
                          cwd=cwd or bundle, env=_env(bundle), capture_output=True, text=True, timeout=900)


def _mutant(aid: str) -> selftest.Mutant:
    return selftest.load(aid).mutants[0]


def _student_folder(bundle: Path, name: str, sources: dict[str, str]) -> Path:
    """A folder inside the handout with the handout's marker and these files."""
    work = bundle / "work" / name
    work.mkdir(parents=True)
    shutil.copyfile(bundle / "student_template" / folder.MARKER, work / folder.MARKER)
    for filename, text in sources.items():
        (work / filename).write_text(text)
    return work


@pytest.fixture(scope="module")
def run(bundle):
    """One pytest run over three student folders (references; mutants; a file, a notebook and a
    file that does not load, with a student's own test beside them) and the handout's stubs,
    with a JUnit XML report."""
    suites = {aid: selftest.load(aid) for aid in IDS}
    _student_folder(bundle, "solved", {f"{aid}.py": reference_source(aid) for aid in IDS})
    _student_folder(bundle, "mutants", {f"{aid}.py": suites[aid].mutant_source(_mutant(aid)) for aid in IDS})
    _student_folder(bundle, "partial", {f"{LR}.py": reference_source(LR), "test_mine.py": (
        "from logistic_regression import sigmoid\n\n\ndef test_my_sigmoid_at_zero():\n    assert sigmoid(0.0) == 0.5\n"),
        f"{NB}.ipynb": nbformat.writes(notebooks.fill(notebooks.build(NB), reference_source(NB))),
        f"{BROKEN}.py": reference_source(BROKEN) + "\ndef oops(:\n"})
    xml = bundle / "report.xml"
    proc = _pytest(bundle, "-q", f"--junitxml={xml}")
    cases = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        failure = case.find("failure")
        skipped = case.find("skipped")
        cases[(case.get("classname"), case.get("name"))] = (
            "failed" if failure is not None else "skipped" if skipped is not None else "passed",
            failure.text if failure is not None else skipped.get("message") if skipped is not None else "")
    return proc, cases


def _verdicts(cases: dict, classname: str) -> dict[str, tuple[str, str]]:
    return {name: v for (cls, name), v in cases.items() if cls == classname}


def _check(bundle: Path, sandbox, path: Path, aid: str):
    """What `bpgrade check` reports for the file, with the handout's recorded outputs."""
    return grade(path, assignment=aid, mode="check", sandbox=sandbox, base=bundle)


@pytest.mark.slow
@pytest.mark.parametrize("aid", IDS)
def test_pytest_passes_the_reference_and_fails_the_stub_and_a_mutant_like_bpgrade_check(bundle, run, sandbox, aid):
    proc, cases = run
    parts = [p.name for p in project.load_assignment(aid).parts]

    solved = _verdicts(cases, f"work.solved.{aid}")
    assert solved == {p: ("passed", "") for p in parts}, proc.stdout[-3000:]

    stub = _verdicts(cases, f"student_template.{aid}")
    report = _check(bundle, sandbox, bundle / "student_template" / f"{aid}.py", aid)
    assert {p for p, (v, _) in stub.items() if v == "failed"} == {p.name for p in report.parts if not p.ok}
    assert set(stub) == set(parts) and "[not_implemented]" in stub[parts[0]][1]
    # the untouched notebook beside the untouched .py file is skipped, with its reason
    notebook = _verdicts(cases, f"student_template.{aid}.ipynb")
    assert set(notebook) == set(parts)
    assert all(v == "skipped" and "both untouched stubs" in why for v, why in notebook.values())

    mutants = _verdicts(cases, f"work.mutants.{aid}")
    report = _check(bundle, sandbox, bundle / "work" / "mutants" / f"{aid}.py", aid)
    failing = {p.name for p in report.parts if not p.ok}
    assert failing and failing >= set(_mutant(aid).loses)
    assert {p for p, (v, _) in mutants.items() if v == "failed"} == failing
    shown = to_text(report)
    for part in report.parts:
        verdict, text = mutants[part.name]
        if not part.ok:  # the message is the part's feedback as `bpgrade check` prints it
            assert text.strip() == part_text(report, part).strip()
            body = "\n".join(text.splitlines()[1:])
            assert body and body in shown


@pytest.mark.slow
def test_junit_has_one_testcase_per_part_and_own_tests_and_absent_files_are_reported(run):
    proc, cases = run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    for aid in IDS:
        n = len(project.load_assignment(aid).parts)
        for classname in (f"work.solved.{aid}", f"work.mutants.{aid}", f"student_template.{aid}",
                          f"student_template.{aid}.ipynb"):
            assert len(_verdicts(cases, classname)) == n, classname
    # the student's own test runs beside the checks
    assert cases[("work.partial.test_mine", "test_my_sigmoid_at_zero")] == ("passed", "")
    # a notebook: one test per part too, named after it
    assert _verdicts(cases, f"work.partial.{NB}.ipynb") == {
        p.name: ("passed", "") for p in project.load_assignment(NB).parts}
    # a file that does not load: every part fails, saying why
    broken = _verdicts(cases, f"work.partial.{BROKEN}")
    assert len(broken) == len(project.load_assignment(BROKEN).parts)
    assert all(v == "failed" and "syntax error" in text for v, text in broken.values())
    # the assignments whose file is absent from a handout folder: one skipped test each
    absent = _verdicts(cases, "work.partial.bpgrade.toml")
    assert set(absent) == set(IDS) - {LR, NB, BROKEN}
    for aid, (verdict, why) in absent.items():
        assert verdict == "skipped" and f"no {aid}.py or {aid}.ipynb in partial/" in why
    # one summary line per file checked, as `bpgrade check` ends
    assert f"work/solved/{LR}.py: public " in proc.stdout and "hidden tests run on submission" in proc.stdout


@pytest.mark.slow
def test_k_selects_one_part_and_x_stops_at_the_first_failure(bundle, run):
    proc = _pytest(bundle, "-q", "-k", "grad_logits", "work/solved")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed" in proc.stdout and "deselected" in proc.stdout
    assert f"work/solved/{LR}.py: public " in proc.stdout  # graded as a whole, once
    assert "work/solved/softmax_ce.py" not in proc.stdout  # files with no selected test are not checked

    proc = _pytest(bundle, "-x", f"student_template/{LR}.py")
    assert proc.returncode == 1 and "1 failed" in proc.stdout, proc.stdout[-3000:]
    assert "stopping after 1 failures" in proc.stdout


def test_files_named_like_assignments_elsewhere_are_not_collected(bundle):
    """Only the rootdir and handout folders hold assignment files: not this repository's fixtures,
    solutions or template stubs, nor a folder without the marker."""
    stray = bundle / "work" / "stray"
    stray.mkdir(parents=True, exist_ok=True)
    (stray / f"{LR}.py").write_text(reference_source(LR))
    proc = _pytest(bundle, "--collect-only", "-q", "work/stray")
    assert "no tests" in proc.stdout, proc.stdout
    repo = subprocess.run([sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "--collect-only",
                           "-q", "tests/batch_fixtures", "tests/redteam/finite_differences", "solutions",
                           "student_template"], cwd=ROOT, env={**_env(ROOT), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert "no tests" in repo.stdout, repo.stdout[-2000:]
    # at the rootdir (a repository holding the file at its top), the file is collected
    top = bundle / "work" / "classroom"
    top.mkdir(parents=True, exist_ok=True)
    (top / f"{LR}.py").write_text(reference_source(LR))
    (top / "pytest.ini").write_text("[pytest]\n")
    proc = _pytest(bundle, "--collect-only", "-q", cwd=top)
    assert f"{LR}.py::grad_logits" in proc.stdout and "bpgrade.toml" not in proc.stdout, proc.stdout


def test_untouched_twin_rule(tmp_path):
    stub, notebook = tmp_path / f"{LR}.py", tmp_path / f"{LR}.ipynb"
    stub.write_text("def sigmoid(z):\n    raise NotImplementedError\n")
    folder.write_marker(tmp_path, [LR])
    marker = folder.read_marker(tmp_path)
    assert marker.assignments == [LR] and set(marker.stubs) == {stub.name}
    assert folder.untouched_twin(stub, LR, marker) == ""  # no twin: checked
    shutil.copyfile(ROOT / "student_template" / notebook.name, notebook)
    marker = folder.read_marker(folder.write_marker(tmp_path, [LR]).parent)
    assert folder.untouched_twin(stub, LR, marker) == ""  # both untouched: the .py file is checked
    assert "both untouched" in folder.untouched_twin(notebook, LR, marker)
    stub.write_text("def sigmoid(z):\n    return z\n")  # work in the .py file: the notebook is skipped
    assert folder.untouched_twin(stub, LR, marker) == ""
    assert f"your work in {stub.name}" in folder.untouched_twin(notebook, LR, marker)
    stub.write_text("def sigmoid(z):\n    raise NotImplementedError\n")
    notebook.write_text(notebook.read_text().replace("raise NotImplementedError", "return 0.5", 1))
    assert f"your work in {notebook.name}" in folder.untouched_twin(stub, LR, marker)  # work in the notebook
    assert folder.untouched_twin(notebook, LR, marker) == ""


# ------------------------------------------------------------------ checks without torch

def _python(bundle: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPGRADE_", "PYTHON"))}
    env.update(PYTHONPATH=str(_site(bundle)))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_recorded_path_never_imports_torch(bundle, tmp_path):
    mine = tmp_path / f"{LR}.py"
    mine.write_text(reference_source(LR))
    code = ("import sys\nfrom autograder.cli import main\nsys.argv = ['bpgrade', 'check', %r, %r]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
            "print('torch imported:', 'torch' in sys.modules)\n") % (LR, str(mine))
    proc = _python(bundle, code, bundle / "student_template")
    assert "cases passed; hidden tests run on submission" in proc.stdout, proc.stdout + proc.stderr
    assert "exit 0" in proc.stdout and "torch imported: False" in proc.stdout, proc.stdout + proc.stderr
    # and where torch cannot be imported at all (sys.modules["torch"] = None makes it unimportable)
    proc = _python(bundle, "import sys; sys.modules['torch'] = None\n" + code, bundle / "student_template")
    assert "exit 0" in proc.stdout, proc.stdout + proc.stderr


def test_recorded_outputs_match_torch(bundle):
    """The handout's file holds what torch computes now, on every case of every assignment."""
    for aid in IDS:
        spec = project.load_assignment(aid, bundle)
        oracles = expected.public_oracles(spec)
        assert isinstance(oracles, expected.RecordedOracles)
        live = Grader(aid, mode="check", base=bundle, live=True)
        recorded = Grader(aid, mode="check", base=bundle)
        assert isinstance(recorded.oracles, expected.RecordedOracles) and not isinstance(
            live.oracles, expected.RecordedOracles)
        for key, parts in _group_items(live):
            cases = live.cases(key)
            assert [c.id for c in cases] == [c.id for c in recorded.cases(key)]
            for case in cases:
                want, got = live.expected(parts[0], case), recorded.expected(parts[0], case)
                assert want.keys() == got.keys()
                for name in want:
                    np.testing.assert_array_equal(got[name], want[name])


def _group_items(grader):
    from autograder.cases import groups

    return groups(grader.spec).items()


@pytest.mark.slow
def test_recorded_and_live_checks_give_the_same_report(bundle, sandbox):
    for aid in IDS:
        suite = selftest.load(aid)
        recorded = Grader(aid, mode="check", base=bundle)
        live = Grader(aid, mode="check", base=bundle, live=True)
        for source in (suite.mutant_source(suite.mutants[0]), suite.mutant_source(suite.mutants[1])):
            a, b = to_json(recorded.grade_source(source, sandbox)), to_json(live.grade_source(source, sandbox))
            assert a.pop("oracles") == ["torch.autograd (recorded)"] and b.pop("oracles") == ["torch.autograd"]
            assert a == b, aid


def _copy_assignment(bundle: Path, tmp_path: Path, aid: str) -> Path:
    base = tmp_path / "copy"
    shutil.copytree(bundle / "assignments" / aid, base / "assignments" / aid)
    return base


def test_a_stale_recorded_file_is_refused_without_torch_and_recomputed_with_it(bundle, tmp_path, monkeypatch):
    base = _copy_assignment(bundle, tmp_path, LR)
    spec = project.load_assignment(LR, base)
    assert isinstance(expected.public_oracles(spec), expected.RecordedOracles)
    with (spec.folder / "assignment.py").open("a") as fh:
        fh.write("\n# an edit after the handout was built\n")
    assert isinstance(expected.public_oracles(spec), expected.Oracles)  # torch: computed again
    assert not isinstance(expected.public_oracles(spec), expected.RecordedOracles)
    monkeypatch.setattr(expected, "torch_installed", lambda: False)
    with pytest.raises(expected.ExpectedUnavailable, match="changed after it was recorded"):
        expected.public_oracles(spec)


def test_a_case_recorded_for_other_inputs_is_not_used(bundle, tmp_path, monkeypatch):
    """Each recorded case is checked against the inputs the checker draws (another numpy may draw
    others): a mismatch is computed again with torch, or refused without it."""
    base = _copy_assignment(bundle, tmp_path, LR)
    spec = project.load_assignment(LR, base)
    file = expected.path(spec.folder)
    with np.load(file, allow_pickle=False) as npz:
        manifest, values = json.loads(bytes(npz["manifest"])), npz["values"]
    manifest["entries"][0]["inputs"] = "0" * 32
    np.savez(file, manifest=np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8), values=values)
    grader = Grader(LR, mode="check", base=base)
    assert isinstance(grader.oracles, expected.RecordedOracles)
    grader.prepare()  # with torch, the mismatched case is computed again
    monkeypatch.setattr(expected, "torch_installed", lambda: False)
    with pytest.raises(expected.ExpectedUnavailable, match="has other inputs for case"):
        Grader(LR, mode="check", base=base).prepare()


def test_without_torch_or_recorded_outputs_the_check_says_what_to_do(bundle, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import main

    monkeypatch.setattr(expected, "torch_installed", lambda: False)
    monkeypatch.delenv("BPGRADE_ROOT", raising=False)
    mine = tmp_path / f"{LR}.py"
    mine.write_text(reference_source(LR))
    # the repository records nothing: there, checks compute with torch
    assert not expected.path(project.load_assignment(LR).folder).exists()
    result = CliRunner().invoke(main, ["check", LR, str(mine)])
    assert result.exit_code == 2 and "torch is not installed" in result.output
    monkeypatch.setenv("BPGRADE_ROOT", str(bundle))
    result = CliRunner().invoke(main, ["check", "--live", LR, str(mine)])
    assert result.exit_code == 2 and "--live computes the expected outputs with torch" in result.output
    result = CliRunner().invoke(main, ["check", "--seed", "7", LR, str(mine)])
    assert result.exit_code == 2 and "records the public cases of seed" in result.output


@pytest.mark.slow
def test_check_live_and_other_seeds_with_torch(bundle, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autograder.cli import main

    mine = tmp_path / f"{LR}.py"
    mine.write_text(reference_source(LR))
    monkeypatch.setenv("BPGRADE_ROOT", str(bundle))
    for args in (["--live"], ["--seed", "7"]):
        result = CliRunner().invoke(main, ["check", "--json", *args, LR, str(mine)])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["oracles"] == ["torch.autograd"]
        assert data["seed"] == (7 if "--seed" in args else project.PUBLIC_SEED)


def test_the_handout_ships_readable_recorded_outputs_for_each_assignment(bundle):
    for aid in IDS:
        spec = project.load_assignment(aid, bundle)
        recorded = expected.Recorded(expected.path(spec.folder))
        assert recorded.problem(spec, project.PUBLIC_SEED) == ""
        assert recorded.manifest["fingerprint"] == expected.fingerprint(project.load_assignment(aid).folder)
    marker = folder.read_marker(bundle / "student_template")
    assert marker.assignments == IDS and len(marker.stubs) == 2 * len(IDS)
    (whl,) = (bundle / "student_template").glob("*.whl")
    with zipfile.ZipFile(whl) as zf:
        points = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
    assert "[pytest11]" in points and PLUGIN in points


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    from autograder.project import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"bpgrade": PLUGIN}


@pytest.mark.slow
def test_installing_the_handout_registers_the_plugin(bundle):
    """Where the student wheel is installed, plain `pytest` (and an IDE's test explorer) finds the
    checks through the pytest11 entry point, with no option."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                           "student_template"], cwd=bundle, env=_env(bundle, plugins=True),
                          capture_output=True, text=True, timeout=300)
    assert f"student_template/{LR}.py::grad_logits" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
