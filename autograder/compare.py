"""Layered comparison of one output: present -> real numbers -> shape -> finite -> values.

The first layer that fails decides the verdict, so a student is told the most basic problem
first and values are never compared on an array of the wrong shape (PrairieLearn's order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sandbox.values import NDARRAY
from .spec import Tol

#: Dtypes of real numbers, converted to float64 like the worker does (words for the feedback).
_FLOAT_DTYPES = {"float16", "float32", "float64", "float96", "float128", "longdouble"}
_INT_DTYPES = {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
#: What a value that is not real numbers is called: the grader's own words, never a type
#: name from the worker's report (a class name is the submission's choice).
_NOT_NUMBERS = {"builtins.str": "a string", "builtins.bytes": "bytes", "builtins.bool": "a bool",
                "builtins.complex": "a complex number", "builtins.dict": "a dict", "builtins.set": "a set"}
_NOT_REAL_DTYPES = {"bool": "booleans", "object": "Python objects", "complex64": "complex numbers",
                    "complex128": "complex numbers", "complex256": "complex numbers"}


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
    note: str = ""              #: how the value was converted, when it was not plain float64
    threshold: float | None = None  #: the relative error allowed here (rtol + atol / scale)


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


def form(info: dict) -> str | None:
    """How a returned value was represented, in the grader's words: "" for the plain form (a
    float64 ndarray, a Python or numpy float64), a phrase for another form of real numbers ("a
    list", "a float32 array", "a numpy integer scalar"...), None for a value that is not real
    numbers. The worker has already converted any of them to float64; the words come from fixed
    sets, so nothing the submission chose (a class name) is ever repeated."""
    kind, dtype = info.get("type", NDARRAY), info.get("dtype")
    if kind in ("builtins.list", "builtins.tuple"):
        return f"a {kind[9:]}"
    if kind == "builtins.int":
        return "an int"
    if kind == "builtins.float":
        return ""
    if dtype in _FLOAT_DTYPES:
        words = "" if dtype == "float64" else dtype + " "
    elif dtype in _INT_DTYPES:
        words = "integer "
    else:
        return None
    if info.get("shape") == []:
        if kind == NDARRAY:
            return f"a {words}0-d array"
        return f"a numpy {words}scalar" if words else ""  # np.float32(1), np.int64(2)...
    if kind == NDARRAY:
        return _a(f"{words}array") if words else ""
    return _a(words + ("numpy matrix" if kind == "numpy.matrix" else "numpy array subclass"))


def _a(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text


def _not_numbers(info: dict) -> str:
    """What a value that is not real numbers is, in the grader's words."""
    dtype = info.get("dtype")
    if dtype is None:
        return _NOT_NUMBERS.get(info.get("type"), "an object that is neither a number nor a numpy array")
    what = _NOT_REAL_DTYPES.get(dtype, "strings" if dtype[1:2] in ("U", "S") else "values that are not real numbers")
    return f"a numpy scalar of {what}" if info.get("shape") == [] else f"an array of {what}"


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
    wanted = "a float" if scalar else "a numpy array"
    shown = form(info)  # representation is not the lesson: any real numbers are converted
    if shown is None:
        code = "wrong_dtype" if "dtype" in info else "wrong_type"
        return Verdict(name, False, code, f"`{name}` is {_not_numbers(info)}; expected {wanted} of real numbers")
    if scalar:
        if got.shape != ():
            return Verdict(name, False, "shape_mismatch",
                           f"`{name}` should be a float, got {shown or 'an array'} of shape {tuple(got.shape)}")
    elif got.shape != expected.shape:
        if got.shape == ():
            return Verdict(name, False, "shape_mismatch",
                           f"`{name}` is a single number; expected an array of {_shape_text(expected.shape)}")
        return Verdict(
            name, False, "shape_mismatch",
            f"`{name}` has the wrong shape: got {_shape_text(got.shape)}, expected {_shape_text(expected.shape)}",
        )
    note = f"`{name}` was returned as {shown}; it was converted to {'a float' if scalar else 'a float64 array'}" if shown else ""
    measured = None
    if values and got.shape == expected.shape:
        # measured first: an output within tolerance everywhere is finite wherever the expected
        # one is, so the finite layer cannot fail and a passing output costs one pass, not three
        measured = _measure(got, expected, tol)
        if measured[2]:
            return Verdict(name, True, rel_error=measured[0], index=measured[1], note=note)
    if all_finite(expected) and not all_finite(got):
        bad = np.argwhere(~np.isfinite(got))
        first = tuple(int(i) for i in bad[0]) if got.ndim else ()
        value = got[first] if got.ndim else got
        return Verdict(
            name, False, "nonfinite",
            f"`{name}` contains {len(bad)} non-finite value(s) (first: {value} at {list(first)})",
            index=first, note=note,
        )
    if not values:
        return Verdict(name, True, note=note)
    err, where, ok = measured or _measure(got, expected, tol)
    if ok:
        return Verdict(name, True, rel_error=err, index=where, note=note)
    threshold = tol.rtol + tol.atol / _scale(expected, tol)
    return Verdict(
        name, False, None,
        f"`{name}`: relative error {err:.2g} (threshold {threshold:.2g})"  # 2 digits: all a student needs, little a leak can use
        + (f"; first differing entry {list(where)}" if got.ndim else ""),
        rel_error=err, index=where,
        got_value=float(got[where]) if got.ndim else float(got),
        expected_value=float(expected[where]) if expected.ndim else float(expected),
        note=note, threshold=threshold,
    )
