"""Seeded case generation and readable case ids, per call group.

Every case is a pure function of ``(seed, part name, index, draw)`` (and, when shrunk, of the
smaller sizes: :mod:`autograder.shrink`), so a regrade reproduces exactly the same inputs. ``draw`` counts the redraws of
a random case that could not tell a modelled mistake from the right answer (see
:func:`generate`); it is 0 for almost every case. The seed is a tuple of integers:
``(public_seed,)`` for local checks; for grading, four 32-bit words derived from the
assignment's hidden key (see :mod:`autograder.project`: fresh per submission, or shared).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable

import numpy as np

from .spec import Assignment, Cases, Part, Probes

Seed = tuple[int, ...]
REDRAWS = 16  #: draws tried for a random case before the first one is kept, telling or not


@dataclass(frozen=True)
class Case:
    part: str
    index: int
    seed: Seed
    inputs: dict[str, Any] = field(repr=False)
    dims: dict[str, int] | None = None
    probe: str | None = None
    draw: int = 0

    @cached_property  # ids key every cache and report line: build the string once
    def id(self) -> str:
        """Unique per inputs: a redrawn case (``draw`` > 0) may have its first draw's sizes."""
        if self.probe is not None:
            return f"{self.part}[probe={self.probe}]"
        sizes = ",".join(f"{k}={v}" for k, v in self.dims.items())
        return f"{self.part}[{sizes},case={self.index}{f',draw={self.draw}' if self.draw else ''}]"

    @cached_property
    def shape_text(self) -> str:
        if self.probe is not None:
            return f"probe {self.probe}"
        return ", ".join(f"{k}={v}" for k, v in self.dims.items())


def groups(assignment: Assignment) -> dict[str, list[Part]]:
    """The assignment's parts by call group (:attr:`autograder.spec.Part.cases_key`): the parts
    of a group grade outputs of the same calls, on the same cases. The first is its lead."""
    found: dict[str, list[Part]] = {}
    for part in assignment.parts:
        found.setdefault(part.cases_key, []).append(part)
    return found


def group_part(lead: Part, key: str) -> Part:
    """A stand-in part named after the group, so cases (and their ids) are keyed by the group."""
    return Part(key, lead.points, lead.function, lead.cases)


def _rng(seed: Seed, part: str, index: int, stream: int = 0) -> np.random.Generator:
    """Stream 2d draws the sizes of draw d, stream 2d + 1 its inputs at given sizes."""
    return np.random.default_rng([*seed, zlib.crc32(part.encode()), index, stream])


def _draw_dims(rng: np.random.Generator, spec: Cases, pins: dict[str, int]) -> dict[str, int]:
    """Sizes for every letter: pinned ones as given, the rest random and (if possible) distinct.
    A drawn letter avoids the sizes its edges pin ({"N": 1}): those belong to the edge cases."""
    choices = {k: _general_sizes(spec, k) for k in spec.dims if k not in pins}
    for _ in range(64):
        dims = {k: pins[k] if k in pins else choices[k][int(rng.integers(len(choices[k])))] for k in spec.dims}
        free = [v for k, v in dims.items() if k not in pins]
        if not spec.distinct or len(set(free)) == len(free):
            return dims
    return dims


def _general_sizes(spec: Cases, letter: str) -> list[int]:
    """The sizes a random case may draw for ``letter``: its range without the sizes an edge pins
    on its own (N = 1 where ``{"N": 1}`` is an edge), unless that would leave nothing. At those
    degenerate sizes common mistakes (a missing 1/N, a sum over the wrong axis) give the right
    answer, so a random case there would reward them."""
    lo, hi = spec.dims[letter]
    degenerate = {pin[letter] for pin in spec.edges if set(pin) == {letter}}
    return [n for n in range(lo, hi + 1) if n not in degenerate] or list(range(lo, hi + 1))


def is_edge(part: Part, case: Case) -> bool:
    """Whether ``case`` is one of the part's pinned edge cases (random draws come first)."""
    return isinstance(part.cases, Cases) and case.probe is None and case.index >= part.cases.random


def generate(part: Part, seed: Seed, *, telling: Callable[[Case], bool] | None = None) -> list[Case]:
    """All cases of one part for one seed: random draws first, then edges, or the named probes.

    ``telling(case)``: whether the case can tell every modelled mistake from the right answer
    (the grader asks its oracles; see :meth:`autograder.grade.Grader.cases`). A random case that
    cannot is drawn again, sizes and inputs, up to REDRAWS times; if no draw can, the first is
    kept. np.mean in place of the MSE's 1/(2N) sum is 2/K times too large, so right at K = 2:
    a random case there would give that mistake the point. Edge cases are kept as pinned: they
    are degenerate on purpose and count only beside a passing random case."""
    spec = part.cases
    if isinstance(spec, Probes):
        return [
            Case(part.name, i, seed, _as_inputs(make(_rng(seed, part.name, i)), part), probe=name)
            for i, (name, make) in enumerate(spec.makers.items())
        ]
    pins_list: list[dict[str, int]] = [{}] * spec.random + [dict(p) for p in spec.edges]
    cases = []
    for i, pins in enumerate(pins_list):
        case = _drawn(part, seed, i, pins, 0)
        if telling is not None and i < spec.random and not telling(case):
            redrawn = (_drawn(part, seed, i, pins, draw) for draw in range(1, REDRAWS))
            case = next((c for c in redrawn if telling(c)), case)
        cases.append(case)
    return cases


def _drawn(part: Part, seed: Seed, index: int, pins: dict[str, int], draw: int) -> Case:
    """Draw number ``draw`` of case ``index``: its sizes, then its inputs."""
    dims = _draw_dims(_rng(seed, part.name, index, 2 * draw), part.cases, pins)
    return build(part, seed, index, dims, draw=draw)


def build(part: Part, seed: Seed, index: int, dims: dict[str, int], draw: int = 0) -> Case:
    """The case ``index`` (its ``draw``) of ``part`` at the given sizes (for generation and
    shrinking)."""
    rng = _rng(seed, part.name, index, stream=2 * draw + 1)
    return Case(part.name, index, seed, _as_inputs(part.cases.make(rng, **dims), part), dims=dict(dims), draw=draw)


def _as_inputs(inputs: dict, part: Part) -> dict:
    if not isinstance(inputs, dict):
        raise TypeError(f"case maker of part {part.name!r} must return a dict of inputs")
    return inputs


def with_inputs(case: Case, inputs: dict) -> Case:
    return replace(case, inputs=inputs)
