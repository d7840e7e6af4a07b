"""The hidden secret and fresh hidden cases (DESIGN: "Hidden cases are secret and fresh").

The secret is high-entropy, created on first use and never a small integer; each assignment's
key is HMAC(secret, id); hidden cases derive from the key, the student id and the graded source,
so the same file always gets the same cases (grade, batch, Gradescope) and a lookup table built
from one submission's hidden values earns nothing on the next.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tomllib

import numpy as np
import pytest

from autograder import batch, project, selftest
from autograder.cases import groups
from autograder.gradescope import autograder_zip as gradescope, plugin as otter_plugin
from autograder.grade import Grader, grade, source_sha256
from autograder.load import without_checker
from autograder.report import to_json
from autograder.sandbox.host import Sandbox
from autograder.batch.submissions import Item, Student
from tests.test_sandbox import needs_root, probe

LR = "logistic_regression"
MUTANT = project.root() / "solutions" / "examples" / LR / "forgot_the_mean.py"


def _base(tmp_path, grading_toml: str | None):
    """A project root with the logistic regression assignment, its reference, and ``grading_toml``."""
    base = tmp_path / "project"
    shutil.copytree(project.assignments_dir() / LR, base / "assignments" / LR,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (base / "solutions").mkdir()
    shutil.copyfile(project.solution_path(LR), base / "solutions" / f"{LR}.py")
    if grading_toml is not None:
        (base / "solutions" / "grading.toml").write_text(grading_toml)
    return base


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch):
    monkeypatch.delenv(project.SECRET_ENV, raising=False)
    monkeypatch.delenv("BPGRADE_HIDDEN_SEED", raising=False)


# ------------------------------------------------------------------ the secret

@pytest.mark.parametrize("toml, match", [
    pytest.param("hidden_seed = 8675309\n", "small integer 8675309.*brute force.*hidden_secret", id="old_hidden_seed"),
    pytest.param("hidden_secret = 8675309\n", "small integer", id="integer_secret"),
    pytest.param('hidden_secret = "8675309a"\n', "32 bits; at least 128", id="short_hex"),
    pytest.param('hidden_secret = "not hex at all"\n', "hex digits", id="not_hex"),
    pytest.param(f'[{LR}]\nhidden_seed = 17\n', "small integer 17", id="per_assignment_seed"),
])
def test_a_small_or_malformed_secret_is_refused_with_how_to_fix_it(tmp_path, toml, match):
    base = _base(tmp_path, toml)
    with pytest.raises(project.ProjectError, match=match):
        project.assignment_key(LR, base)
    assert (base / "solutions" / "grading.toml").read_text() == toml  # nothing rewritten behind their back


def test_a_small_integer_in_the_environment_is_refused(tmp_path, monkeypatch):
    base = _base(tmp_path, None)
    monkeypatch.setenv(project.SECRET_ENV, "424242")
    with pytest.raises(project.ProjectError, match="BPGRADE_HIDDEN_SECRET.*bits"):
        project.assignment_key(LR, base)
    monkeypatch.delenv(project.SECRET_ENV)
    monkeypatch.setenv("BPGRADE_HIDDEN_SEED", "424242")
    with pytest.raises(project.ProjectError, match="no longer used"):
        project.assignment_key(LR, base)


def test_the_secret_is_created_on_first_use_with_a_message(tmp_path, capsys):
    base = _base(tmp_path, f"# course notes\n[{LR}]\nsomething = 1\n")
    key = project.assignment_key(LR, base)
    path = base / "solutions" / "grading.toml"
    err = capsys.readouterr().err
    assert str(path) in err and "Keep this file" in err and "changes every hidden case" in err
    config = tomllib.loads(path.read_text())
    assert len(bytes.fromhex(config["hidden_secret"])) == 32 and config[LR] == {"something": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert project.assignment_key(LR, base) == key and capsys.readouterr().err == ""  # kept, not regenerated
    assert project.assignment_key("other", base) != key  # keyed per assignment


def test_the_environment_overrides_the_file_and_keys_are_hmacs(tmp_path, monkeypatch):
    base = _base(tmp_path, f'hidden_secret = "{"ab" * 32}"\n')
    import hmac

    expected = hmac.new(bytes.fromhex("ab" * 32), b"bpgrade-assignment\0" + LR.encode(), hashlib.sha256).digest()
    assert project.assignment_key(LR, base) == expected
    monkeypatch.setenv(project.SECRET_ENV, "cd" * 32)
    assert project.assignment_key(LR, base) != expected


def test_the_gradescope_zip_ships_the_assignment_key_not_the_course_secret():
    files = gradescope._bundle_files(LR, project.root())
    text = files[f"{gradescope.BUNDLE}/solutions/grading.toml"].decode()
    secret = project.hidden_secret(create=False).hex()
    key = project.assignment_key(LR).hex()
    assert secret not in text and key in text
    assert tomllib.loads(text) == {LR: {"hidden_key": key}}


def test_a_shipped_assignment_key_is_used_as_it_is(tmp_path):
    key = project.assignment_key(LR)
    base = _base(tmp_path, f'[{LR}]\nhidden_key = "{key.hex()}"\n')
    assert project.assignment_key(LR, base) == key
    assert "hidden_secret" not in (base / "solutions" / "grading.toml").read_text()  # none created there


@pytest.mark.slow
@needs_root
def test_the_secret_never_reaches_the_zygote_or_a_worker(monkeypatch):
    """The secret in the grader's environment and its key in the grader's memory: the zygote's
    command line and environment, and everything a worker can read about processes, hold none of
    it (a sandbox started after the key was loaded, the worst case)."""
    secret = "5e" * 32
    monkeypatch.setenv(project.SECRET_ENV, secret)
    grader = Grader(LR, mode="grade")
    key = project.assignment_key(LR).hex()
    assert grader._key.hex() == key
    with Sandbox() as box:
        for what in ("cmdline", "environ"):
            with open(f"/proc/{box.launcher.zygote.pid}/{what}", "rb") as fh:
                data = fh.read()
            assert secret.encode() not in data and key.encode() not in data and b"HIDDEN" not in data
        # the worker looks for the secret and the key without being given them: by the sha256 of
        # every 64-character window of what it can read (its output is capped, so it prints a verdict)
        targets = [hashlib.sha256(t.encode()).hexdigest() for t in (secret, key)]
        result, _ = probe(box, f"""
