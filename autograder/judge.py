"""Judge one case of one part, in layers, stopping at the first that fails:

1. call status: the call returned (else timeout, crash, memory, an exception: see
   :func:`autograder.diagnose.call_failure`);
2. outputs: each graded output is compared (present -> type -> shape -> dtype -> finite ->
   values: :func:`autograder.compare.compare`);
3. budget: on the case a part's time budget is judged on, the call's CPU time;
4. values: a failed comparison, named by :func:`autograder.diagnose.most_specific`;
5. floating-point warnings the part forbids;
6. input mutation;
7. the part's own properties (``checks``).

Only plain arrays from the worker are looked at, in this process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import diagnose
from .catalogue import sentence
from .compare import Verdict, compare
from .spec import BUDGET_FLOOR, Assignment, Part

if TYPE_CHECKING:
    from .cases import Case
    from .grade import Grader
    from .sandbox.host import CallResult


@dataclass
class Judged:
    ok: bool
    code: str | None
    message: str
    detail: str = ""
    rel_error: float | None = None
    verdicts: list[Verdict] = field(default_factory=list)  #: one per graded output (their notes are shown)


def judge(assignment: Assignment, part: Part, case: Case, call: CallResult,
          expected: dict[str, np.ndarray], *, public: bool, yardstick: float | None = None) -> Judged:
    """The verdict on one case of one part. ``yardstick``: the reference's CPU seconds on this
    case, given only for the case the part's time budget is judged on (:func:`budget_case`).
    Huge or infinite student values must not make the grader itself warn."""
    with np.errstate(all="ignore"):
        return _judge(assignment, part, case, call, expected, public=public, yardstick=yardstick)


def judge_group(grader: Grader, parts: list[Part], cases: list[Case], calls: dict[int, CallResult],
                not_run: CallResult) -> dict[str, list[tuple[Case, Judged]]]:
    """Every case of a call group (its ``parts`` grade outputs of the same calls), judged for
    each part: ``calls`` by case index, ``not_run`` for a case that has none. A time budget is
    judged on the widest case (:func:`budget_case`), when it ran (not after an earlier hang)."""
    lead = parts[0]
    rows: dict[str, list[tuple[Case, Judged]]] = {p.name: [] for p in parts}
    timed = budget_case(cases) if any(p.budget for p in parts) else None
    with np.errstate(all="ignore"):  # what judge() does per call, once for the group
        for index, case in enumerate(cases):
            expected = grader.expected(lead, case)
            yardstick = grader.oracles.seconds(lead, case) if index == timed and index in calls else None
            call = calls.get(index, not_run)
            for p in parts:
                rows[p.name].append((case, _judge(grader.spec, p, case, call, expected, public=grader.public,
                                                  yardstick=yardstick)))
    return rows


def _judge(assignment: Assignment, part: Part, case: Case, call: CallResult,
           expected: dict[str, np.ndarray], *, public: bool, yardstick: float | None) -> Judged:
    failed = diagnose.call_failure(call, public=public, budget=part.budget, yardstick=yardstick)
    if failed is not None:
        return Judged(False, *failed)
    verdicts = _compare_outputs(assignment, part, call, expected, public=public)
    bad = [v for v in verdicts if not v.ok]
    worst = max((v.rel_error for v in verdicts if v.rel_error is not None), default=None)
    # The budget is judged before the values: an answer computed the expensive way (finite
    # differences) is also a little inaccurate on the wide case, and must still cost the part.
    if part.budget and yardstick is not None and call.cpu > max(BUDGET_FLOOR, part.budget * yardstick):
        detail = f"the reference took {yardstick * 1000:.2f} ms on this case"
        if bad:
            detail += f"; the values also differ: {bad[0].message}"
        return Judged(False, "too_slow", sentence("too_slow", seconds=f"{call.cpu:.2f} s of CPU", budget=f"{part.budget:g}"),
                      detail, worst, verdicts)
    if bad:
        return _wrong_values(bad[0], part, case, call, expected, public=public, verdicts=verdicts)
    code, message, detail = _after_the_values(assignment, part, case, call)
    return Judged(code is None, code, message, detail, worst, verdicts)


def _compare_outputs(assignment: Assignment, part: Part, call: CallResult, expected: dict[str, np.ndarray],
                     *, public: bool) -> list[Verdict]:
    verdicts = []
    for name, scalar, tol in assignment.graded(part):
        problem = call.problems.get(name) if call.problems else None
        verdict = compare(name, expected[name], call.outputs.get(name), scalar=scalar, tol=tol,
                          type_info=call.types.get(name), problem=problem, values=part.values)
        if problem is not None and not public:  # the worker's text may quote student data (dict keys)
            returns = assignment.function(part.function).returns.describe()
            verdict.message = f"`{name}` is missing or not readable as {returns} (run `bpgrade check` for details)"
        verdicts.append(verdict)
    return verdicts


def _wrong_values(v: Verdict, part: Part, case: Case, call: CallResult, expected: dict[str, np.ndarray],
                  *, public: bool, verdicts: list[Verdict]) -> Judged:
    code, fields = diagnose.most_specific(v, part, case, call, expected)
    detail = v.message
    if public and v.got_value is not None:
        detail += f" (got {v.got_value:.6g}, expected {v.expected_value:.6g})"
    return Judged(False, code, sentence(code, v.output, **fields), detail, v.rel_error, verdicts)


def _after_the_values(assignment: Assignment, part: Part, case: Case,
                      call: CallResult) -> tuple[str | None, str, str]:
    """Layers 5 to 7 for a call whose values are right: ``(code, message, detail)``, or
    ``(None, "", "")`` when every one passes."""
    warned = [w for w in part.forbid if w in call.warnings] if call.warnings else None
    if warned:
        code = "overflow" if "overflow" in warned else "forbidden_warning"
        return (code, sentence(code, assignment.graded_outputs(part)[0]),
                f"numpy reported a floating-point {', '.join(warned)} warning during the call")
    if call.mutated:
        names = ", ".join(f"`{n}`" for n in call.mutated)
        return "input_mutated", sentence("input_mutated", names=names), ""
    for check in part.checks:
        problem = check(case.inputs, dict(call.outputs))
        if problem:
            return "property", problem, ""
    return None, "", ""


def budget_case(cases: list[Case]) -> int:
    """The index of the case with the most input entries: the one a part's time budget is
    judged on. Only there does the expensive way cost far more than the floor; on a tiny case a
    one-off cost (a lazy import on the first call) would be all the floor measured."""
    return max(range(len(cases)), key=lambda i: sum(np.size(v) for v in cases[i].inputs.values()))
