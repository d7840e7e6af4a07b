"""Red team: one or more hostile submissions per attack category (research/security.md §5),
each graded through the real sandbox against logistic_regression.

For every submission: it scores no more than its honest math earns (the all-zeros control on
the same cases, or for finite differences the same honest forward pass with zero gradients),
the grader survives and returns a full Report, no file outside the worker's directory changes
(watched secrets and assignment files, world-writable canaries in /tmp and /var/tmp, no planted
names in the scratch dirs or the repo), nothing connected to a loopback listener, and the run
ends within its time bound.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder import project
from autograder.grade import Grader
from autograder.report import Report, to_json
from tests.helpers import reference_source

pytestmark = pytest.mark.slow

A = "logistic_regression"
HERE = Path(__file__).resolve().parent / "redteam"
TIME_LIMIT = 2.0  #: seconds per call for these tests (the assignment's 5 s makes hangs slow)
WALL_BOUND = 90.0  #: one submission, all parts, including every timeout and restart
ZEROS, FORWARD = "_control_zeros.py", "_control_forward.py"

SUBMISSIONS = [
    pytest.param("early_exit.py", ZEROS, id="early_exit"),
    pytest.param("early_exit_at_import.py", ZEROS, id="early_exit-at_import"),
    pytest.param("result_forgery.py", ZEROS, id="result_forgery"),
    pytest.param("monkeypatching.py", ZEROS, id="monkeypatching"),
    pytest.param("lying_objects.py", ZEROS, id="lying_objects"),
    pytest.param("dtype_shape.py", ZEROS, id="dtype_shape_tricks"),
    pytest.param("nonfinite.py", ZEROS, id="nan_inf"),
    pytest.param("memory_discovery.py", ZEROS, id="reference_discovery_in_memory"),
    pytest.param("secrets_disk.py", ZEROS, id="secrets_on_disk_and_env"),
    pytest.param("forbidden_import.py", ZEROS, id="forbidden_libraries"),
    pytest.param("forbidden_import_bypass.py", ZEROS, id="forbidden_libraries-bypass"),
    pytest.param("finite_differences.py", FORWARD, id="finite_differences"),
    pytest.param("input_mutation.py", ZEROS, id="input_mutation"),
    pytest.param("cpu_time.py", ZEROS, id="cpu_time"),
    pytest.param("memory.py", ZEROS, id="memory"),
    pytest.param("processes.py", ZEROS, id="processes"),
    pytest.param("threads.py", ZEROS, id="threads"),
    pytest.param("output_flood.py", ZEROS, id="output_floods"),
    pytest.param("transport_abuse.py", ZEROS, id="transport_abuse"),
    pytest.param("filesystem_abuse.py", ZEROS, id="filesystem_abuse"),
    pytest.param("network.py", ZEROS, id="network"),
    pytest.param("grader_attack.py", ZEROS, id="attacks_on_the_grader"),
    pytest.param("notebook_tricks.py", ZEROS, id="notebook_tricks"),
    pytest.param("environment_detection.py", ZEROS, id="environment_detection"),
]

#: Names a submission might plant; none may appear in a scratch dir or the repo.
PLANTED = {"results.json", "results.jsonl", "grades.csv", "numpy.py", "sitecustomize.py", "evil.pth",
           ".OTTER_LOG", "planted.txt"}
SCRATCH = [d for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if os.path.isdir(d)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


class World:
    """What must not change: watched files, canaries in world-writable dirs, planted names."""

    def __init__(self):
        root = project.root()
        self.repo = root
        self.watched = [root / "solutions" / f"{A}.py", root / "solutions" / "grading.toml",
                        *sorted((root / "assignments" / A).glob("*.py"))]
        self.canaries = []
        self.canary_dirs = []
        for base in ("/tmp", "/var/tmp"):
            if os.path.isdir(base):
                d = Path(tempfile.mkdtemp(prefix="bpgrade-redteam-canary-", dir=base))
                os.chmod(d, 0o777)  # world-writable on purpose: only the sandbox may stop writes
                f = d / "canary.txt"
                f.write_text("canary\n")
                os.chmod(f, 0o666)
                self.canary_dirs.append(d)
                self.canaries.append(f)

    def snapshot(self) -> dict:
        return {
            "files": {str(p): _sha(p) for p in self.watched + self.canaries},
            "canary_dirs": {str(d): sorted(os.listdir(d)) for d in self.canary_dirs},
            "planted": sorted(
                f"{d}/{n}" for d in [*SCRATCH, str(self.repo), str(self.repo / "autograder"),
                                     str(self.repo / "solutions"), str(self.repo.parent)]
                if os.path.isdir(d) for n in os.listdir(d) if n in PLANTED or n.startswith("planted")
            ),
        }

    def close(self):
        for d in self.canary_dirs:
            shutil.rmtree(d, ignore_errors=True)


class Listener:
    """A loopback TCP+UDP service on the grading host; it counts whoever reaches it."""

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.hits: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, addr = self.tcp.accept()
                self.hits.append(f"tcp {addr}")
                conn.sendall(b"[0.5]")
                conn.close()
            except OSError:
                pass
            try:
                data, addr = self.udp.recvfrom(65536)
                self.hits.append(f"udp {addr}")
            except OSError:
                pass

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def grader():
    g = Grader(A, mode="grade")
    g.spec.time_limit = TIME_LIMIT
    return g.prepare()


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def listener():
    srv = Listener()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def bounds(grader, sandbox):
    cache: dict[str, float] = {}

    def bound(control: str) -> float:
        if control not in cache:
            report = grader.grade_source((HERE / control).read_text(), sandbox)
            assert report.load_error in (None, ""), report.load_error
            cache[control] = report.score
        return cache[control]

    return bound


def test_controls_are_sane(bounds, grader, sandbox):
    """The bounds are meaningful: zeros earn little, the honest forward pass earns more, the
    reference earns everything."""
    assert bounds(ZEROS) < 3
    assert bounds(ZEROS) < bounds(FORWARD) < grader.spec.max_score
    reference = project.solution_path(A).read_text()
    assert grader.grade_source(reference, sandbox).score == grader.spec.max_score


@pytest.mark.parametrize("filename, control", SUBMISSIONS)
def test_red_team_submission(filename, control, grader, sandbox, world, listener, bounds):
    source = (HERE / filename).read_text()
    assert source.lstrip().startswith('"""Category:'), "each red-team file names its category and attack"
    source = source.replace("PORT = 0", f"PORT = {listener.port}")
    bound = bounds(control)
    before = world.snapshot()
    hits_before = len(listener.hits)

    start = time.monotonic()
    report = grader.grade_source(source, sandbox)
    wall = time.monotonic() - start

    # the grader survived and recorded a full result
    assert isinstance(report, Report)
    assert len(report.parts) == len(grader.spec.parts)
    to_json(report)  # serialisable, whatever the submission printed
    # no more than honest math earns
    assert report.score <= bound + 1e-9, (report.score, bound, [(p.name, p.score, p.diagnoses) for p in report.parts])
    # nothing outside the worker's directory changed, nothing reached the network
    assert world.snapshot() == before
    assert listener.hits[hits_before:] == []
    assert wall < WALL_BOUND
    # the sandbox is still usable, and the same worker slot serves the next submission
    assert sandbox._live == set()
    if filename == "finite_differences.py":
        assert "too_slow" in next(p.diagnoses for p in report.parts if p.name == "gradients.dw")
    if filename == "forbidden_import.py":
        assert all(p.diagnoses == ["forbidden_import"] for p in report.parts)
    if filename not in ("forbidden_import.py",):
        assert "seccomp" in report.protections or not report.protections or os.geteuid() != 0


