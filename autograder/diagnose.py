"""Name the mistake: turn a failure into the most specific code of :mod:`autograder.catalogue`
(and the fields its sentence needs).

Three kinds of failure come here: a call that returned no result (:func:`call_failure`), a file
that did not load or a cell that stopped (:func:`load_failure`, :func:`cell_failure`), and a
wrong output (:func:`most_specific`, which tries the detectors below in order).

Generic detectors need nothing but the two arrays (a transpose, a constant factor, a sign, an
unreduced batch axis). Mistakes that need a model of the wrong computation ("sigma' evaluated
on the activation") are declared per part as ``variants``: the assignment computes the wrong
answer on the same inputs, and a match names the code.
"""
from __future__ import annotations

import builtins
import importlib.util
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from .catalogue import sentence
from .compare import Verdict, all_finite, max_abs, within
from .spec import Part, Tol

if TYPE_CHECKING:
    from .cases import Case
    from .load import Cell
    from .sandbox.host import CallResult, CellFailure, LoadResult

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
        return "scaled_const", factor_fields(factor)
    return None


def factor_fields(factor: float | None) -> dict:
    """The sentence field naming a measured factor, to two significant digits (on hidden cases
    more digits of a steered factor could spell out an input); {} when none was measured."""
    return {} if factor is None else {"factor": f"factor {factor:.2g}"}


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
    modifies what they return. A model may run a whole optimisation, which would otherwise
    cost more than the rest of judging a wrong submission to such an assignment."""
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


# ------------------------------------------------------------------ a wrong output

def most_specific(v: Verdict, part: Part, case: Case, call: CallResult,
                  expected: dict[str, np.ndarray]) -> tuple[str, dict]:
    """Turn a failed comparison into the most specific code the catalogue has (and the fields
    its sentence needs, e.g. the factor found)."""
    got = call.outputs.get(v.output)
    if v.code == "nonfinite":  # log(0) is the root cause when both appear (overflow -> p = 0 -> log p)
        if "divide" in call.warnings:
            return "log_of_zero", {}
        if "overflow" in call.warnings:
            return "overflow", {}
        return "nonfinite", {}
    if got is None or v.code in ("wrong_type", "wrong_dtype"):
        return v.code or "wrong_values", {}
    if v.code is None and v.threshold and v.rel_error <= NEAR_MISS * v.threshold:
        # rounding-level, not a mistake's size: say so with both numbers (rounded, as on hidden cases)
        return "near_miss", {"error": f"{v.rel_error:.2g}", "threshold": f"{v.threshold:.2g}"}
    code = detect_variants(call.outputs, v.output, dict(part.variants), case.inputs, expected)
    dims = case.dims or {}
    if code == "scaled_const":  # a modelled constant: name the factor when the whole result has one
        factor = constant_factor(got, expected[v.output], tuple(dims.values()))
        return code, factor_fields(factor)
    if code:
        return code, {}
    found = detect_values(got, expected[v.output], batch=dims.get("N"), sizes=tuple(dims.values()))
    if found:
        return found
    if v.code is None and "overflow" in call.warnings:  # wrong values after an overflow
        return "overflow", {}
    return v.code or "wrong_values", {}


# ------------------------------------------------------------------ a call that returned nothing

def call_failure(call: CallResult, *, public: bool, budget: float | None = None,
                 yardstick: float | None = None) -> tuple[str, str, str] | None:
    """``(code, message, detail)`` for a call that returned no result, None for one that did.
    ``budget`` (the part's) and ``yardstick`` (the reference's seconds on this case) are given
    for the case a time budget is judged on: there, past the time limit is past the budget."""
    if call.status == "ok":
        return None
    if call.status == "timeout":
        if budget and yardstick is not None:
            return ("too_slow", sentence("too_slow", seconds="more than the time limit", budget=f"{budget:g}"),
                    f"the reference took {yardstick * 1000:.2f} ms on this case; {call.detail}")
        return "timeout", f"timed out ({call.detail})", ""
    if call.status == "crashed":
        return "crashed", f"the worker process died during the call ({call.detail})", ""
    if call.status == "memory_limit":
        return "memory_limit", "ran out of memory (the worker's memory limit)", ""
    if call.status == "error":
        return (*_raised(call, public=public), "")
    return "crashed", f"no result ({call.status}: {call.detail})", ""


#: Exception names shown as they are; a custom class name is student-chosen text.
_BUILTIN_ERRORS = {name for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, BaseException)}


def _raised(call: CallResult, *, public: bool) -> tuple[str, str]:
    """The code and text for a call that raised. On hidden cases the student's exception message
    is not shown: it is student-controlled text computed from the hidden inputs (``raise
    ValueError(repr(X))`` would hand them out, and a later submission could hard-code the
    answers). The exception type and the student's own traceback lines stay; local checks,
    on public cases, show the whole message."""
    err = call.error or {}
    etype, msg = err.get("type", ""), err.get("message", "")
    if etype == "NotImplementedError":
        return "not_implemented", "not implemented yet (raises NotImplementedError)"
    if blocked_import(err):
        return "forbidden_import", "imports an autograd library, which is not allowed"
    if etype == "MemoryError":
        return "memory_limit", "ran out of memory"
    traceback = err.get("traceback", "")
    if not public:
        etype = etype if etype in _BUILTIN_ERRORS else "an exception of its own class"
        msg = "(message not shown for hidden cases; run `bpgrade check` to see it)" if msg else ""
        # where it stopped (cell, line, function), not the line's text: that is the student's too
        traceback = "\n".join(line for line in traceback.splitlines() if not line.startswith("    "))
    text = f"raised {etype}: {msg}" if msg else f"raised {etype}"
    if traceback:
        text += "\n" + traceback
    return "error", text


def blocked_import(err: dict | None) -> bool:
    """Whether an error is the import blocker refusing an autograd library
    (:class:`autograder.sandbox.guest.imports.ImportBlocker`: an ImportError "... is not allowed ...")."""
    return bool(err) and err.get("type") in ("ImportError", "ModuleNotFoundError") \
        and "is not allowed" in err.get("message", "")


# ------------------------------------------------------------------ a file that did not load

def load_failure(load: LoadResult) -> tuple[str, str]:
    """The code and text for a submission whose file did not load."""
    err = load.error or {}
    text = {
        "syntax_error": "the file has a syntax error",
        "load_error": "running the file raised an error",
        "timeout": "running the file did not finish",
        "crashed": "the worker died while running the file",
    }.get(load.status, load.status)
    if err:
        text += f": {err.get('type', '')}: {err.get('message', '')}"
        if err.get("traceback"):
            text += "\n" + err["traceback"]
    elif load.detail:
        text += f" ({load.detail})"
    code = "forbidden_import" if blocked_import(err) else (
        "timeout" if load.status == "timeout" else "load_error")
    return code, text


def cell_failure(failure: CellFailure, cells: list[Cell]) -> str:
    """What did not run while loading, in the student's terms: their cell (its number and first
    line) or their line, their import, their error; and what that means for grading."""
    cell = next((c for c in cells if c.number == failure.number), None)
    if failure.number is None:
        where, after = "the file", "the definitions made before it are graded"
    else:
        first = cell.first_line if cell else ""
        where = f"code cell {failure.number}" + (f" (`{_short(first)}`)" if first else "")
        after = "the other cells ran"
    err = failure.error or {}
    missing = _missing_module(err)
    if missing:
        return f"{missing}; {after}"
    if failure.status == "syntax_error":
        return f"{where} has a syntax error and did not run: {err.get('message', '')}; {after}"
    if failure.status in ("timeout", "crashed"):
        return f"{where} {failure.detail} and was skipped; {after}"
    at = f" at {err['where']}" if err.get("where") and failure.number is None else ""
    text = f"{where} raised {err.get('type', 'an error')}{at}: {err.get('message', '')}".rstrip(": ")
    return f"{text}; {after}" + (f"\n{err['traceback']}" if err.get("traceback") else "")


def _missing_module(err: dict) -> str:
    """For an import of a package the grading environment does not have, a sentence naming the
    student's own import line: "`from scipy.special import expit` (cell 3, line 1): scipy is
    not installed where this is graded; use numpy"."""
    if err.get("type") != "ModuleNotFoundError" or not err.get("module"):
        return ""
    top = err["module"].split(".")[0]
    line = f"`{_short(err['line'])}` ({err.get('where', '')})" if err.get("line") else f"an import ({err.get('where', '')})"
    if importlib.util.find_spec(top) is None:
        return f"{line}: {top} is not installed where this is graded; use numpy"
    return f"{line}: there is no module {err['module']} where this is graded"


def _short(text: str, cap: int = 80) -> str:
    text = text.strip()
    return text if len(text) <= cap else text[:cap - 3] + "..."
