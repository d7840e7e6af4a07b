"""Partial credit: points x fraction of passing cases, clamped to [0, points], and what counts.

What counts, beside the fraction (each rule says why in its docstring):

- edge cases count only beside a passing random case of the part (:func:`edges_beside_a_general_pass`);
- probe and property parts count only beside a passing random case of a values part of the same
  function (:func:`beside_a_values_pass`);
- a part with a ``too_slow`` case scores 0 (:func:`points`);
- ``all_or_nothing`` parts score their points or 0.

A part that scores below its points is reported as failed (gradescope-utils' rule), so partial
credit never hides a problem.
"""
from __future__ import annotations

from .cases import Case, is_edge
from .catalogue import sentence
from .judge import Judged
from .spec import Assignment, Cases, Part

Rows = list[tuple[Case, Judged]]  #: a part's cases, each with its verdict


def part_score(points: float, passed: int, total: int, *, all_or_nothing: bool = False) -> float:
    if total <= 0:
        return 0.0
    fraction = min(max(passed / total, 0.0), 1.0)
    if all_or_nothing:
        fraction = float(fraction == 1.0)
    return round(points * fraction, 4)


def points(part: Part, judged: Rows) -> float:
    """The part's score on its counted cases (:func:`counted`). An answer computed the expensive
    way (``too_slow`` on the budget's case) is not the asked-for gradient anywhere: 0."""
    if any(j.code == "too_slow" for _, j in judged if not j.ok):
        return 0.0
    return part_score(float(part.points), sum(j.ok for _, j in judged), len(judged),
                      all_or_nothing=part.all_or_nothing)


def status(score: float, max_score: float) -> str:
    return "passed" if score >= max_score else "failed"


def counted(assignment: Assignment, judged: dict[str, Rows]) -> dict[str, Rows]:
    """Every part's cases as they count: a passing probe or property case without a values pass
    of its function, or a passing edge case without a general pass of its part, is failed."""
    beside = beside_a_values_pass(assignment, judged)
    return {p.name: edges_beside_a_general_pass(assignment, p, beside[p.name]) for p in assignment.parts}


def edges_beside_a_general_pass(assignment: Assignment, part: Part, judged: Rows) -> Rows:
    """Edge cases count only when a random case of the part passes too. At N = 1 or one class a
    missing 1/N, a mean over the wrong axis or a constant softmax give the right answer, so an
    answer right only there has shown nothing; a right answer that breaks at N = 1 still loses
    just the edge."""
    general = [j.ok for c, j in judged if not is_edge(part, c)]
    if not general or any(general):  # a part of edges alone is judged on them
        return judged
    out = assignment.graded_outputs(part)[0]
    return [(c, Judged(False, "edge_only", sentence("edge_only", out), "", j.rel_error, j.verdicts))
            if j.ok and is_edge(part, c) else (c, j) for c, j in judged]


def _needs_a_values_pass(part: Part) -> bool:
    """Probe parts and property parts: their cases cannot be drawn again where a trivial answer
    passes them (zeros is the loss of saturated right predictions, uniform rows sum to 1)."""
    return not part.values or not isinstance(part.cases, Cases)


def beside_a_values_pass(assignment: Assignment, judged: dict[str, Rows]) -> dict[str, Rows]:
    """A probe or property part counts only beside a passing random case of a values part of the
    same function (:class:`autograder.spec.Part` requires one to exist). Random cases on which a
    trivial answer is right are drawn again, probes and properties cannot be, so an answer that
    passes only them has shown nothing; a right function that fails a probe still loses just
    the probe. Edges are judged within their part (:func:`edges_beside_a_general_pass`)."""
    passing = {p.function for p in assignment.parts if not _needs_a_values_pass(p)
               and any(j.ok for c, j in judged[p.name] if not is_edge(p, c))}
    out = {}
    for p in assignment.parts:
        rows = judged[p.name]
        if _needs_a_values_pass(p) and p.function not in passing:
            text = sentence("no_values_pass", assignment.graded_outputs(p)[0])
            rows = [(c, Judged(False, "no_values_pass", text, "", j.rel_error, j.verdicts)) if j.ok else (c, j)
                    for c, j in rows]
        out[p.name] = rows
    return out
