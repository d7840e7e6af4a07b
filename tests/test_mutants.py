"""The mutation suites (solutions/selftest/<id>.py), run as tests: every mutant loses exactly
the parts it declares with the declared first diagnosis, every correct variant keeps full
marks, and the suites are as large as promised."""
import pytest

from autograder import project, selftest

SUITES = {aid: selftest.load(aid) for aid in project.assignment_ids()}
MUTANTS = [pytest.param(aid, m, id=f"{aid}:{m.id}") for aid, s in SUITES.items() for m in s.mutants]
CORRECT = [pytest.param(aid, c, id=f"{aid}:{c.id}") for aid, s in SUITES.items() for c in s.correct]


def test_suites_hold_at_least_40_mutants_and_8_correct_variants():
    assert len(MUTANTS) >= 40 and len(CORRECT) >= 8
    assert all(SUITES[aid].mutants and SUITES[aid].correct for aid in SUITES)


@pytest.mark.parametrize("aid, mutant", MUTANTS)
def test_mutant_loses_exactly_its_parts_with_its_code(grade_source, aid, mutant):
    ok, detail = selftest.judge_mutant(mutant, grade_source(aid, SUITES[aid].mutant_source(mutant)))
    assert ok, detail


@pytest.mark.parametrize("aid, variant", CORRECT)
def test_correct_but_different_keeps_full_marks(grade_source, aid, variant):
    ok, detail = selftest.judge_full_marks(grade_source(aid, SUITES[aid].correct_source(variant)))
    assert ok, detail


def test_mutant_anchor_must_occur_exactly_once():
    with pytest.raises(ValueError, match="occurs 0 times"):
        selftest.apply_edits("x = 1\n", [("y = 2", "y = 3")])


def _selftest_cli(aid, env=None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "autograder", "selftest", aid], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_selftest_command_passes_on_a_sound_assignment():
    out = _selftest_cli("logistic_regression")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mutant    10 ok, 0 failed" in out.stdout
    trivial = next(line for line in out.stdout.splitlines() if line.startswith("ok   trivial   trivial answers: "))
    assert "zeros, ones, constant 0.5, echo #1" in trivial and "step" in trivial and "public answers" in trivial
    assert "generated" in out.stdout and "0 failed" in out.stdout.splitlines()[-1]


@pytest.mark.slow
def test_selftest_command_fails_when_a_mutant_is_not_caught(tmp_path):
    """An assignment whose suite expects a mistake its parts do not catch must not pass."""
    import shutil

    from tests.helpers import ROOT

    for name in ("assignments", "student_template", "solutions"):
        shutil.copytree(ROOT / name, tmp_path / name)
    suite = tmp_path / "solutions" / "selftest" / "logistic_regression.py"
    suite.write_text(suite.read_text() + '''
MUTANTS.append(Mutant("harmless_rename", edits=[("def grad_logits(X, y, w, b):", "def grad_logits(X, y, w, b, unused=None):")],
                      loses={"grad_logits"}, labels={"grad_logits": "scaled_by_N"}))
''')
    out = _selftest_cli("logistic_regression", env={"BPGRADE_ROOT": str(tmp_path)})
    assert out.returncode == 1
    assert "FAIL mutant    harmless_rename: lost parts differ" in out.stdout


IDS = list(SUITES)


@pytest.mark.parametrize("aid", IDS)
def test_reference_scores_full_marks(grade_source, aid):
    ok, detail = selftest.judge_full_marks(grade_source(aid, SUITES[aid].reference))
    assert ok, detail


@pytest.mark.parametrize("aid", IDS)
def test_stub_scores_zero_with_not_implemented_per_part(grade_source, aid):
    report = grade_source(aid, SUITES[aid].stub)
    ok, detail = selftest.judge_stub(report)
    assert ok, detail
    assert all("not implemented" in p.feedback for p in report.parts)


@pytest.mark.parametrize("aid", IDS)
def test_reference_and_torch_agree_on_many_seeds(aid):
    """Both oracles on every case of 8 seeds: any disagreement raises OracleDisagreement."""
    from autograder import cases
    from autograder.oracle import Oracles

    spec = project.load_assignment(aid)
    torch_oracle, reference = project.load_torch_oracle(spec), project.load_reference(spec)
    checked = 0
    for seed in range(8):
        oracles = Oracles(spec, torch_oracle=torch_oracle, reference=reference)
        for part in spec.parts:
            for case in cases.generate(part, (seed,)):
                oracles.expected(part, case)
                checked += 1
    assert checked >= 8 * len(spec.parts) * 2
