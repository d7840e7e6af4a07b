"""Untrusted replies made into the grader's results: every field a worker sends is
type-checked, capped and sanitised here before anything else reads it. A worker can say
anything; what it says becomes a :class:`CallResult` or :class:`LoadResult` of known shape, and
never a verdict (the grader judges the values itself)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...safetext import shown
from ...spec import WARNINGS
from ..values import NDARRAY

#: Captured output and error text kept per call / load (the worker caps it too; we re-cap).
TEXT_CAP = 16384


@dataclass
class CellFailure:
    """A notebook cell (``number``; None: a script's body) that did not run to its end."""

    number: int | None
    status: str  # error | syntax_error | timeout | crashed
    error: dict | None = None
    detail: str = ""


@dataclass
class LoadResult:
    status: str  # loaded | syntax_error | load_error | timeout | crashed
    defined: dict[str, str] = field(default_factory=dict)
    error: dict | None = None
    stdout: str = ""
    detail: str = ""
    cells: list[CellFailure] = field(default_factory=list)  #: what raised, hung or crashed while loading


@dataclass
class CallResult:
    """What one call did, as observed and validated by the grader.

    ``wall``: seconds from sending the request to receiving the complete reply.
    ``cpu``: CPU seconds the worker spent on this call, measured by the grader, not reported by
    the worker (see :mod:`.cputime`). Taken just before the request is sent and just after the
    reply is read, so it includes decoding inputs and encoding outputs (tens of microseconds)
    and any CPU a background thread burned since the previous call. 0.0 when the call did not
    complete (timeout, crash), was answered batched, or the platform has no such clock.
    """

    status: str  # ok | error | timeout | crashed | memory_limit | not_loaded
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    types: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    mutated: list = field(default_factory=list)
    stdout: str = ""
    error: dict | None = None
    detail: str = ""
    wall: float = 0.0
    cpu: float = 0.0




def text(value, cap: int = TEXT_CAP) -> str:
    """Untrusted text from a worker, capped and made safe to show (:func:`autograder.safetext.shown`:
    control and format characters escaped, newlines and tabs kept); "" for anything not a str."""
    if not isinstance(value, str):
        return ""
    if len(value) > cap:
        value = value[:cap] + f"\n... [{len(value) - cap} more characters not shown]"
    return shown(value)


def error_dict(err) -> dict | None:
    if not isinstance(err, dict):
        return None
    out = {"type": text(err.get("type"), 100), "message": text(err.get("message"), 4000),
           "traceback": text(err.get("traceback"), 4000)}
    for key in ("module", "line", "where"):  # a failed import: the module and the student's line
        if key in err:
            out[key] = text(err.get(key), 500)
    return out


def ready_protections(header: dict) -> list[str] | None:
    """The protections a worker's "ready" frame lists (its own word), or None if it is not one."""
    worker_side = header.get("protections") if header.get("status") == "ready" else None
    if not isinstance(worker_side, list):
        return None
    return [text(p, 64) for p in worker_side[:64]]


def load_result(reply: dict, known: set) -> LoadResult:
    """A LoadResult from the worker's last load frame; ``known``: the cells it was sent."""
    status = reply.get("status")
    defined = reply.get("defined") if isinstance(reply.get("defined"), dict) else {}
    return LoadResult(
        status if status in ("loaded", "syntax_error", "load_error") else "crashed",
        defined={text(k, 200): v for k, v in defined.items() if v in ("ok", "missing", "not_callable")},
        error=error_dict(reply.get("error")), stdout=text(reply.get("stdout", "")),
        cells=_cell_failures(reply.get("cells"), known),
    )


def _cell_failures(cells, known: set) -> list[CellFailure]:
    """The worker's list of cells that raised, validated (cells it was not sent are dropped)."""
    if not isinstance(cells, list):
        return []
    return [CellFailure(c["n"], c["status"], error_dict(c.get("error")))
            for c in cells[:len(known)] if isinstance(c, dict) and c.get("n") in known
            and c.get("status") in ("error", "syntax_error")]


def _type_facts(types, names: set[str]) -> dict:
    """Only well-formed facts about declared outputs: {"type": str, "dtype": str, "shape": [int]}."""
    clean = {}
    if not isinstance(types, dict):
        return clean
    for name, info in types.items():
        if name not in names or not isinstance(info, dict):
            continue
        fact = {"type": text(info.get("type"), 200)}
        if isinstance(info.get("dtype"), str):
            fact["dtype"] = text(info["dtype"], 100)
        shape = info.get("shape")
        if isinstance(shape, list) and len(shape) <= 32 and all(type(d) is int and d >= 0 for d in shape):
            fact["shape"] = list(shape)
        clean[name] = fact
    return clean


_PLAIN_REPLY = {"status", "seq", "types", "arrays"}
_WARNINGS = frozenset(WARNINGS)


def call_result(header: dict, out: dict[str, np.ndarray], wall: float, cpu: float,
                inputs: tuple[str, ...] = ()) -> CallResult:
    """A CallResult from an untrusted reply: every field type-checked, capped and sanitised."""

    def as_dict(x):
        return x if isinstance(x, dict) else {}

    def as_list(x, allowed=None):
        items = [v for v in x if isinstance(v, str)] if isinstance(x, list) else []
        return [v for v in items if allowed is None or v in allowed][:64]

    status = header.get("status")
    if status not in ("ok", "error", "memory_limit"):
        status = "crashed"
    outputs = {k[4:]: v for k, v in out.items()
               if k.startswith("out.") and type(v) is np.ndarray and v.dtype == np.float64}
    # an output without facts was a plain float64 ndarray (the worker sends facts only otherwise)
    types = {name: {"type": NDARRAY, "dtype": "float64", "shape": list(v.shape)} for name, v in outputs.items()}
    told = header.get("types")
    if told:
        types.update(_type_facts(told, set(outputs) | {k for k in as_dict(told) if isinstance(k, str)}))
    if status == "ok" and header.keys() <= _PLAIN_REPLY:  # the usual reply: nothing else to read
        return CallResult(status=status, outputs=outputs, types=types, wall=wall, cpu=cpu)
    return CallResult(
        status=status, outputs=outputs, types=types,
        problems={text(k, 200): text(v, 1000) for k, v in as_dict(header.get("problems")).items()
                  if isinstance(k, str)},
        warnings=as_list(header.get("warnings"), _WARNINGS),
        mutated=as_list(header.get("mutated"), inputs),
        stdout=text(header.get("stdout", "")), error=error_dict(header.get("error")),
        wall=wall, cpu=cpu,
    )