LEAK = '''
import numpy as np



class Leak(Exception):
    pass


def sigmoid(z):
    raise ValueError("inputs: " + repr(np.asarray(z).ravel()[:6].tolist()))


def predict_proba(X, w, b):
    raise Leak(repr(w.tolist()))


def bce_loss(X, y, w, b):
    return {"k" + repr(round(float(x), 6)): 1 for x in w.ravel()}


def grad_logits(X, y, w, b):
    raise NotImplementedError


def gradients(X, y, w, b):
    raise NotImplementedError
'''


def test_hidden_inputs_do_not_leak_through_error_messages(grade_source):
    """Exception messages, custom exception names and worker-side structure text are
    student-controlled and computed from the inputs: on hidden cases none of it reaches the
    feedback (a later submission could hard-code answers for the leaked inputs)."""
    import re as _re

    hidden = grade_source("logistic_regression", LEAK, mode="grade")
    text = "\n".join(p.feedback for p in hidden.parts) + json.dumps(to_json(hidden))
    assert "inputs: [" not in text and "Leak" not in text
    assert not _re.search(r"k-?\d+\.\d+", text)
    assert "message not shown for hidden cases" in text
    public = grade_source("logistic_regression", LEAK, mode="check")
    assert "inputs: [" in "\n".join(p.feedback for p in public.parts)  # local checks show it all


