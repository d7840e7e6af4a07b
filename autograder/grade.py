"""The grading pipeline, stage by stage: load -> scan -> cases -> oracles -> run -> judge ->
shrink -> score -> report.

``grade()`` is the API behind ``bpgrade grade`` and ``bpgrade check``; :class:`Grader` is one
assignment prepared for many submissions. Only this process decides scores; the worker only
ever returns plain arrays.
"""
from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
from pathlib import Path

import numpy as np

from . import diagnose, project, score, shrink, trivial
from .cases import Case, generate, group_part, groups, is_edge
from .sandbox.policy import Limits
from .judge import Judged, judge_group
from .load import SubmissionError, load_source
from .oracle import Oracles
from .report import Report, part_result, unloadable, write_figures
from .sandbox.host import CallResult, Request, Sandbox, Submission
from .scan import scan_imports
from .spec import Part

MODES = ("check", "grade")
MAX_CRASHES = 2  #: after this many worker crashes in a part, its remaining cases are not run
SUBMISSION_TIMEOUT = 60.0  #: wall-clock seconds one submission may take, loading included; then `timeout`


def source_sha256(source: str) -> str:
    """The content hash fresh hidden cases derive from: sha256 of the source text graded (what
    :func:`autograder.load.load_source` gives) without its checker lines, as the Gradescope plugin
    grades it, so a batch regrade of a Gradescope submission gets the same cases. A notebook and a
    ``.py`` of the same code are different texts (the notebook's has cell markers) and get
    different cases; the same file always gets the same ones."""
    from .load import without_checker

    try:
        text = without_checker(source)
    except (RecursionError, MemoryError, ValueError):  # a source ast cannot take: hash it as it is
        text = source
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Grader:
    """Everything about one assignment that does not depend on the submission: the spec, the
    oracles and, for shared cases, the seed and every case with its expected outputs, prepared
    once and shared by all submissions of a batch (thread-safe). Construct it after the
    sandboxes exist: it loads torch and, in grading mode, the hidden reference and key.

    Hidden cases are fresh by default: each submission gets cases derived from the assignment's
    hidden key, the student id (``student``, "" if unknown) and the hash of its source
    (:func:`source_sha256`), graded by a child Grader with its own cases and oracle outputs
    (:meth:`for_submission`). ``shared=True`` (or a ``seed``: another shared set) gives every
    submission the same hidden cases, for comparisons and benchmarks."""

    def __init__(self, assignment: str, *, mode: str = "grade", seed: int | None = None, shared: bool = False,
                 base: Path | None = None, figures_dir: Path | None = None, live: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.spec = project.load_assignment(assignment, base)
        self._key = project.assignment_key(assignment, base) if mode == "grade" else None
        self.fresh = mode == "grade" and not shared and seed is None
        self.seeds: tuple[int, ...] | None = (
            (project.PUBLIC_SEED if seed is None else seed,) if mode == "check" else
            None if self.fresh else project.shared_case_seed(self._key, seed))
        #: whether the zygote is handed every case's inputs up front: only public ones. Hidden ones
        #: (shared or fresh) reach a worker only with the calls that use them, after the student's
        #: module body has run: a file cannot read them at load time (print them, or precompute
        #: answers from them)
        self.preload = mode == "check"
        if mode == "check":  # outputs recorded in the handout, else torch (``live``: torch always)
            from .students.expected import public_oracles

            self.oracles = public_oracles(self.spec, self.seeds[0], live=live)
        else:
            reference = project.load_reference(self.spec, base)
            self.oracles = Oracles(self.spec, torch_oracle=project.load_torch_oracle(self.spec), reference=reference)
        self.figures_dir = figures_dir
        self.assignment_file = str(self.spec.folder / "assignment.py")
        self._tols = {key: {out: tol for p in parts for out, _, tol in self.spec.graded(p)}
                      for key, parts in groups(self.spec).items()}
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._cases: dict[str, list[Case]] = {}
        self._shrunk: dict[str, list[Case]] = {}
        self._requests: dict[str, Request] = {}
        self._all_requests: list[Request] | None = None
        self._lock = threading.Lock()

    def with_seeds(self, seeds: tuple[int, ...]) -> "Grader":
        """A Grader for the hidden cases of ``seeds``, sharing the spec and the oracle modules but
        with its own cases and oracle outputs (dropped with it); like its parent, it preloads
        nothing."""
        child = copy.copy(self)
        child.fresh, child.seeds = False, seeds
        child.oracles = Oracles(self.spec, torch_oracle=self.oracles.torch, reference=self.oracles.reference)
        child._fresh_state()
        return child

    def for_submission(self, source: str, student: str = "") -> "Grader":
        """The Grader of this submission's hidden cases: itself for shared cases, else a child
        for the fresh cases of (student, source) (see the class docstring)."""
        if not self.fresh:
            return self
        return self.with_seeds(project.submission_case_seed(self._key, student=student or "",
                                                            source_sha256=source_sha256(source)))

    @property
    def public(self) -> bool:
        return self.mode == "check"

    def cases(self, key: str) -> list[Case]:
        """The group's cases; a random one on which a modelled mistake of the group's parts or
        a trivial answer gives the right answer is drawn again (see :func:`cases.generate`)."""
        if self.seeds is None:
            raise RuntimeError("fresh hidden cases depend on the submission: use for_submission(source, student), "
                               "or a Grader with shared=True")
        with self._lock:
            if key not in self._cases:
                parts = groups(self.spec)[key]
                self._cases[key] = generate(group_part(parts[0], key), self.seeds,
                                            telling=lambda case: self._telling(parts, case))
            return self._cases[key]

    def _telling(self, parts: list[Part], case: Case) -> bool:
        """Whether ``case`` tells every modelled mistake of ``parts``, and every trivial answer
        (zeros, ones, a constant, an input echoed, the function's declared ones) where a part
        grades values, from the right answer (called with the lock held)."""
        tols = self._tols[parts[0].cases_key]
        expected = self.oracles.expected(parts[0], case, tols)
        models = self.spec.function(parts[0].function).trivial
        with np.errstate(all="ignore"):  # a model's inf - inf is no warning of ours
            if any(diagnose.hidden_mistake(dict(p.variants), case.inputs, expected, tols) for p in parts if p.variants):
                return False
            return not any(trivial.right_on(case.inputs, expected, {name: tol for name, _, tol in self.spec.graded(p)},
                                            models) for p in parts if p.values)

    def untelling(self) -> list[str]:
        """Ids of the random cases on which a modelled mistake or a trivial answer still gives
        the right answer (no draw of the case could tell them apart): for the assignment's
        author (``bpgrade selftest``). Edge cases and probes are left out: they may be
        degenerate on purpose, and count only beside a passing random case."""
        found = []
        for key, parts in groups(self.spec).items():
            for case in self.cases(key):
                if case.probe is None and not is_edge(parts[0], case):
                    with self._lock:
                        if not self._telling(parts, case):
                            found.append(case.id)
        return found

    def expected(self, part: Part, case: Case) -> dict[str, np.ndarray]:
        with self._lock:
            return self.oracles.expected(part, case, self._tols[part.cases_key])

    def request(self, case: Case) -> Request:
        """The case's inputs encoded for a worker, once: every submission sends the same."""
        with self._lock:
            req = self._requests.get(case.id)
            if req is None:
                req = self._requests[case.id] = Request.of(case.inputs)
            return req

    def requests(self) -> list[Request]:
        """Every case's request: what a sandbox's zygote is given once (Sandbox.preload), so
        its workers are sent only references to them."""
        if self._all_requests is None:
            self._all_requests = [self.request(case) for key in groups(self.spec) for case in self.cases(key)]
        return self._all_requests

    def shrink_candidates(self, group: Part, case: Case) -> list[Case]:
        """The smaller versions of ``case`` (see :func:`autograder.shrink.candidates`), built once
        per case and shared by every submission that shrinks it."""
        with self._lock:
            if case.id not in self._shrunk:
                self._shrunk[case.id] = [c for c in shrink.candidates(group, case) if self.oracles.knows(group, c)]
            return self._shrunk[case.id]

    def prepare(self) -> "Grader":
        """Generate every case and compute its expected outputs now (oracles run once). With
        fresh cases there is nothing to share: one set of cases is computed and dropped, so torch
        and the reference are warm (before a pool forks) and a disagreement of the oracles stops
        grading before any submission is graded."""
        if self.fresh:
            self.with_seeds(project.shared_case_seed(self._key)).prepare()
            return self
        for key, parts in groups(self.spec).items():
            for case in self.cases(key):
                self.expected(parts[0], case)
                self.request(case)
        return self

    def new_report(self) -> Report:
        return Report(assignment=self.spec.id, title=self.spec.title, mode=self.mode,
                      oracles=self.oracles.names, seed=None if self.mode == "grade" else self.seeds[0],
                      max_score=self.spec.max_score)

    #: wall-clock seconds per submission (loading and every call); parts not reached in time
    #: are `timeout` (set by grade(), Pool and the CLI's --submission-timeout)
    submission_timeout: float = SUBMISSION_TIMEOUT

    def grade_path(self, path: str | Path, sandbox: Sandbox, *, student: str = "") -> Report:
        try:
            source = load_source(path, prefer=self.spec.id)
        except SubmissionError as exc:
            return unloadable(self.new_report(), self.spec, "load_error", str(exc))
        return self.grade_source(source, sandbox, student=student)

    def grade_source(self, source: str, sandbox: Sandbox, *, student: str = "") -> Report:
        """Grade ``source``; ``student`` (an id, "" if unknown) keys its fresh hidden cases."""
        if self.fresh:
            return self.for_submission(source, student).grade_source(source, sandbox)
        spec, report = self.spec, self.new_report()
        forbidden, unscannable = scan_imports(source)
        if unscannable:
            return unloadable(report, spec, "load_error",
                              f"{unscannable}; the submission was not run (is it Python source?)")
        if forbidden:
            report.notes.append(f"forbidden import(s): {', '.join(forbidden)}")
            return unloadable(report, spec, "forbidden_import",
                              f"the submission imports {', '.join(forbidden)}; use numpy only")
        if self.preload:  # public cases: workers start with their inputs, calls send references
            sandbox.preload(self.requests())
        budget = float(self.submission_timeout)
        deadline = time.monotonic() + budget
        with Submission(sandbox, source, self.assignment_file, load_timeout=min(spec.time_limit * 2, budget)) as sub:
            load = sub.load()
            report.protections = sub.protections
            if load.stdout:
                report.notes.append("output while loading:\n" + load.stdout)
            if load.status != "loaded":
                return unloadable(report, spec, *diagnose.load_failure(load))
            if load.cells:
                stopped = [diagnose.cell_failure(c, sub.cells) for c in load.cells]
                if any(diagnose.blocked_import(c.error) for c in load.cells):
                    return unloadable(report, spec, "forbidden_import", "\n".join(stopped))
                if not any(state == "ok" for state in load.defined.values()):
                    return unloadable(report, spec, "load_error", "\n".join(stopped))
                report.load_warnings += stopped
            _grade_parts(report, self, sub, deadline=deadline, budget=budget)
        return report


def grade(submission: str | Path | None = None, *, assignment: str, mode: str = "grade",
          student: str = "", shared: bool = False, seed: int | None = None, source: str | None = None,
          sandbox: Sandbox | None = None, base: Path | None = None, figures_dir: Path | None = None,
          limits: Limits | None = None, submission_timeout: float = SUBMISSION_TIMEOUT, live: bool = False) -> Report:
    """Grade one submission (a path, or ``source`` text). ``mode="check"`` is the student's
    local check: public cases (of ``seed`` if given), torch oracle only, no hidden material
    needed; its expected outputs are the handout's recorded ones where valid, unless ``live``
    (see :mod:`autograder.students.expected`). In grading mode the
    hidden cases are fresh for (``student``, the source) unless ``shared`` or a ``seed`` (a
    shared set) is given (see :class:`Grader`). ``submission_timeout``: wall-clock seconds for
    the whole submission (then `timeout`)."""
    own_sandbox = sandbox is None
    if own_sandbox:  # start the zygote before any reference or hidden case is loaded; it comes up meanwhile
        sandbox = Sandbox(limits=limits or Limits(), wait=False)
    try:
        grader = Grader(assignment, mode=mode, seed=seed, shared=shared, base=base, figures_dir=figures_dir, live=live)
        grader.submission_timeout = submission_timeout
        if source is None:
            return grader.grade_path(submission, sandbox, student=student)
        return grader.grade_source(source, sandbox, student=student)
    finally:
        if own_sandbox:
            sandbox.close()


def _grade_parts(report: Report, grader: Grader, sub: Submission, *, deadline: float = math.inf,
                 budget: float = math.inf) -> None:
    """Grade every part, group by group, within the submission's wall-clock ``deadline``
    (``time.monotonic()``): no call is given longer than what is left, the calls stop as soon
    as it passes, and every case not run by then is `timeout`. Then score every part and,
    when the Grader has a ``figures_dir``, draw the parts' figures from what the calls returned."""
    spec = grader.spec
    defined = sub.load_result.defined
    judged: dict[str, list[tuple[Case, Judged]]] = {}  # every part's cases, judged
    smallest: dict[str, str] = {}
    shown: dict[str, list] = {}  # a figure's items per part: (case, got, expected)
    for key, parts in groups(spec).items():
        lead = parts[0]
        fn = spec.function(lead.function)
        cases = grader.cases(key)
        state = defined.get(fn.name, "missing")
        if state != "ok":
            text = f"`{fn.name}` is {'not defined' if state == 'missing' else 'not a function'} in the submission"
            for p in parts:
                judged[p.name] = [(case, Judged(False, "missing_function", text)) for case in cases]
            continue
        calls, not_run = _run_group(grader, sub, parts, cases, deadline=deadline, budget=budget)
        rows = judge_group(grader, parts, cases, calls, not_run)
        judged.update(rows)
        shrink_cache: dict[str, CallResult] = {}  # the parts of a group shrink with the same calls
        group = group_part(lead, key)
        for p in parts:  # after a timeout nothing is shrunk: a smaller case may hang as long
            smallest[p.name] = "" if not_run.status == "timeout" else shrink.smallest_failing(
                grader, p, group, sub, rows[p.name], shrink_cache, deadline)
            if p.figure is not None and grader.figures_dir is not None:
                shown[p.name] = [(case, calls[i].outputs, grader.expected(lead, case))
                                 for i, case in enumerate(cases) if i in calls and calls[i].status == "ok"]
    counted = score.counted(spec, judged)
    for parts in groups(spec).values():
        for p in parts:
            report.parts.append(part_result(spec, p, counted[p.name], public=grader.public,
                                            smallest=smallest.get(p.name, "")))
    if shown:
        write_figures(report, {name: spec.part(name).figure(items) for name, items in shown.items() if items},
                      grader.figures_dir)


def _run_group(grader: Grader, sub: Submission, parts: list[Part], cases: list[Case], *, deadline: float,
               budget: float) -> tuple[dict[int, CallResult], CallResult]:
    """The group's calls, one pipelined run over its cases until ``deadline``: ``(the call of
    each case index run, what every case not run gets)``. After a timeout, or MAX_CRASHES
    crashes, the rest are not run, so a submission that hangs or dies everywhere costs seconds;
    ``not_run`` is then `timeout` (nothing is shrunk) or `crashed`. Answers may come batched
    (one wake-up per frame) unless a part judges each call's CPU time."""
    spec = grader.spec
    fn = spec.function(parts[0].function)
    calls: dict[int, CallResult] = {}
    left = deadline - time.monotonic()
    if left > 0:
        running = sub.calls(fn.name, [grader.request(case) for case in cases], fn.returns.to_plain(),
                            min(spec.time_limit, left), max_crashes=MAX_CRASHES,
                            batched=not any(p.budget for p in parts))
        for index, call in running:
            calls[index] = call
            if time.monotonic() > deadline:
                break  # the worker is killed with the submission: no further call is made
        running.close()
    over_budget = time.monotonic() > deadline
    timed_out = over_budget or any(call.status == "timeout" for call in calls.values())
    not_run = (CallResult("timeout", detail=f"the submission's time budget ({budget:g} s of wall clock) ran out "
                                            f"before this case; not run") if over_budget else
               CallResult("timeout", detail="an earlier case of this part timed out; not run") if timed_out else
               CallResult("crashed", detail=f"an earlier case crashed the worker {MAX_CRASHES} times; not run"))
    return calls, not_run
