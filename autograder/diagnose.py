"""Name the mistake: detectors that test a wrong output against the expected one on the same
inputs. The codes they name, with their sentences and hints, are in :mod:`autograder.catalogue`.

Generic detectors need nothing but the two arrays (a transpose, a constant factor, a sign, an
unreduced batch axis). Mistakes that need a model of the wrong computation ("sigma' evaluated
on the activation") are declared per part as ``variants``: the assignment computes the wrong
answer on the same inputs, and a match names the code.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from .compare import all_finite, max_abs, within
from .spec import Tol

#: "Is this the known wrong answer?" is judged like "is this the right answer?": with the
#: tolerance policy, so a mistake made in float32 arithmetic is still named.
DETECT_TOL = Tol()
#: A miss within this many times its threshold is "close, but outside the tolerance"
#: (near_miss), never a mistake's name: the course's mistakes are off by O(1).
NEAR_MISS = 10


def _fit_factor(got: np.ndarray, expected: np.ndarray) -> float | None:
    denom = float((expected * expected).sum())
    if denom == 0.0 or got.shape != expected.shape:
        return None
    return float((got * expected).sum()) / denom


def constant_factor(got: np.ndarray, expected: np.ndarray, sizes: tuple[int, ...] = ()) -> float | None:
    """The constant c with got = c * expected (within DETECT_TOL), or None. One number is always
    some multiple of another, so for a single number only a factor a mistake explains (2, 4, one
    of the case's ``sizes``, or their inverses) is returned."""
    factor = _fit_factor(got, expected)
    if factor is None or not within(got, factor * expected, DETECT_TOL):
        return None
    if expected.size == 1:
        nice = [2.0, 4.0] + [float(n) for n in sizes if n > 1]
        if not any(abs(factor - f) < 1e-6 * f or abs(factor - 1 / f) < 1e-6 / f for f in nice):
            return None
    return factor


def detect_values(got: np.ndarray, expected: np.ndarray, *, batch: int | None,
                  sizes: tuple[int, ...] = ()) -> tuple[str, dict] | None:
    """Generic value detectors for a wrong output: (code, sentence fields) or None.

    Nothing is named where the miss is at the detection tolerance's level (rounding), nor a
    transpose where transposing changes nothing measurable (a 1 x 1 or symmetric result).
    ``sizes`` are the case's dimensions: for a single number, only factors a mistake explains
    (2, 4, a dimension, or their inverses) are named, since any number is a multiple of another.
    """
    if not (all_finite(got) and all_finite(expected)):
        return None
    same_shape = got.shape == expected.shape
    if same_shape and within(got, expected, DETECT_TOL):
        return None
    if got.ndim == 2 and got.shape == expected.shape[::-1] and within(got.T, expected, DETECT_TOL):
        return "transposed", {}  # (not within(got, expected) above: transposing made the difference)
    if batch and got.shape == (batch, *expected.shape):
        if within(got.sum(axis=0), expected, DETECT_TOL) or within(got.mean(axis=0), expected, DETECT_TOL) \
                or within(got.sum(axis=0) / batch, expected, DETECT_TOL):
            return "not_reduced", {}
    if not same_shape or max_abs(expected) < 1e-300:
        return None
    if within(-got, expected, DETECT_TOL):
        return "sign_flipped", {}
    factor = _fit_factor(got, expected)
    if factor is None or not within(got, factor * expected, DETECT_TOL):
        return None
    named = name_factor(factor, batch)
    if named is not None:
        return named
    if expected.size == 1:  # one number is always a multiple of another: only a size explains it
        factor = constant_factor(got, expected, sizes)
    if factor is not None and abs(factor - 1) > 1e-3 and abs(factor) > 1e-8:
        return "scaled_const", {"factor": f"factor {factor:.4g}"}
    return None


#: Constants a mistake puts into a result: a 2 from differentiating a square, a 1/2 dropped...
_CONSTANTS = {2.0: "2", 0.5: "1/2", 4.0: "4", 0.25: "1/4"}


def name_factor(factor: float, batch: int | None) -> tuple[str, dict] | None:
    """(code, sentence fields) naming ``factor`` by the pieces the course's mistakes are made
    of: the batch size N (a 1/N missing, or one too many), a small constant and a sign, e.g.
    2N -> scaled_by_N, "2N times too large: the 1/N is missing and a factor 2 is added". A
    power of N is tried first, then a constant, then both. None when the factor is no such
    product (or only a sign, or 1)."""
    powers = (1, -1) if batch and batch > 1 else ()
    candidates = [(a, 1.0) for a in powers] + [(a, k) for k in _CONSTANTS for a in (0, *powers)]
    for sign in (1.0, -1.0):
        for a, k in candidates:
            size = k * float(batch) ** a if a else k
            if abs(abs(factor) - size) > 1e-4 * size or (factor < 0) != (sign < 0):
                continue
            pieces = ([] if not a else ["the 1/N is missing" if a > 0 else "there is one 1/N too many"])
            pieces += [f"a factor {_CONSTANTS[k]} is added"] if k != 1.0 else []
            pieces += ["the sign is flipped"] if sign < 0 else []
            how = f"{_times(a, k)} times too large" if size > 1 else f"{_times(-a, 1 / k)} times too small"
            fields = {"factor": f"{how}: {' and '.join([', '.join(pieces[:-1]), pieces[-1]] if len(pieces) > 2 else pieces)}"}
            if sign < 0 and k == 1.0:  # -N: the sign first, as ever
                return "sign_flipped", fields
            return ("scaled_by_N" if a else "scaled_const"), fields
    return None


def _times(a: int, k: float) -> str:
    """k N^a as the course writes it: "N", "2N", "N/2", "2/N", "1/(2N)", "4"... (a in -1, 0, 1)."""
    if a == 0:
        return _CONSTANTS.get(k, f"{k:g}")
    if a > 0:
        return "N" if k == 1 else (f"{k:g}N" if k > 1 else f"N/{1 / k:g}")
    return "1/N" if k == 1 else (f"{k:g}/N" if k > 1 else f"1/({1 / k:g}N)")


def detect_variants(got: dict[str, np.ndarray], name: str,
                    variants: dict[str, Callable[[dict, dict], dict]],
                    inputs: dict, expected: dict[str, np.ndarray]) -> str | None:
    """The first declared model mistake whose output matches what the student returned. A
    model returns the wrong outputs as a dict, or a list of dicts for several ways to be wrong."""
    mine = got.get(name)
    if mine is None:
        return None
    for code, option in _wrong_options(variants, inputs, expected):
        candidate = option.get(name)
        if candidate is None:
            continue
        candidate = np.asarray(candidate, dtype=np.float64)
        if candidate.shape != mine.shape or not all_finite(candidate):
            continue
        differs = candidate.shape != expected[name].shape or not within(candidate, expected[name], DETECT_TOL)
        if differs and within(mine, candidate, DETECT_TOL):
            return code
    return None


def hidden_mistake(variants: dict[str, Callable[[dict, dict], dict]], inputs: dict,
                   expected: dict[str, np.ndarray], tols: dict[str, Tol]) -> str | None:
    """The first declared model mistake that gives the right answer on this case: within the
    grading tolerance (``tols``, per graded output) in every graded output it models. Such a
    case cannot tell the mistake from the right answer (np.mean for the MSE at K = 2)."""
    for code, option in _wrong_options(variants, inputs, expected):
        graded = [(name, np.asarray(value, dtype=np.float64)) for name, value in option.items()
                  if name in expected and name in tols]
        if graded and all(value.shape == expected[name].shape and within(value, expected[name], tols[name])
                          for name, value in graded):
            return code
    return None


def _wrong_options(variants: dict[str, Callable[[dict, dict], dict]], inputs: dict,
                   expected: dict[str, np.ndarray]) -> Iterator[tuple[str, dict]]:
    """``(code, wrong outputs)`` for every way each model is wrong on this case."""
    for code, model in variants.items():
        wrong = _wrong_answer(model, inputs, expected)  # None when the model does not apply
        for option in (wrong if isinstance(wrong, (list, tuple)) else [wrong]):
            if isinstance(option, dict):
                yield code, option


#: Wrong answers already computed, by (model, inputs, expected) object identity; each entry
#: holds those objects, so their ids cannot be reused while it is here. Least recently used
#: entries go first (shrinking makes new cases that are rarely asked about again).
_WRONG_ANSWERS: OrderedDict[tuple[int, int, int], tuple] = OrderedDict()
_WRONG_ANSWERS_KEPT = 4096
_wrong_answers_lock = threading.Lock()


def _wrong_answer(model: Callable[[dict, dict], object], inputs: dict, expected: dict) -> object:
    """``model(inputs, expected)``, or None if it raises (it does not apply to this case).

    Remembered: every part grading an output of one call asks for the same wrong answers on
    the same case, and so does every failing submission of a batch (cases and expected outputs
    are prepared once and shared). Models are pure functions of the case, and nothing here
    modifies what they return. A model may run a whole optimisation: uncached, that was most
    of the judging time of a wrong submission to such an assignment."""
    key = (id(model), id(inputs), id(expected))
    with _wrong_answers_lock:
        entry = _WRONG_ANSWERS.get(key)
        if entry is not None:
            _WRONG_ANSWERS.move_to_end(key)
            return entry[3]
    try:
        wrong = model(inputs, expected)
    except Exception:  # noqa: BLE001 - the model's assumptions do not hold for this case
        wrong = None
    with _wrong_answers_lock:
        _WRONG_ANSWERS[key] = (model, inputs, expected, wrong)
        while len(_WRONG_ANSWERS) > _WRONG_ANSWERS_KEPT:
            _WRONG_ANSWERS.popitem(last=False)
    return wrong