READS_INPUTS_AT_LOAD = '''
import sys
import numpy as np

def _walk(value, depth, seen, found):
    """Every array reachable from ``value`` through containers and attributes."""
    if depth < 0 or id(value) in seen:
        return
    seen.add(id(value))
    if type(value) is np.ndarray:
        found.append(value)
    elif isinstance(value, dict):
        for item in list(value.values()):
            _walk(item, depth - 1, seen, found)
    elif isinstance(value, (list, tuple, set)):
        for item in list(value):
            _walk(item, depth - 1, seen, found)
    elif hasattr(value, "__dict__") and not isinstance(value, type(sys)):
        _walk(vars(value), depth - 1, seen, found)

found, seen, frame = [], set(), sys._getframe()
while frame is not None:  # up the worker's own stack: Session.load, run, the zygote's fork ...
    _walk(dict(frame.f_locals), 12, seen, found)
    frame = frame.f_back
import hashlib
print("wide inputs held at load:", sorted(hashlib.sha256(a.tobytes()).hexdigest()[:16] for a in found
                                          if a.shape == (10, 20000)))
''' + reference_source("logistic_regression")


def test_no_hidden_input_is_in_the_worker_while_the_module_body_runs(grade_source):
    """A file that searches the memory it can reach at load time (up its own stack, through
    every container and attribute) for the wide case's X, shape (10, 20000), finds the public
    one in local checks, where the zygote holds public inputs, and no hidden one when grading:
    hidden inputs arrive with the calls, after the module body has run."""
    def digests(mode):
        grader = Grader("logistic_regression", mode=mode).for_submission(READS_INPUTS_AT_LOAD)  # its fresh cases
        return {hashlib.sha256(c.inputs["X"].tobytes()).hexdigest()[:16]
                for c in grader.cases("gradients") if c.inputs["X"].shape == (10, 20000)}

    public = grade_source("logistic_regression", READS_INPUTS_AT_LOAD, mode="check")
    hidden = grade_source("logistic_regression", READS_INPUTS_AT_LOAD, mode="grade")
    seen_public = "".join(public.notes)
    seen_hidden = "".join(hidden.notes)
    assert all(d in seen_public for d in digests("check")), seen_public  # the probe does find inputs
    assert not any(d in seen_hidden for d in digests("grade")), seen_hidden
    assert hidden.score == hidden.max_score


STEERED = reference_source("logistic_regression") + '''

def _p(X, w, b):
    return np.exp(-np.logaddexp(0.0, -(X @ w + b)))


def _tag(X):
    """A name spelling out one hidden input to six digits: k0_123456 or km0_123456."""
    return ("k%.6f" % X[0, 0]).replace("-", "m").replace(".", "_")


def predict_proba(X, w, b):  # an object of a class named after an input
    return type(_tag(X), (), {})()


def bce_loss(X, y, w, b):  # a structured dtype whose field is named after an input
    return np.zeros((), dtype=[(_tag(X), "f8")])


def grad_logits(X, y, w, b):  # a wrong answer whose relative error spells out an input
    return (_p(X, w, b) - y) / X.shape[0] * (1.5 + abs(X[0, 0]) * 1e-3)


def gradients(X, y, w, b):  # an array of a class named after an input
    dz = (_p(X, w, b) - y) / X.shape[0]
    return (X.T @ dz).view(type(_tag(X), (np.ndarray,), {})), float(dz.sum())
'''


def test_hidden_feedback_carries_no_name_and_no_digits_the_submission_chose(grade_source):
    """On hidden cases the report names no type or dtype the submission made (their names can
    spell out the inputs) and rounds relative errors to two significant digits (a steered error
    could spell them out too), like every factor it names; a local check on public cases shows
    the names and the errors in full."""
    import re as _re

    def texts(report):
        return "\n".join(p.feedback for p in report.parts) + json.dumps(to_json(report))

    def errors(report):
        return [c.rel_error for p in report.parts for c in p.cases if c.rel_error is not None]

    public = grade_source("logistic_regression", STEERED, mode="check")
    assert _re.search(r"km?\d_\d{6}", texts(public))  # the channel exists: local checks name the type
    assert any(len(f"{e:.17g}".lstrip("0.").rstrip("0")) > 2 for e in errors(public))

    hidden = grade_source("logistic_regression", STEERED, mode="grade")
    assert not _re.search(r"km?\d_\d{6}", texts(hidden))
    steered = [e for e in errors(hidden) if e > 0.4]  # grad_logits: 0.5 plus |X[0, 0]| / 1000
    assert steered and all(float(f"{e:.2g}") == e for e in errors(hidden))
    assert not _re.search(r"factor -?\d\.\d\d", texts(hidden))  # "factor 1.5", not "factor 1.501"
    assert all(p.score < p.max_score for p in hidden.parts if p.name in ("predict_proba", "bce_loss", "grad_logits"))
