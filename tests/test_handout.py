"""The student handout: complete, its wheel usable with `bpgrade check` on its own (no checkout
around it), and free of anything hidden (no solutions/, hidden seed, reference code, hidden
expected value or instructor command), inside the wheel too."""
from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autograder import project
from autograder.students import handout, local, notebooks as notebook, wheel
from autograder.cli import main
from autograder.cases import groups
from autograder.grade import Grader
from tests.helpers import reference_source

IDS = project.assignment_ids()
LR = "logistic_regression"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "handout"
    result = CliRunner().invoke(main, ["handout", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _texts(folder: Path) -> dict[str, str]:
    """Every file's text, a wheel's members as ``<wheel>/<member>``."""
    return {str(rel): text for rel, text in handout._texts(folder)}


def _wheel(bundle: Path) -> Path:
    (found,) = (bundle / "student_template").glob("*.whl")
    return found


def test_handout_holds_stubs_notebooks_the_wheel_assignments_and_readme(bundle):
    for aid in IDS:
        assert (bundle / "student_template" / f"{aid}.py").read_text() == notebook.stub_path(aid).read_text()
        # without --wheel-url, the committed notebooks themselves (they install the wheel beside them)
        assert (bundle / "student_template" / f"{aid}.ipynb").read_text() == notebook.render(aid)
        assert (bundle / "assignments" / aid / "instructions.md").is_file()
        assert (bundle / "assignments" / aid / "oracle.py").is_file()
    # one installable artefact: the wheel, not a second copy of the engine or a pyproject.toml
    assert not (bundle / "autograder").exists() and not (bundle / "pyproject.toml").exists()
    name = _wheel(bundle).name
    assert name.startswith("bpgrade_student-0.1.0+") and name.endswith("-py3-none-any.whl")
    readme = (bundle / "README.md").read_text()
    assert handout.RECIPES not in readme
    for line in [*handout.posix_recipe(IDS[0]), *handout.windows_recipe(name, IDS[0])]:
        assert line in readme, line
    assert "externally-managed-environment" in readme and "Colab" in readme and "JupyterHub" in readme


def test_the_wheel_holds_the_student_side_and_every_public_assignment_file(bundle):
    whl = _wheel(bundle)
    names = wheel.members(whl)
    info = f"{whl.name.split('-py3')[0]}.dist-info"
    engine = project.package_dir()
    student_side = {f"autograder/{p.relative_to(engine).as_posix()}"
                    for p in project.engine_files(without=project.INSTRUCTOR_ONLY)}
    data = {f"autograder/assignments/{p.relative_to(bundle / 'assignments').as_posix()}"
            for p in (bundle / "assignments").rglob("*") if p.is_file()}
    assert set(names) == student_side | data | {f"{info}/{n}" for n in (
        "METADATA", "WHEEL", "entry_points.txt", "top_level.txt", "RECORD")}
    assert {"autograder/cli.py", "autograder/students/checker.py", "autograder/notebook.py"} <= student_side
    assert all(f"autograder/assignments/{aid}/assignment.py" in data for aid in IDS)
    for name in names:
        parts = Path(name).parts
        assert "solutions" not in parts and parts[-1] != "grading.toml" and "__pycache__" not in parts
        assert not (len(parts) > 1 and parts[1] in project.INSTRUCTOR_ONLY), name
    with zipfile.ZipFile(whl) as zf:
        meta = email.message_from_bytes(zf.read(f"{info}/METADATA"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert meta["Name"] == wheel.DIST and meta["Requires-Python"] == wheel.REQUIRES_PYTHON
    requires = meta.get_all("Requires-Dist")
    assert [r.replace('"', "'") for r in requires] == list(wheel.DEPENDENCIES)
    assert not [r for r in requires if r.startswith("torch")]  # pip would fetch a CUDA build on Linux
    assert "[console_scripts]\nbpgrade = autograder.cli:main" in entry_points


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads((project.root() / "pyproject.toml").read_text())["project"]


def test_student_dependencies_pin_what_the_project_pins():
    """The wheel's dependencies are the project's own requirements of the same names."""
    ours = _pyproject()["dependencies"]
    for requirement in wheel.DEPENDENCIES:
        assert requirement in ours, requirement


def test_the_wheel_has_the_projects_entry_points_of_the_student_side():
    """An entry point of the project (a console script, a pytest plugin...) whose module is on the
    student side is the wheel's too, and the wheel has no other."""
    meta = _pyproject()
    declared = {"console_scripts": meta.get("scripts", {}), **meta.get("entry-points", {})}
    student = {group: {name: target for name, target in points.items()
                       if target.split(":")[0].split(".")[1:2] not in [[n] for n in project.INSTRUCTOR_ONLY]}
               for group, points in declared.items()}
    assert {group: points for group, points in student.items() if points} == wheel.ENTRY_POINTS


def test_handout_contains_nothing_hidden(bundle):
    texts = _texts(bundle)
    assert any(".whl/autograder/" in p for p in texts)  # the wheel's members are read too
    assert not [p for p in texts if "solutions" in Path(p).parts or p.endswith("grading.toml")]
    assert not [p for p in texts if "__pycache__" in p or p.endswith(".pyc")]
    blob = "\n".join(texts.values())
    squeezed = "".join(blob.split())
    # the hidden secret and keys
    assert project.secret_markers() and not [m for m in project.secret_markers() if m in blob]
    # the reference solutions: every graded function's body, and every distinctive line
    for marker in handout.hidden_markers():
        assert marker not in blob and marker not in squeezed, marker[:60]
    # Lines the public assignment folders share with a reference are public by design (they
    # compute reference-correct inputs, e.g. a forward pass; the text has pseudo-code); no other
    # line may appear.
    public = "".join(p.read_text() for p in [*project.assignments_dir().glob("*/*.*"),
                                             *notebook.stub_path(LR).parent.glob("*.py")] if p.is_file())
    for aid in IDS:
        for line in reference_source(aid).splitlines():
            line = line.strip()
            if len(line) > 24 and not line.startswith(("#", "def ", '"""')) and line not in public:
                assert line not in blob, (aid, line)
    # hidden expected values: outputs of the hidden cases, as printed by repr and %.10g
    for aid in (LR,):
        grader = Grader(aid, mode="grade", shared=True)
        found = []
        for key, parts in groups(grader.spec).items():
            for case in grader.cases(key)[:3]:
                for value in grader.expected(parts[0], case).values():
                    for x in np.ravel(value)[:4]:
                        x = float(x)
                        for text in (repr(x), f"{x:.10g}"):
                            if sum(ch.isdigit() for ch in text.split("e")[0]) >= 8 and text in blob:
                                found.append(text)  # a number with 8+ digits: not a round probe value
        assert not found, found


@pytest.fixture(scope="module")
def unpacked(bundle, tmp_path_factory) -> Path:
    """The wheel's files, as pip would install them, with no checkout or handout around them."""
    target = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(_wheel(bundle)) as zf:
        zf.extractall(target)
    return target


def _env(site: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPGRADE_", "PYTHON"))}
    env.update(PYTHONPATH=str(site))
    return env


def _bpgrade(site: Path, *args, cwd: Path):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=_env(site),
                          capture_output=True, text=True, timeout=300)


def test_the_installed_wheel_finds_its_assignments_and_offers_student_commands_only(unpacked, tmp_path):
    where = subprocess.run([sys.executable, "-c", "import autograder, autograder.project as p; "
                            "print(autograder.__file__); print(p.root()); print(p.assignment_ids())"],
                           cwd=tmp_path, env=_env(unpacked), capture_output=True, text=True, check=True).stdout
    assert where.splitlines() == [str(unpacked / "autograder" / "__init__.py"), str(unpacked / "autograder"),
                                  str(IDS)]
    usage = _bpgrade(unpacked, "--help", cwd=tmp_path)
    assert usage.returncode == 0, usage.stderr
    commands = usage.stdout.split("Commands:", 1)[1].split()
    assert [c for c in commands if c in main.commands] == ["check", "list"]
    for instructor in ("grade", "batch", "demo", "gradescope", "selftest", "handout", "notebooks"):
        refused = _bpgrade(unpacked, instructor, "--help", cwd=tmp_path)
        assert refused.returncode == 2 and "No such command" in refused.stderr, instructor
    listing = _bpgrade(unpacked, "list", cwd=tmp_path)
    assert listing.returncode == 0 and all(aid in listing.stdout for aid in IDS)


@pytest.mark.slow
def test_bpgrade_check_runs_from_the_wheel_without_solutions(bundle, unpacked, tmp_path):
    work = bundle / "student_template"
    for aid in IDS:  # every assignment, with the wheel's files only
        stub = _bpgrade(unpacked, "check", aid, f"{aid}.py", cwd=work)
        assert stub.returncode == 1, stub.stderr
        assert "[not_implemented]" in stub.stdout
        assert stub.stdout.rstrip().endswith("hidden tests run on submission")

        mine = tmp_path / f"{aid}.py"
        mine.write_text(reference_source(aid))
        done = _bpgrade(unpacked, "check", aid, str(mine), cwd=tmp_path)
        assert done.returncode == 0, (aid, done.stdout + done.stderr)
        assert "FAIL" not in done.stdout and "public " in done.stdout


def _project_copy(tmp_path: Path, stub: str | None = None) -> Path:
    """A project with the logistic_regression assignment only (its stub: ``stub`` if given)."""
    base = tmp_path / "project"
    shutil.copytree(project.assignments_dir() / LR, base / "assignments" / LR,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (base / "solutions").mkdir()
    shutil.copyfile(project.solution_path(LR), base / "solutions" / f"{LR}.py")
    (base / "student_template").mkdir()
    (base / "student_template" / f"{LR}.py").write_text(stub or notebook.stub_path(LR).read_text())
    (base / "student_template" / "README.md").write_text(f"readme\n{handout.RECIPES}\n")
    return base


def test_the_wheel_carries_any_file_of_a_public_assignment_folder(tmp_path):
    base = _project_copy(tmp_path)
    extra = base / "assignments" / LR / "data" / "points.npz"  # e.g. a dataset the instructions use
    extra.parent.mkdir()
    extra.write_bytes(b"PK\x05\x06" + bytes(18))
    (base / "assignments" / LR / "__pycache__").mkdir()
    (base / "assignments" / LR / "__pycache__" / "x.pyc").write_bytes(b"")
    (found,) = [p for p in handout.build(tmp_path / "out", base=base) if p.suffix == ".whl"]
    names = wheel.members(found)
    assert f"autograder/assignments/{LR}/data/points.npz" in names
    assert f"autograder/assignments/{LR}/expected/public-{project.PUBLIC_SEED}.npz" in names  # recorded by the build
    assert not [n for n in names if "__pycache__" in n]
    # the same content, the same version: a rebuild is the same wheel, byte for byte
    again = wheel.build(tmp_path / "out" / "assignments", tmp_path / "again")
    assert again.name == found.name and again.read_bytes() == found.read_bytes()
    extra.write_bytes(b"changed")
    assert wheel.build(base / "assignments", tmp_path / "third").name != found.name


def test_wheel_url_puts_the_published_wheel_in_every_notebook(tmp_path):
    base = _project_copy(tmp_path)
    written = handout.build(tmp_path / "out", base=base, wheel_url="https://course.example/w/")
    url = "https://course.example/w/" + written[0].name.replace("+", "%2B")
    setup = notebook.build(LR, base, install=url)
    assert (tmp_path / "out" / "student_template" / f"{LR}.ipynb").read_text() == notebook.render(LR, base, install=url)
    assert f'%pip install -q "{url}"' in [c for c in setup.cells if c.id == "setup"][0].source
    assert url in (tmp_path / "out" / "README.md").read_text()
    with pytest.raises(handout.HandoutError, match="this build is"):
        handout.build(tmp_path / "other", base=base, wheel_url="https://course.example/bpgrade_student-0.0.1-py3-none-any.whl")


def test_a_local_check_runs_unsandboxed_and_says_so_where_the_sandbox_cannot_start(monkeypatch, tmp_path):
    from autograder.sandbox import host as run

    real = run.Sandbox.__init__

    def refused(self, *args, isolation_mode=None, **kwargs):
        if (isolation_mode or run.default_isolation()) == "fork":
            raise OSError("namespaces refused")  # as in a container that refuses them
        real(self, *args, isolation_mode=isolation_mode, **kwargs)

    monkeypatch.setattr(run.Sandbox, "__init__", refused)
    spec = project.load_assignment(LR)
    sandbox, note = local.sandbox_for(str(spec.folder / "assignment.py"))
    try:
        assert sandbox.mode == "spawn" and "namespaces refused" in note and note.startswith("note: not sandboxed")
        from autograder.grade import grade

        report = grade(source=reference_source(LR), assignment=LR, mode="check", sandbox=sandbox)
        assert report.score == report.max_score
        assert "mount_namespace" not in report.protections and "spawned_worker" in report.protections
    finally:
        sandbox.close()
    monkeypatch.setattr(local, "default_isolation", lambda: "spawn")  # macOS, Windows
    monkeypatch.setattr(local.sys, "platform", "darwin")
    sandbox, note = local.sandbox_for(str(spec.folder / "assignment.py"))
    sandbox.close()
    assert "macOS has no Linux sandbox" in note


def test_the_sandbox_of_a_local_check_is_the_real_one_where_it_starts():
    sandbox, note = local.sandbox_for(str(project.load_assignment(LR).folder / "assignment.py"))
    sandbox.close()
    assert note is None and sandbox.mode == "fork"


def test_handout_refuses_a_stub_that_holds_the_reference(tmp_path):
    base = _project_copy(tmp_path, stub=reference_source(LR))  # an author's slip
    with pytest.raises(handout.HandoutError, match="hidden material"):
        handout.build(tmp_path / "out", base=base)
    assert not (tmp_path / "out").exists()


def test_the_scan_reads_inside_wheels(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.whl", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("autograder/batch/runner.py", "pass\n")
        zf.writestr("autograder/assignments/a/oracle.py", "SECRET_BODY = 1\n")
        zf.writestr("solutions/grading.toml", "")
    found = handout.scan(tmp_path, ["SECRET_BODY=1"])
    assert found == ["x.whl/autograder/batch/runner.py: an instructor-only module",
                     "x.whl/autograder/assignments/a/oracle.py: 'SECRET_BODY=1'",
                     "x.whl/solutions/grading.toml: a solutions/ folder or grading.toml"]


def test_handout_refuses_a_non_empty_folder_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["handout", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output
