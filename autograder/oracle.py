"""Expected outputs: the hidden numpy reference and the torch.autograd oracle (float64).

When both are present (full grading) they run on every case and must agree within the part's
tolerance; if they do not, that is a bug in the grader, and grading stops loudly rather than
score anyone against a wrong answer. Local checks have only the torch oracle.
"""
from __future__ import annotations

import copy
import time
from types import ModuleType
from typing import Mapping

import numpy as np

from .cases import Case
from .compare import rel_error, within
from .sandbox.values import split_return
from .spec import Assignment, Part, Tol


class OracleDisagreement(Exception):
    """The reference and torch.autograd disagree: a grader bug, never the student's fault."""


def call_model(module: ModuleType, assignment: Assignment, function: str, inputs: dict) -> dict[str, np.ndarray]:
    """Run one trusted implementation on a (copied) case and split its return into named arrays."""
    fn = assignment.function(function)
    kwargs = copy.deepcopy(inputs)
    if fn.prepare:
        kwargs = fn.prepare(kwargs)
    value = getattr(module, function)(*[kwargs[a] for a in fn.args])
    arrays, _types, problems = split_return(value, fn.returns.kind, fn.returns.names)
    if problems:
        raise OracleDisagreement(f"{module.__name__}.{function} returned a malformed value: {problems}")
    return arrays


class Oracles:
    def __init__(self, assignment: Assignment, *, torch_oracle: ModuleType, reference: ModuleType | None):
        self.assignment = assignment
        self.torch = torch_oracle
        self.reference = reference
        self._cache: dict[tuple, dict[str, np.ndarray]] = {}
        self._seconds: dict[tuple, float] = {}

    @property
    def names(self) -> list[str]:
        return ["reference", "torch.autograd"] if self.reference else ["torch.autograd"]

    def expected(self, part: Part, case: Case, tols: Mapping[str, Tol] | None = None) -> dict[str, np.ndarray]:
        """Expected outputs of ``part``'s function on ``case``. The oracles must agree on each
        output within ``tols[output]`` (the tolerance of the part grading it), else the part's."""
        key = (part.function, case.id, case.seed)
        if key not in self._cache:
            self._cache[key] = self._compute(part, case, key, tols or {})
        return self._cache[key]

    def knows(self, part: Part, case: Case) -> bool:
        """Whether the expected outputs of ``case`` can be had (recorded ones may not hold every case)."""
        return True

    def seconds(self, part: Part, case: Case) -> float | None:
        """CPU time of the yardstick implementation on this case (the numpy reference when
        grading, torch in local checks): the base of a part's time budget."""
        return self._seconds.get((part.function, case.id, case.seed))

    def _compute(self, part: Part, case: Case, key: tuple, tols: Mapping[str, Tol]) -> dict[str, np.ndarray]:
        start = time.thread_time()  # CPU time, compared with the worker's CPU time per call
        by_torch = call_model(self.torch, self.assignment, part.function, case.inputs)
        if self.reference is None:
            self._seconds[key] = time.thread_time() - start
            return by_torch
        start = time.thread_time()
        by_ref = call_model(self.reference, self.assignment, part.function, case.inputs)
        self._seconds[key] = time.thread_time() - start
        for name, ref in by_ref.items():
            tol = tols.get(name, part.tol_for(name))
            other = by_torch.get(name)
            if other is None or other.shape != ref.shape or not (
                np.array_equal(np.isfinite(ref), np.isfinite(other)) and
                within(np.nan_to_num(other), np.nan_to_num(ref), tol)
            ):
                err = rel_error(other, ref, tol) if other is not None and other.shape == ref.shape else "n/a"
                raise OracleDisagreement(
                    f"grader error: reference and torch.autograd disagree on {case.id} output {name!r} "
                    f"(relative error {err}, tolerance {tol.rtol:g}); fix the assignment before grading"
                )
        return by_ref
