"""Project-level promises: CI runs the README's test command, the layout holds, the engine
names no assignment, every assignment loads, and the CLI works as a subprocess."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from autograder import project
from tests.helpers import ROOT, readme_student_commands


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_ci_runs_the_readme_test_command_verbatim():
    demo, tests = readme_commands()
    assert "bpgrade demo" in demo and "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_the_student_quick_start_is_the_recipe_bpgrade_handout_prints():
    """One recipe: the README's student quick start is what `bpgrade handout` prints and what the
    handout's README gives for Linux and macOS (tests/test_student_wheel.py runs it)."""
    from autograder.students.handout import posix_recipe

    assert readme_student_commands() == posix_recipe(project.assignment_ids()[0])


def test_engine_names_no_assignment():
    ids = project.assignment_ids()
    assert len(ids) >= 3
    for path in (ROOT / "autograder").rglob("*.py"):
        text = path.read_text()
        for aid in ids:
            assert aid not in text, f"{path.name} mentions assignment {aid!r}"


@pytest.mark.parametrize("aid", project.assignment_ids())
def test_each_assignment_is_a_folder_a_solution_and_a_stub(aid):
    spec = project.load_assignment(aid)
    assert (spec.folder / "instructions.md").is_file()
    assert project.solution_path(aid).is_file()
    stub = ROOT / "student_template" / f"{aid}.py"
    assert stub.is_file()
    project.load_torch_oracle(spec)
    project.load_reference(spec)
    source = stub.read_text()
    for fn in spec.functions:  # the stub keeps every name and signature of the contract
        params = r",\s*".join(rf"{a}(\s*=\s*[^,)]+)?" for a in fn.args)
        assert re.search(rf"^def {fn.name}\({params}\)", source, re.M), fn.name


def test_assignment_files_import_no_torch():
    for aid in project.assignment_ids():
        text = (ROOT / "assignments" / aid / "assignment.py").read_text()
        assert not re.search(r"^\s*(import|from)\s+torch", text, re.M), aid


def _bpgrade(*args, **kw):
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=300, **kw)


