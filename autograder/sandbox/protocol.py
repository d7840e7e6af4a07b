"""What the grader's requests carry, with both ends of each convention side by side.

* A case's inputs travel flattened: plain scalars in the JSON header, arrays as ``.npy``, one
  level of dicts as dotted names (``params.W1``): :func:`flatten_inputs` on the grader's side,
  :func:`unflatten` in the worker.
* A ``calls`` or ``preload`` frame carries several cases' arrays, named ``"i:name"`` for the
  i-th case that sends arrays: :func:`pack_arrays` / :func:`split_arrays`.
* A process's exit code in words (:func:`describe_exit`): the zygote's reply to a reap, and
  the grader's own text for a spawned worker or a grader process.
"""
from __future__ import annotations

import signal
from typing import Iterator

import numpy as np

from .wire import Encoded


def flatten_inputs(inputs: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """Plain scalars go in the JSON header, arrays as .npy; one level of dicts (params, cache)."""
    scalars, arrays = {}, {}

    def put(key, value):
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif isinstance(value, (bool, np.bool_)):
            scalars[key] = bool(value)
        elif isinstance(value, (int, np.integer)):
            scalars[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            scalars[key] = float(value)
        elif isinstance(value, str):
            scalars[key] = value
        else:
            raise TypeError(f"input {key!r} is a {type(value).__name__}; cases must hold arrays and numbers")

    for key, value in inputs.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                put(f"{key}.{sub}", v)
        else:
            put(key, value)
    return scalars, arrays


def unflatten(scalars: dict, arrays: dict[str, np.ndarray]) -> dict:
    """``{"params.W1": a}`` -> ``{"params": {"W1": a}}``; scalars come from the JSON header."""
    out: dict = {}
    for key, value in [*scalars.items(), *arrays.items()]:
        head, _, rest = key.partition(".")
        if rest:
            out.setdefault(head, {})[rest] = value
        else:
            out[head] = value
    return out


def pack_arrays(cases: list[Encoded]) -> Encoded:
    """One frame's tail from several cases' arrays, the i-th case's named ``"i:name"``."""
    return Encoded.concat([(f"{i}:", arrays) for i, arrays in enumerate(cases)])


def split_arrays(entries: list[dict], arrays: dict[str, np.ndarray]) -> Iterator[tuple[dict, dict]]:
    """Each entry of a ``calls`` or ``preload`` frame with its arrays: the next
    ``entry["n"]`` of the frame, named ``"i:name"`` (``name`` is kept)."""
    items = iter(arrays.items())
    for entry in entries:
        mine = {}
        for _ in range(entry.get("n", 0)):
            name, value = next(items)
            mine[name.partition(":")[2]] = value
        yield entry, mine


def describe_exit(code: int, who: str = "worker") -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        meaning = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGXCPU": "CPU time limit",
                   "SIGABRT": "aborted", "SIGXFSZ": "file size limit", "SIGBUS": "bus error"}.get(name, "")
        return f"{who} killed by {name}" + (f" ({meaning})" if meaning else "")
    return f"{who} exited with code {code}"