import hashlib
seen = [json.dumps(dict(os.environ))]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for what in ("cmdline", "environ"):
            try:
                seen.append(open(f"/proc/{{pid}}/{{what}}", "rb").read().decode("latin1"))
            except OSError:
                pass
blob = "\\n".join(seen)
windows = {{hashlib.sha256(blob[i:i + 64].encode()).hexdigest() for i in range(max(0, len(blob) - 63))}}
RESULT["found"] = [t for t in {targets!r} if t in windows]
RESULT["named"] = "HIDDEN_SECRET" in blob
RESULT["read"] = len(seen)
""")
    assert result["found"] == [] and not result["named"] and result["read"] >= 1


# ------------------------------------------------------------------ fresh cases

def _inputs(grader: Grader) -> list:
    return [case.inputs for key in groups(grader.spec) for case in grader.cases(key)]


def _same(a: list, b: list) -> bool:
    def eq(x, y):
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if callable(x):
            return True
        return np.shape(x) == np.shape(y) and np.array_equal(np.asarray(x), np.asarray(y))
    return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))


def _shares_no_case(a: list, b: list) -> bool:
    return not any(_same([x], [y]) for x in a for y in b)


def test_fresh_cases_depend_on_the_file_and_the_student_and_nothing_else():
    grader = Grader(LR, mode="grade")
    source = MUTANT.read_text()
    alice = _inputs(grader.for_submission(source, "alice"))
    assert _same(alice, _inputs(Grader(LR, mode="grade").for_submission(source, "alice")))  # reproducible
    assert _shares_no_case(alice, _inputs(grader.for_submission(source, "bob")))  # another student
    assert _shares_no_case(alice, _inputs(grader.for_submission(source + "\n# v2\n", "alice")))  # a changed file
    shared = Grader(LR, mode="grade", shared=True)
    assert shared.for_submission(source, "alice") is shared and shared.for_submission(source, "bob") is shared
    assert _shares_no_case(alice, _inputs(shared))
    assert _shares_no_case(_inputs(shared), _inputs(Grader(LR, mode="grade", seed=1)))  # --seed: another shared set
    public = _inputs(Grader(LR, mode="check"))
    assert _shares_no_case(alice, public) and _shares_no_case(_inputs(shared), public)


def test_the_content_hash_is_that_of_the_source_gradescope_grades():
    """The Gradescope plugin grades the source without checker lines; a batch grades it as
    loaded: both hash the same text."""
    source = "import numpy as np\nfrom autograder.check import checker\ncheck = checker('x')\n" + MUTANT.read_text() + "check('grad_logits')\n"
    assert without_checker(source) != source
    assert source_sha256(source) == source_sha256(without_checker(source))
    assert source_sha256(source) != source_sha256(MUTANT.read_text())
    deep = "x = " + "(" * 100_000 + ")" * 100_000 + "\n"  # ast cannot take it: hashed as it is
    assert len(source_sha256(deep)) == 64


def test_gradescope_and_a_batch_of_its_export_key_the_student_alike(tmp_path):
    (tmp_path / "submission_metadata.json").write_text(json.dumps({
        "id": 123, "users": [{"email": "Bob@Uni.edu", "id": 9, "name": "Bob"},
                             {"email": "alice@uni.edu", "id": 8, "name": "Alice"}]}))
    item = Item("submission_123", tmp_path, students=[Student("Alice", "alice@uni.edu", "1"),
                                                      Student("Bob", "bob@uni.edu ", "2")])
    assert otter_plugin._student(tmp_path) == batch.student_key(item) == "alice@uni.edu,bob@uni.edu"
    (tmp_path / "submission_metadata.json").write_text(json.dumps({"id": 123, "users": []}))
    assert otter_plugin._student(tmp_path) == batch.student_key(Item("submission_123", tmp_path)) == "submission_123"
    assert otter_plugin._student(tmp_path / "nowhere") == ""
    assert batch.student_key(Item("alice", tmp_path, students=[Student(sid="alice")])) == "alice"


def _details(report_json: dict) -> list:
    return [(p["name"], p["score"], p.get("feedback"), json.dumps(p.get("cases"), sort_keys=True))
            for p in report_json["parts"]]


def test_the_same_file_gets_the_same_grade_through_batch_and_grade(tmp_path, sandbox):
    (tmp_path / "in").mkdir()
    shutil.copyfile(MUTANT, tmp_path / "in" / "alice.py")
    batch.run_batch(LR, tmp_path / "in", out=tmp_path / "out", workers=1, progress=False)
    record = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[-1])
    as_alice = to_json(grade(tmp_path / "in" / "alice.py", assignment=LR, student="alice", sandbox=sandbox), compact=True)
    assert _details(record["report"]) == _details(as_alice)
    again = to_json(grade(MUTANT, assignment=LR, student="alice", sandbox=sandbox), compact=True)
    assert _details(again) == _details(as_alice)
    as_bob = to_json(grade(MUTANT, assignment=LR, student="bob", sandbox=sandbox), compact=True)
    assert _details(as_bob) != _details(as_alice)  # other cases: other relative errors in the feedback
    assert as_alice["seed"] is None and "seed" not in json.dumps(as_alice["parts"])


def _lookup_table(grader: Grader) -> str:
    """A math-free submission answering from the hidden values ``grader``'s cases leaked (inputs
    and the oracle's outputs, as a leak through feedback would give them)."""
    spec, tables = grader.spec, {}
    for key, parts in groups(spec).items():
        fn = spec.function(parts[0].function)
        for case in grader.cases(key):
            tables.setdefault(fn.name, []).append((selftest.call_args(fn, case.inputs), grader.expected(parts[0], case)))
    return selftest.table_source(spec, tables)


@pytest.mark.parametrize("aid", ["logistic_regression", "gradient_descent"])
def test_values_leaked_by_one_submission_earn_nothing_in_the_next(aid, sandbox):
    """The leak-then-lookup chain: every hidden value of the first submission (its cases' inputs
    and expected outputs) hard-coded into the next earns 0 there, while the same table against
    the cases it was built from (shared mode) earns full marks."""
    grader = Grader(aid, mode="grade")
    first = project.solution_path(aid).read_text()
    leaked = grader.for_submission(first, "mallory")
    table = _lookup_table(leaked)
    report = grader.grade_source(table, sandbox, student="mallory")
    assert report.score == 0, [(p.name, p.score) for p in report.parts]
    # the control: against the very cases it leaked from, the table scores everything
    assert leaked.grade_source(table, sandbox).score == grader.spec.max_score
    # and in shared mode a table from one submission's cases is worth everything in the next
    shared = Grader(aid, mode="grade", shared=True)
    assert shared.grade_source(_lookup_table(shared), sandbox).score == shared.spec.max_score
