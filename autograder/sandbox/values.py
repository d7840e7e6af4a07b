"""A returned value as the plain data that crosses back from a worker: named float64 arrays,
type facts, and a structural problem per output that could not be read.

The worker splits a student's return value with :func:`split_return`; the grader's oracles
split the reference's and torch's with the same function, so expected and student outputs
are converted to float64 in exactly one way. Nothing here imports the engine.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: The type name :func:`describe_type` gives a plain ndarray.
NDARRAY = "numpy.ndarray"

_DTYPE_NAMES: dict = {}  # str(dtype) costs microseconds; a reply names the same few dtypes


def _dtype_name(dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def describe_type(value) -> dict:
    info = {"type": type(value).__module__ + "." + type(value).__qualname__}
    if isinstance(value, np.ndarray):
        info.update(dtype=_dtype_name(value.dtype), shape=list(value.shape))
    elif isinstance(value, np.generic):
        info.update(dtype=_dtype_name(value.dtype), shape=[])
    return info


def to_float64(value) -> np.ndarray | None:
    """A plain C-contiguous float64 copy of a real numeric value, or None if there is none."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError, OverflowError):
        return None
    if arr.dtype != np.float64 or type(arr) is not np.ndarray:
        return None
    return arr


def split_return(value, kind: str, names: Sequence[str]) -> tuple[dict, dict, dict]:
    """Split a return value into named outputs following the declared structure
    (``kind`` and ``names`` of a :class:`autograder.spec.Returns`).

    Returns (arrays, types, problems): float64 arrays per output, the type facts the grader
    uses for its checks (none for a plain float64 ndarray: its array says all), and a
    structural problem per output that could not be read.
    """
    pieces: dict[str, object] = {}
    problems: dict[str, str] = {}
    if kind == "single":
        pieces[names[0]] = value
    elif kind == "tuple":
        if not isinstance(value, (tuple, list)):
            for name in names:
                problems[name] = f"returned {type(value).__name__}, expected a tuple of {len(names)} ({', '.join(names)})"
        elif len(value) != len(names):
            for name in names:
                problems[name] = f"returned a tuple of {len(value)} items, expected {len(names)}"
        else:
            pieces = dict(zip(names, value))
    elif not isinstance(value, dict):
        for name in names:
            problems[name] = f"returned {type(value).__name__}, expected a dict"
    else:
        for name in names:
            if name in value:
                pieces[name] = value[name]
            else:
                problems[name] = f"the returned dict has no key {name!r} (keys: {sorted(map(str, value))[:8]})"
    arrays, types = {}, {}
    for name, piece in pieces.items():
        if type(piece) is np.ndarray and piece.dtype == np.float64:  # the usual answer: no facts to send
            arrays[name] = np.array(piece, copy=True, order="C")
            continue
        types[name] = describe_type(piece)
        if piece is None:
            problems[name] = "is None (did the function forget to return it?)"
            continue
        arr = to_float64(piece)
        if arr is None:
            problems[name] = f"is a {types[name]['type']}, which is not a real number or array"
        else:
            arrays[name] = arr
    return arrays, types, problems