@pytest.mark.slow
def test_cli_grade_json_list_and_results_json(tmp_path):
    out = _bpgrade("grade", "logistic_regression", str(ROOT / "solutions" / "logistic_regression.py"),
                   "--json", "--results-json", str(tmp_path / "results.json"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["score"] == data["max_score"] == 10
    assert {"name", "score", "max_score", "passed", "total", "diagnoses", "feedback"} <= set(data["parts"][0])
    gs = json.loads((tmp_path / "results.json").read_text())
    assert gs["score"] == 10 and len(gs["tests"]) == len(data["parts"])
    assert {"name", "score", "max_score", "output", "visibility"} <= set(gs["tests"][0])
    listing = _bpgrade("list", "--json")
    assert [a["id"] for a in json.loads(listing.stdout)] == project.assignment_ids()


@pytest.mark.slow
def test_cli_check_exit_codes_without_solutions(tmp_path):
    """A student's machine: the handout's files only, no solutions/ anywhere."""
    import shutil

    for name in ("assignments", "student_template"):
        shutil.copytree(ROOT / name, tmp_path / name)
    env = {"BPGRADE_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    stub = _bpgrade("check", "logistic_regression", str(tmp_path / "student_template" / "logistic_regression.py"), env=env)
    assert stub.returncode == 1 and "not implemented" in stub.stdout
    assert "hidden tests run on submission" in stub.stdout
    solved = tmp_path / "mine.py"
    solved.write_text((ROOT / "solutions" / "logistic_regression.py").read_text())
    ok = _bpgrade("check", "logistic_regression", str(solved), env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    graded = _bpgrade("grade", "logistic_regression", str(solved), env=env)
    assert graded.returncode == 2 and "solutions" in graded.stderr


@pytest.mark.slow
def test_demo_grades_every_bundled_example():
    out = _bpgrade("demo", "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    examples = {p.name for p in (ROOT / "solutions" / "examples").rglob("*.py")}
    assert {r["example"] for r in rows} == examples
    assert any(r["score"] == r["max_score"] for r in rows)
    assert any(r["score"] < r["max_score"] for r in rows)


def test_random_cases_leave_degenerate_sizes_to_the_edges():
    """A size an edge pins on its own (N = 1) is never drawn by a random case, where it would
    reward a missing 1/N; the edges themselves keep their pins."""
    from autograder import cases
    from autograder.spec import Cases

    checked = 0
    for aid in project.assignment_ids():
        for part in project.load_assignment(aid).parts:
            spec = part.cases
            if not isinstance(spec, Cases):
                continue
            degenerate = {k: {pin[k] for pin in spec.edges if set(pin) == {k}} for k in spec.dims}
            for seed in range(10):
                for case in cases.generate(part, (seed,)):
                    if cases.is_edge(part, case):
                        assert spec.edges[case.index - spec.random].items() <= case.dims.items()
                        continue
                    for k, n in case.dims.items():
                        lo, hi = spec.dims[k]
                        assert n not in degenerate[k] or degenerate[k] >= set(range(lo, hi + 1)), (case.id, k)
                        checked += 1
    assert checked > 1000


def test_a_part_of_edge_cases_alone_is_still_scored_on_them():
    from autograder import cases
    from autograder.judge import Judged
    from autograder.score import edges_beside_a_general_pass
    from autograder.spec import Cases, Part

    spec = project.load_assignment("logistic_regression")
    make = spec.part("grad_logits").cases.make
    for random, expected in ((0, [True, True]), (2, [False, False, False, False])):
        part = Part("grad_logits", 1, "grad_logits", Cases(make, dims={"N": (1, 5), "D": (1, 4)}, random=random,
                                                              edges=({"N": 1}, {"D": 1})))
        generated = cases.generate(part, (0,))
        # every edge passes, every random case fails
        judged = [(c, Judged(True, None, "") if cases.is_edge(part, c) else Judged(False, "wrong_values", ""))
                  for c in generated]
        assert [j.ok for _, j in edges_beside_a_general_pass(spec, part, judged)] == expected


def test_random_cases_are_redrawn_where_a_modelled_mistake_gives_the_right_answer():
    """A random case that cannot tell a mistake from the right answer is drawn again (sizes and
    inputs, reproducibly, under an id of its own); edges keep their pins; a case no draw can
    make telling keeps its first draw; every other case is exactly what it was."""
    from autograder import cases, shrink

    part = project.load_assignment("mse_two_layer").part("mse_loss")
    random = part.cases.random
    redrawn = 0
    for seed in range(20):
        plain = cases.generate(part, (seed,))
        for telling, same in ((lambda c: True, True), (lambda c: False, True), (lambda c: c.dims["K"] != 2, False)):
            got = cases.generate(part, (seed,), telling=telling)
            assert [c.id for c in got[random:]] == [c.id for c in plain[random:]]  # edges as pinned
            if same:
                assert [c.id for c in got] == [c.id for c in plain]
                assert all(np.array_equal(a.inputs["Y"], b.inputs["Y"]) for a, b in zip(got, plain))
                continue
            assert all(c.dims["K"] != 2 for c in got[:random])
            assert [c.id for c in got] == [c.id for c in cases.generate(part, (seed,), telling=telling)]
            for new, old in zip(got[:random], plain[:random]):
                assert (new.draw == 0) == (old.dims["K"] != 2)
                if new.draw:
                    redrawn += 1
                    assert new.id.endswith(f",draw={new.draw}]") and new.id != old.id
                    assert new.inputs["Y"].shape == (new.dims["N"], new.dims["K"])
                    smaller = list(shrink.candidates(part, new))
                    assert smaller and all(s.draw == new.draw for s in smaller)
                else:
                    assert new.id == old.id
    assert redrawn > 10


def test_the_readme_tree_names_every_engine_module_and_package():
    """The README's "How it is built" tree is the package as it is: every top-level module, every
    subpackage, and every module of a front end (batch, students, gradescope, selftest)."""
    text = (ROOT / "README.md").read_text()
    tree = text[text.index("## How it is built"):]
    tree = tree[tree.index("```\n") + 4:]
    tree = tree[:tree.index("```")]
    engine = project.package_dir()
    missing = []
    for path in project.engine_files():
        rel = path.relative_to(engine)
        if path.name in ("__init__.py", "__main__.py"):
            if len(rel.parts) > 1 and f"{rel.parts[-2]}/" not in tree:
                missing.append(f"{rel.parts[-2]}/")
        elif len(rel.parts) == 1 or rel.parts[0] in (*project.FRONT_ENDS, "selftest"):
            if path.name not in tree:
                missing.append(rel.as_posix())
    assert missing == [], f"README's tree lacks {sorted(set(missing))}"


@pytest.mark.slow
@pytest.mark.parametrize("bench, args, figure", [
    ("bench_batch.py", ["--n", "12", "--repeat", "1"], "ratio isolated/floor"),
    ("bench_isolation.py", ["--n", "2"], "isolation overhead"),
    ("bench_check.py", ["--n", "1"], "ratio check / import numpy"),
])
def test_the_benchmarks_run_and_print_their_figures(bench, args, figure):
    """A benchmark that no longer runs is a figure nobody can check: each runs, small."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / bench), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and figure in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
