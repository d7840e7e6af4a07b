"""Layered comparison of one output: present -> type -> shape -> dtype -> finite -> values.

The first layer that fails decides the verdict, so a student is told the most basic problem
first and values are never compared on an array of the wrong shape (PrairieLearn's order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import Tol

NDARRAY = "numpy.ndarray"
SCALAR_TYPES = {"builtins.float", "builtins.int", "numpy.float64", NDARRAY}


@dataclass
class Verdict:
    output: str
    ok: bool
    code: str | None = None     #: stable diagnosis code of a structural failure
    message: str = ""
    rel_error: float | None = None
    index: tuple | None = None  #: the first entry over the tolerance (None on a pass)
    got_value: float | None = None
    expected_value: float | None = None


_max_of = np.maximum.reduce  #: np.max without its Python-level dispatch (same NaN propagation)


def max_abs(x: np.ndarray) -> float:
    """max|x|, 0.0 for an empty array, NaN if x holds a NaN. Called for every output of every
    case, so it uses the ufunc's reduce directly: np.max's wrapper costs more than the work."""
    return float(_max_of(np.abs(x), axis=None, initial=0.0))


def all_finite(x: np.ndarray) -> bool:
    """No NaN or inf in x (np.all(np.isfinite(x)) without np.all's dispatch)."""
    return bool(np.isfinite(x).all())


def _scale(expected: np.ndarray, tol: Tol) -> float:
    return max(max_abs(expected), tol.scale_floor)


def _measure(got: np.ndarray, expected: np.ndarray, tol: Tol) -> tuple[float, tuple | None, bool]:
    """(relative error, index, within tolerance) from one pass over the differences: the error
    is max|got - expected| / max(max|expected|, floor); the index is the first entry (row-major)
    off by more than the tolerance allows, None when none is (nothing to point at)."""
    diff = np.abs(got - expected)
    scale = _scale(expected, tol)
    if diff.size == 0:
        return 0.0, None, True
    worst = float(_max_of(diff, axis=None))
    bound = tol.rtol * scale + tol.atol
    if worst <= bound:  # the usual case, a pass (a NaN would make worst NaN)
        return worst / scale, None, True
    flat = int(np.flatnonzero(~(diff.ravel() <= bound))[0])  # over the bound, or NaN
    return worst / scale, _unravel(flat, diff.shape), False


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``np.unravel_index`` of one row-major index, as Python ints: for the small shapes graded
    here the numpy call costs more than the whole comparison."""
    where = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        where.append(i)
    return tuple(reversed(where))


def rel_error(got: np.ndarray, expected: np.ndarray, tol: Tol) -> float:
    """max|got - expected| / max(max|expected|, floor) (see :func:`_measure`)."""
    return _measure(got, expected, tol)[0]


def within(got: np.ndarray, expected: np.ndarray, tol: Tol) -> bool:
    return max_abs(got - expected) <= tol.rtol * _scale(expected, tol) + tol.atol


def _shape_text(shape) -> str:
    return "a scalar" if tuple(shape) == () else f"shape {tuple(shape)}"


def compare(name: str, expected: np.ndarray, got: np.ndarray | None, *, scalar: bool,
            tol: Tol, type_info: dict | None = None, problem: str | None = None,
            values: bool = True) -> Verdict:
    """Judge one output. ``got`` is the float64 array the grader decoded; ``type_info`` is what
    the worker observed of the original object (its type, dtype and shape). ``values=False``
    stops after the finite layer (for parts that judge a property, not the numbers)."""
    info = type_info or {}
    if problem is not None or got is None:
        code = "shape_mismatch" if problem and ("tuple" in problem or "dict" in problem) else "wrong_type"
        return Verdict(name, False, code, f"`{name}` {problem or 'is missing'}")
    kind = info.get("type", NDARRAY)
    if scalar:
        if got.shape != ():
            return Verdict(name, False, "shape_mismatch",
                           f"`{name}` should be a float, got an array of shape {tuple(got.shape)}")
        if kind not in SCALAR_TYPES and "dtype" not in info:
            return Verdict(name, False, "wrong_type", f"`{name}` should be a float, got a {kind}")
    else:
        if kind != NDARRAY and got.shape == () and expected.shape != ():
            return Verdict(name, False, "shape_mismatch",
                           f"`{name}` is a single number ({kind}); expected an array of {_shape_text(expected.shape)}")
        if kind != NDARRAY:
            return Verdict(name, False, "wrong_type", f"`{name}` is a {kind}; expected a numpy.ndarray")
        if got.shape != expected.shape:
            return Verdict(
                name, False, "shape_mismatch",
                f"`{name}` has the wrong shape: got {_shape_text(got.shape)}, expected {_shape_text(expected.shape)}",
            )
    dtype = info.get("dtype")
    if dtype is not None and dtype != "float64":
        return Verdict(name, False, "wrong_dtype", f"`{name}` has dtype {dtype}; expected float64")
    measured = None
    if values and got.shape == expected.shape:
        # measured first: an output within tolerance everywhere is finite wherever the expected
        # one is, so the finite layer cannot fail and a passing output costs one pass, not three
        measured = _measure(got, expected, tol)
        if measured[2]:
            return Verdict(name, True, rel_error=measured[0], index=measured[1])
    if all_finite(expected) and not all_finite(got):
        bad = np.argwhere(~np.isfinite(got))
        first = tuple(int(i) for i in bad[0]) if got.ndim else ()
        value = got[first] if got.ndim else got
        return Verdict(
            name, False, "nonfinite",
            f"`{name}` contains {len(bad)} non-finite value(s) (first: {value} at {list(first)})",
            index=first,
        )
    if not values:
        return Verdict(name, True)
    err, where, ok = measured or _measure(got, expected, tol)
    if ok:
        return Verdict(name, True, rel_error=err, index=where)
    return Verdict(
        name, False, None,
        f"`{name}`: relative error {err:.3g} (threshold {tol.rtol:g})"
        + (f"; first differing entry {list(where)}" if got.ndim else ""),
        rel_error=err, index=where,
        got_value=float(got[where]) if got.ndim else float(got),
        expected_value=float(expected[where]) if expected.ndim else float(expected),
    )
