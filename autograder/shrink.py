"""The smallest failing case: a failure shrunk while it still fails the same way.

Hypothesis' order, kept reproducible: each letter of a case's sizes towards its low end, keeping
every smaller case that still fails with the same code, and the smallest one found is shown.
Only wrong answers shrink (:data:`autograder.catalogue.MISTAKE`): a hang, a crash, a missing
function or a budget judged on one case says nothing about the inputs.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Iterator

from .catalogue import MISTAKE, codes
from .cases import Case, build
from .judge import Judged, judge
from .spec import Cases, Part

if TYPE_CHECKING:
    from .grade import Grader
    from .sandbox.host import CallResult, Submission

SHRINK_CALLS = 32  #: extra student calls a group of parts may spend looking for smallest failing cases
SHRINK_WAVE = 2  #: shrink candidates sent to the worker at once (a wider wave wastes calls after a hit)
_SHRUNK = codes(MISTAKE)


def candidates(part: Part, case: Case) -> Iterator[Case]:
    """Smaller versions of ``case``, most aggressive first (each letter to its low, then halved,
    then minus one), in the spirit of Hypothesis' shrink order. Probes do not shrink."""
    spec = part.cases
    if not isinstance(spec, Cases) or not spec.shrink or case.dims is None:
        return
    for letter, (lo, _hi) in spec.dims.items():
        size = case.dims[letter]
        for smaller in dict.fromkeys([lo, max(lo, size // 2), size - 1]):
            if lo <= smaller < size:
                yield build(part, case.seed, case.index, {**case.dims, letter: smaller}, draw=case.draw)


def smallest_failing(grader: Grader, part: Part, group_part: Part, sub: Submission,
                     judged: list[tuple[Case, Judged]], cache: dict[str, CallResult],
                     deadline: float = math.inf) -> str:
    """Shrink the smallest failing case while it still fails the same way, and describe the
    smallest one found ("" when no failure shrinks).

    Starting from the smallest failure (edge cases are often already minimal) and trying a
    step's candidates a few at a time (SHRINK_WAVE, pipelined), stopping at the first that
    still fails, keeps the extra student calls few: for a wrong gradient they are most of
    what grading a buggy submission costs. ``cache`` shares the calls between the parts of a
    group (they grade outputs of the same calls); SHRINK_CALLS bounds them per group."""
    failing = [(c, j) for c, j in judged if not j.ok and j.code in _SHRUNK and c.dims]
    if not failing:
        return ""
    spec, public = grader.spec, grader.public
    fn = spec.function(part.function)
    best = min(failing, key=lambda cj: (sum(cj[0].dims.values()), cj[0].index))
    while True:
        found = None
        smaller = grader.shrink_candidates(group_part, best[0])
        for start in range(0, len(smaller), SHRINK_WAVE):
            left = deadline - time.monotonic()
            if left <= 0:  # the submission's time is up: show the smallest found so far
                break
            wave = smaller[start:start + SHRINK_WAVE]
            todo = [c for c in wave if c.id not in cache]
            todo = todo[:max(0, SHRINK_CALLS - len(cache))]
            if todo:
                for index, call in sub.calls(fn.name, [grader.request(c) for c in todo], fn.returns.to_plain(),
                                             min(spec.time_limit, left), max_crashes=1, batched=True):  # no budget judged
                    cache[todo[index].id] = call
            for candidate in wave:
                call = cache.get(candidate.id)
                if call is None:
                    continue
                j = judge(spec, part, candidate, call, grader.expected(part, candidate), public=public)
                if not j.ok and j.code == best[1].code:
                    found = (candidate, j)
                    break
            if found is not None or len(cache) >= SHRINK_CALLS:
                break
        if found is None:
            break
        best = found
    case, j = best
    text = f"{case.shape_text} ({case.id})"
    return text + (f": {j.detail}" if public and j.detail else "")
