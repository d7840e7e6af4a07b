"""Trivial answers: what a submission can return without doing any of the math.

All zeros, all ones, a constant, an input returned unchanged: none of it is the lesson, and none
of it may earn a point. The grader models trivial answers the way it models known mistakes (a
part's ``variants``), from a case's inputs and its expected outputs: the generic ones below need
only the expected shapes (a constant is right where the expected output is one value repeated),
and an assignment declares the ones only it knows for a function (``Function(trivial=...)``:
uniform softmax rows, a descent that never moves), as ``name -> fn(inputs, expected) -> outputs``
(the outputs it models; ``None`` where it does not apply, a list for several answers).

They are used twice. A random case on which a trivial answer is right (within the part's
tolerance, in every output the part grades) is drawn again, like a case on which a modelled
mistake is right (see :meth:`autograder.grade.Grader.cases`). Cases that cannot be drawn again
(edges, probes) and property parts count only beside a passing random case of the same function
(see :mod:`autograder.score`). ``bpgrade selftest`` then grades each trivial answer as a
submission and fails if one earns a point anywhere.
"""
from __future__ import annotations

from typing import Callable, Iterator, Mapping

import numpy as np

from .compare import within
from .diagnose import _wrong_options
from .spec import Tol

#: The generic trivial answers, in the order they are tried.
GENERIC = ("zeros", "ones", "constant", "echo")


def leaves(inputs: Mapping, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
    """Every number and array among the inputs, by name (``params.W1`` inside a dict)."""
    for name, value in inputs.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from leaves(value, path + ".")
        elif isinstance(value, (np.ndarray, float, int, np.floating, np.integer)) and not isinstance(value, bool):
            yield path, np.asarray(value, dtype=np.float64)


def answers(inputs: Mapping, expected: Mapping[str, np.ndarray],
            models: Mapping[str, Callable[[dict, dict], object]] | None = None) -> Iterator[tuple[str, dict]]:
    """``(name, outputs)`` for every trivial answer on one case. An answer may give only some of
    the outputs (an input is echoed only where its shape is an output's shape)."""
    shapes = {name: np.shape(value) for name, value in expected.items()}
    yield "zeros", {name: np.zeros(shape) for name, shape in shapes.items()}
    yield "ones", {name: np.ones(shape) for name, shape in shapes.items()}
    # any constant c: right exactly where the expected output is one value repeated. Not for a
    # single number, which is always some constant (zeros and ones cover the usual guesses).
    yield "constant", {name: np.full(shape, np.ravel(expected[name])[0])
                       for name, shape in shapes.items() if np.prod(shape, dtype=int) > 1}
    for path, leaf in leaves(inputs):
        same = {name: leaf for name, shape in shapes.items() if leaf.shape == shape}
        if same:
            yield f"echo {path}", same
    yield from _wrong_options(dict(models or {}), dict(inputs), dict(expected))


def right_on(inputs: Mapping, expected: Mapping[str, np.ndarray], tols: Mapping[str, Tol],
             models: Mapping[str, Callable[[dict, dict], object]] | None = None) -> str | None:
    """The trivial answer(s) right on this case, within the grading tolerance ``tols`` in every
    output it names, or None. Each output may be matched by another answer (zeros for one, an
    echoed input for the other): a submission can mix them."""
    if not tols:
        return None
    found: dict[str, str] = {}
    for name, outputs in answers(inputs, expected, models):
        for out, value in outputs.items():
            if out in tols and out not in found:
                value = np.asarray(value, dtype=np.float64)
                if value.shape == np.shape(expected[out]) and within(value, expected[out], tols[out]):
                    found[out] = name
        if len(found) == len(tols):
            return ", ".join(dict.fromkeys(found[out] for out in tols))
    return None
