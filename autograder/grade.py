"""The grading pipeline: load -> cases -> oracles -> run -> compare -> diagnose -> score.

``grade()`` is the API behind ``bpgrade grade`` and ``bpgrade check``. Only this process
decides scores; the worker only ever returns plain arrays.
"""
from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import cases as casegen
from . import catalogue, diagnose, project, shrink, trivial
from .cases import Case
from .isolation import Limits
from .judge import Judged, judge_group
from .load import SubmissionError, load_source
from .oracle import Oracles
from .report import CaseResult, PartResult, Report
from .run import CallResult, Request, Sandbox, Submission
from .scan import scan_imports
from .score import part_score
from .spec import Assignment, Cases, Part

MODES = ("check", "grade")
MAX_CRASHES = 2  #: after this many worker crashes in a part, its remaining cases are not run
SUBMISSION_TIMEOUT = 60.0  #: wall-clock seconds one submission may take, loading included; then `timeout`


# ------------------------------------------------------------------ the pipeline

def source_sha256(source: str) -> str:
    """The content hash fresh hidden cases derive from: sha256 of the source text graded (what
    :func:`autograder.load.load_source` gives) without its checker lines, as the Gradescope plugin
    grades it, so a batch regrade of a Gradescope submission gets the same cases. A notebook and a
    ``.py`` of the same code are different texts (the notebook's has cell markers) and get
    different cases; the same file always gets the same ones."""
    from .notebook import without_checker

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
                 base: Path | None = None, figures_dir: Path | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.spec = project.load_assignment(assignment, base)
        self._key = project.assignment_key(assignment, base) if mode == "grade" else None
        self.fresh = mode == "grade" and not shared and seed is None
        self.seeds: tuple[int, ...] | None = (
            (project.PUBLIC_SEED,) if mode == "check" else None if self.fresh else project.shared_case_seed(self._key, seed))
        #: whether the zygote is handed every case's inputs up front: only public ones. Hidden ones
        #: (shared or fresh) reach a worker only with the calls that use them, after the student's
        #: module body has run: a file cannot read them at load time (print them, or precompute
        #: answers from them)
        self.preload = mode == "check"
        reference = project.load_reference(self.spec, base) if mode == "grade" else None
        self.oracles = Oracles(self.spec, torch_oracle=project.load_torch_oracle(self.spec), reference=reference)
        self.figures_dir = figures_dir
        self.assignment_file = str(self.spec.folder / "assignment.py")
        self._tols = {key: {out: tol for p in parts for out, _, tol in self.spec.graded(p)}
                      for key, parts in _groups(self.spec).items()}
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
                parts = _groups(self.spec)[key]
                self._cases[key] = casegen.generate(_group_part(parts[0], key), self.seeds,
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
        for key, parts in _groups(self.spec).items():
            for case in self.cases(key):
                if case.probe is None and not casegen.is_edge(parts[0], case):
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
            self._all_requests = [self.request(case) for key in _groups(self.spec) for case in self.cases(key)]
        return self._all_requests

    def shrink_candidates(self, group: Part, case: Case) -> list[Case]:
        """The smaller versions of ``case`` (see :func:`autograder.shrink.candidates`), built once
        per case and shared by every submission that shrinks it."""
        with self._lock:
            if case.id not in self._shrunk:
                self._shrunk[case.id] = list(shrink.candidates(group, case))
            return self._shrunk[case.id]

    def prepare(self) -> "Grader":
        """Generate every case and compute its expected outputs now (oracles run once). With
        fresh cases there is nothing to share: one set of cases is computed and dropped, so torch
        and the reference are warm (before a pool forks) and a disagreement of the oracles stops
        grading before any submission is graded."""
        if self.fresh:
            self.with_seeds(project.shared_case_seed(self._key)).prepare()
            return self
        for key, parts in _groups(self.spec).items():
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
            return _unloadable(self.new_report(), self.spec, "load_error", str(exc))
        return self.grade_source(source, sandbox, student=student)

    def grade_source(self, source: str, sandbox: Sandbox, *, student: str = "") -> Report:
        """Grade ``source``; ``student`` (an id, "" if unknown) keys its fresh hidden cases."""
        if self.fresh:
            return self.for_submission(source, student).grade_source(source, sandbox)
        spec, report = self.spec, self.new_report()
        forbidden, unscannable = scan_imports(source)
        if unscannable:
            return _unloadable(report, spec, "load_error",
                               f"{unscannable}; the submission was not run (is it Python source?)")
        if forbidden:
            report.notes.append(f"forbidden import(s): {', '.join(forbidden)}")
            return _unloadable(report, spec, "forbidden_import",
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
                return _unloadable(report, spec, *diagnose.load_failure(load))
            if load.cells:
                stopped = [diagnose.cell_failure(c, sub.cells) for c in load.cells]
                if any(diagnose.blocked_import(c.error) for c in load.cells):
                    return _unloadable(report, spec, "forbidden_import", "\n".join(stopped))
                if not any(state == "ok" for state in load.defined.values()):
                    return _unloadable(report, spec, "load_error", "\n".join(stopped))
                report.load_warnings += stopped
            _grade_parts(report, self, sub, deadline=deadline, budget=budget)
        return report


def grade(submission: str | Path | None = None, *, assignment: str, mode: str = "grade",
          student: str = "", shared: bool = False, seed: int | None = None, source: str | None = None,
          sandbox: Sandbox | None = None, base: Path | None = None, figures_dir: Path | None = None,
          limits: Limits | None = None, submission_timeout: float = SUBMISSION_TIMEOUT) -> Report:
    """Grade one submission (a path, or ``source`` text). ``mode="check"`` is the student's
    local check: public cases, torch oracle only, no hidden material needed. In grading mode the
    hidden cases are fresh for (``student``, the source) unless ``shared`` or a ``seed`` (a
    shared set) is given (see :class:`Grader`). ``submission_timeout``: wall-clock seconds for
    the whole submission (then `timeout`)."""
    own_sandbox = sandbox is None
    if own_sandbox:  # start the zygote before any reference or hidden case is loaded
        sandbox = Sandbox(limits=limits or Limits())
    try:
        grader = Grader(assignment, mode=mode, seed=seed, shared=shared, base=base, figures_dir=figures_dir)
        grader.submission_timeout = submission_timeout
        if source is None:
            return grader.grade_path(submission, sandbox, student=student)
        return grader.grade_source(source, sandbox, student=student)
    finally:
        if own_sandbox:
            sandbox.close()


def _unloadable(report: Report, spec: Assignment, code: str, message: str) -> Report:
    report.load_error = message
    for part in spec.parts:
        report.parts.append(PartResult(
            name=part.name, function=part.function, max_score=float(part.points), score=0.0,
            passed=0, total=0, diagnoses=[code], tolerance=part.tol.describe(),
            feedback=f"{catalogue.sentence(code)} {message}".strip(),
        ))
    return report


def _groups(spec: Assignment) -> dict[str, list[Part]]:
    groups: dict[str, list[Part]] = {}
    for part in spec.parts:
        groups.setdefault(part.cases_key, []).append(part)
    return groups


def _group_part(lead: Part, key: str) -> Part:
    """A stand-in part named after the group, so cases (and their ids) are keyed by the group."""
    return Part(key, lead.points, lead.function, lead.cases)


def _grade_parts(report: Report, grader: Grader, sub: Submission, *, deadline: float = math.inf,
                 budget: float = math.inf) -> None:
    """Grade every part, group by group, within the submission's wall-clock ``deadline``
    (``time.monotonic()``): no call is given longer than what is left, the calls stop as soon
    as it passes, and every case not run by then is `timeout`."""
    spec, public, figures_dir = grader.spec, grader.public, grader.figures_dir
    defined = sub.load_result.defined
    by_part: dict[str, list[tuple[Case, Judged]]] = {}  # every part's cases, judged
    smallest: dict[str, str] = {}
    figures: dict[str, list[str]] = {}
    for key, parts in _groups(spec).items():
        lead = parts[0]
        fn = spec.function(lead.function)
        group_part = _group_part(lead, key)
        cases = grader.cases(key)
        state = defined.get(fn.name, "missing")
        if state != "ok":
            text = f"`{fn.name}` is {'not defined' if state == 'missing' else 'not a function'} in the submission"
            for p in parts:
                by_part[p.name] = [(case, Judged(False, "missing_function", text)) for case in cases]
            continue
        # one pipelined run over the group's cases; after a timeout (or repeated crashes) the
        # rest are not run, so a submission that hangs or dies everywhere costs seconds
        # answers may come batched (one wake-up per frame) unless a part judges each call's CPU time
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
        shrink_cache: dict[str, CallResult] = {}
        results = judge_group(grader, parts, cases, calls, not_run)
        for p in parts:
            by_part[p.name] = results[p.name]
            smallest[p.name] = "" if timed_out else shrink.smallest_failing(grader, p, group_part, sub, results[p.name],
                                                                            shrink_cache, deadline)
            shown = [(case, calls[i].outputs, grader.expected(lead, case))  # what the figure draws
                     for i, case in enumerate(cases) if i in calls and calls[i].status == "ok"] \
                if p.figure is not None and figures_dir is not None else []
            if shown:
                png = p.figure(shown)
                if png:
                    figures_dir.mkdir(parents=True, exist_ok=True)
                    path = figures_dir / f"{spec.id}.{p.name}.png"
                    path.write_bytes(png)
                    figures[p.name] = [str(path)]
    by_part = _beside_a_values_pass(spec, by_part)
    for parts in _groups(spec).values():
        for p in parts:
            report.parts.append(_part_result(spec, p, by_part[p.name], public=public, smallest=smallest.get(p.name, "")))
            report.parts[-1].figures.extend(figures.get(p.name, []))


def _edges_beside_a_general_pass(spec: Assignment, part: Part,
                                 judged: list[tuple[Case, Judged]]) -> list[tuple[Case, Judged]]:
    """Edge cases count only when a random case of the part passes too. At N = 1 or one class a
    missing 1/N, a mean over the wrong axis or a constant softmax give the right answer, so an
    answer right only there has shown nothing; a right answer that breaks at N = 1 still loses
    just the edge."""
    general = [j.ok for c, j in judged if not casegen.is_edge(part, c)]
    if not general or any(general):  # a part of edges alone is judged on them
        return judged
    out = spec.graded_outputs(part)[0]
    return [(c, Judged(False, "edge_only", catalogue.sentence("edge_only", out), "", j.rel_error, j.verdicts))
            if j.ok and casegen.is_edge(part, c) else (c, j) for c, j in judged]


def _needs_a_values_pass(part: Part) -> bool:
    """Probe parts and property parts: their cases cannot be drawn again where a trivial answer
    passes them (zeros is the loss of saturated right predictions, uniform rows sum to 1)."""
    return not part.values or not isinstance(part.cases, Cases)


def _beside_a_values_pass(spec: Assignment, judged: dict[str, list[tuple[Case, Judged]]]
                          ) -> dict[str, list[tuple[Case, Judged]]]:
    """A probe or property part counts only beside a passing random case of a values part of the
    same function (:class:`autograder.spec.Part` requires one to exist). Random cases on which a
    trivial answer is right are drawn again, probes and properties cannot be, so an answer that
    passes only them has shown nothing; a right function that fails a probe still loses just
    the probe. Edges are judged within their part (:func:`_edges_beside_a_general_pass`)."""
    passing = {p.function for p in spec.parts if not _needs_a_values_pass(p)
               and any(j.ok for c, j in judged[p.name] if not casegen.is_edge(p, c))}
    out = {}
    for p in spec.parts:
        rows = judged[p.name]
        if _needs_a_values_pass(p) and p.function not in passing:
            text = catalogue.sentence("no_values_pass", spec.graded_outputs(p)[0])
            rows = [(c, Judged(False, "no_values_pass", text, "", j.rel_error, j.verdicts)) if j.ok else (c, j)
                    for c, j in rows]
        out[p.name] = rows
    return out


def _shown_error(rel_error: float | None, public: bool) -> float | None:
    """A case's relative error as reports carry it: on hidden cases two significant digits (a
    submission that steers its errors could otherwise spell out what it read of the inputs)."""
    if rel_error is None or not math.isfinite(rel_error):
        return None
    return rel_error if public else float(f"{rel_error:.2g}")


def _part_result(spec: Assignment, part: Part, judged: list[tuple[Case, Judged]], *, public: bool,
                 smallest: str = "") -> PartResult:
    judged = _edges_beside_a_general_pass(spec, part, judged)
    passed = sum(j.ok for _, j in judged)
    total = len(judged)
    score = part_score(float(part.points), passed, total, all_or_nothing=part.all_or_nothing)
    codes = Counter(j.code for _, j in judged if not j.ok and j.code)
    if codes["too_slow"]:  # an answer computed the expensive way is not the asked-for gradient anywhere
        score = 0.0
    case_results = [
        CaseResult(id=c.id, passed=j.ok, code=j.code, message=j.message, detail=j.detail,
                   rel_error=_shown_error(j.rel_error, public),
                   shape=c.shape_text)
        for c, j in judged
    ]
    tol_text = "; ".join(
        f"{name}: {part.tol_for(name).describe()}" for name in spec.graded_outputs(part)
    )
    notes = list(dict.fromkeys(v.note for _, j in judged for v in j.verdicts if v.note))  # in order, once each
    diagnoses = [c for c, _ in codes.most_common()]
    hints = (part.hints.get(c) or catalogue.hint(c) for c in diagnoses)  # the part's own first
    return PartResult(
        name=part.name, function=part.function, max_score=float(part.points), score=score,
        passed=passed, total=total, diagnoses=diagnoses, tolerance=tol_text, cases=case_results,
        public=public, smallest_failing=smallest, notes=notes, hint=next((h for h in hints if h), ""),
    )
