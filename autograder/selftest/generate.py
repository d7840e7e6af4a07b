"""Submissions the self-test writes itself: generated mutants (one output negated, doubled or
transposed), trivial answers (generic ones, declared ones, the public answers hard-coded as a
lookup table) and the float32 variant of the reference. Each is Python source appended to or
wrapping the reference, graded like any submission."""
from __future__ import annotations

import base64
import copy
import zlib
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from .. import diagnose

if TYPE_CHECKING:
    from .suite import Suite


# ------------------------------------------------------------------ generated mutants

#: (name, expression applied to one output ``v``, expected code, applies to expected value?)
TRANSFORMS: list[tuple[str, str, str, Callable[[np.ndarray], bool]]] = [
    ("negated", "-v", "sign_flipped", lambda e: np.max(np.abs(e), initial=0) > 0),
    ("doubled", "2 * v", "scaled_const", lambda e: np.max(np.abs(e), initial=0) > 0),
    ("transposed", "v.T", "transposed", lambda e: e.ndim == 2 and e.shape[0] != e.shape[1]),
]

_WRAPPER = '''

# --- generated mutant: {name} of output {out!r} of {fn}()
_bpgrade_original_{fn} = {fn}


def {fn}(*args, **kwargs):
    value = _bpgrade_original_{fn}(*args, **kwargs)
    kind = {kind!r}
    if kind == "single":
        v = value
        return {expr}
    if kind == "tuple":
        value = list(value)
        v = value[{index}]
        value[{index}] = {expr}
        return tuple(value)
    value = dict(value)
    v = value[{out!r}]
    value[{out!r}] = {expr}
    return value
'''


def generated(suite: Suite, grader) -> Iterator[tuple[str, str, str, str]]:
    """(id, source, part, expected code) for each applicable output transform. Outputs whose
    function is called by another graded function would cascade, so each generated mutant
    only asserts its own part."""
    spec = grader.spec
    for part in spec.parts:
        fn = spec.function(part.function)
        lead = next(p for p in spec.parts if p.cases_key == part.cases_key)
        case = grader.cases(part.cases_key)[0]
        expected = grader.expected(lead, case)
        for out in spec.graded_outputs(part):
            index = fn.returns.names.index(out)
            for name, expr, code, applies in TRANSFORMS:
                if fn.returns.outs[index].scalar and name == "transposed":
                    continue
                if not applies(np.asarray(expected[out])):
                    continue
                if not part.values:  # a property part: any broken output shows as the property
                    if name == "transposed":
                        continue
                    code = "property"
                src = suite.reference + _WRAPPER.format(name=name, out=out, fn=fn.name, kind=fn.returns.kind,
                                                        index=index, expr=expr)
                yield f"{part.name}:{out}:{name}", src, part.name, code


# ------------------------------------------------------------------ trivial answers as submissions

#: Helpers every trivial submission carries (it runs in the sandbox like any submission).
_TRIVIAL_RUNTIME = r'''
import base64 as _b64, hashlib as _hl, zlib as _zl
import numpy as _np


def _bpgrade_leaves(value, found):
    """Every number and array in the call's arguments, in order (dict keys sorted)."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _bpgrade_leaves(value[key], found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _bpgrade_leaves(item, found)
    elif isinstance(value, (_np.ndarray, float, int, _np.floating, _np.integer)) and not isinstance(value, bool):
        found.append(_np.asarray(value, dtype=_np.float64))
    return found


def _bpgrade_fingerprint(args):
    digest = _hl.blake2b(digest_size=12)
    for leaf in _bpgrade_leaves(list(args), []):
        digest.update(repr(leaf.shape).encode())
        digest.update(_np.ascontiguousarray(leaf).tobytes())
    return digest.hexdigest()


def _bpgrade_shapes(args):
    return repr([leaf.shape for leaf in _bpgrade_leaves(list(args), [])])


def _bpgrade_pack(outs, kind, names, scalars):
    outs = [float(v) if s else _np.asarray(v, dtype=_np.float64) for v, s in zip(outs, scalars)]
    if kind == "single":
        return outs[0]
    return tuple(outs) if kind == "tuple" else dict(zip(names, outs))


def _bpgrade_unpack(value, kind, names):
    if kind == "single":
        return [value]
    return list(value) if kind == "tuple" else [value[name] for name in names]
'''

#: Generic answers: the reference runs only to give each output its shape.
_TRIVIAL_GENERIC = r'''
_REF = {"__name__": "bpgrade_reference"}
exec(compile(_REF_SOURCE, "reference", "exec"), _REF)


def _bpgrade_trivial(value, args, kind, names, scalars):
    leaves = _bpgrade_leaves(list(args), [])
    answers = []
    for out in _bpgrade_unpack(value, kind, names):
        shape = _np.shape(out)
        if _ECHO is None:
            answers.append(_np.full(shape, _CONSTANT))
        else:  # the _ECHO-th input of the output's shape (the last one if fewer), else zeros
            same = [leaf for leaf in leaves if leaf.shape == shape]
            answers.append(same[min(_ECHO, len(same) - 1)].copy() if same else _np.zeros(shape))
    return _bpgrade_pack(answers, kind, names, scalars)
'''

#: A lookup table: the stored answer for inputs seen before, else one for inputs of the same
#: shapes, else the first (float64 bytes, byte-shuffled and compressed).
_TRIVIAL_TABLE = r'''
_ANSWERS = _np.frombuffer(_zl.decompress(_b64.b64decode(_DATA)), dtype=_np.uint8).reshape(8, -1).T.copy().view(_np.float64).ravel()


def _bpgrade_lookup(fn, args, kind, names, scalars):
    table = _INDEX[fn]
    key = _bpgrade_fingerprint(args)
    if key not in table["answers"]:
        key = table["by_shapes"].get(_bpgrade_shapes(args), next(iter(table["answers"])))
    outs = [_ANSWERS[start:start + size].reshape(shape) for start, size, shape in table["answers"][key]]
    return _bpgrade_pack(outs, kind, names, scalars)
'''

_runtime: dict = {}


def _helpers() -> dict:
    """The submissions' helpers, for the grader's side of a lookup table (same fingerprints)."""
    if not _runtime:
        exec(compile(_TRIVIAL_RUNTIME, "bpgrade_trivial_runtime", "exec"), _runtime)
    return _runtime


def call_args(fn, inputs: dict) -> list:
    """A case's inputs as the worker passes them to ``fn`` (after ``prepare``)."""
    kwargs = copy.deepcopy(inputs)
    return [(fn.prepare(kwargs) if fn.prepare else kwargs)[name] for name in fn.args]


def _wrapper(fn, body: str) -> str:
    args = ", ".join(fn.args)
    facts = (fn.returns.kind, list(fn.returns.names), [o.scalar for o in fn.returns.outs])
    return f"\n\ndef {fn.name}({args}):\n    return {body.format(args=args)}, {', '.join(map(repr, facts))})\n"


def generic_trivial_source(spec, reference: str, *, constant: float = 0.0, echo: int | None = None) -> str:
    """Every graded function of ``spec`` returning ``constant`` in each entry of each output
    (at the reference's shapes), or, with ``echo=k``, the k-th input of each output's shape."""
    parts = [_TRIVIAL_RUNTIME, f"_REF_SOURCE = {reference!r}", f"_CONSTANT = {float(constant)!r}",
             f"_ECHO = {echo!r}", _TRIVIAL_GENERIC]
    parts += [_wrapper(fn, f"_bpgrade_trivial(_REF[{fn.name!r}]({{args}}), ({{args}},)") for fn in spec.functions]
    return "\n".join(parts)


def table_source(spec, tables: dict[str, list[tuple[list, dict]]]) -> str:
    """A submission that answers from a lookup table: ``tables[function]`` lists ``(call
    arguments, outputs)``; an output missing from a row is returned as zeros of the shape the
    first row gives it. Functions without a table are not defined."""
    helpers = _helpers()
    flat: list[np.ndarray] = []
    index: dict[str, dict] = {}
    offset = 0
    for fn in spec.functions:
        rows = tables.get(fn.name)
        if not rows:
            continue
        entry = index[fn.name] = {"answers": {}, "by_shapes": {}}
        shapes = {name: np.shape(value) for name, value in rows[0][1].items()}
        for args, outputs in rows:
            key = helpers["_bpgrade_fingerprint"](args)
            stored = []
            for name in fn.returns.names:
                value = np.asarray(outputs.get(name, np.zeros(shapes.get(name, ()))), dtype=np.float64)
                flat.append(value.ravel())
                stored.append((offset, value.size, value.shape))
                offset += value.size
            entry["answers"].setdefault(key, stored)
            entry["by_shapes"].setdefault(helpers["_bpgrade_shapes"](args), key)
    raw = np.concatenate(flat).view(np.uint8).reshape(-1, 8).T.tobytes() if flat else b""
    data = base64.b64encode(zlib.compress(raw, 9)).decode()
    parts = [_TRIVIAL_RUNTIME, f"_DATA = {data!r}", f"_INDEX = {index!r}", _TRIVIAL_TABLE]
    parts += [_wrapper(fn, f"_bpgrade_lookup({fn.name!r}, ({{args}},)") for fn in spec.functions if fn.name in index]
    return "\n".join(parts)


def _group_cases(grader) -> Iterator[tuple[object, object, dict]]:
    """(function, case, expected outputs) for every case ``grader`` grades."""
    from ..cases import groups

    spec = grader.spec
    for key, parts in groups(spec).items():
        for case in grader.cases(key):
            yield spec.function(parts[0].function), case, grader.expected(parts[0], case)


def answers_table(grader) -> dict[str, list[tuple[list, dict]]]:
    """What ``grader`` expects on each of its cases, per function: with a check-mode grader,
    the public answers a student could copy from ``bpgrade check``."""
    tables: dict[str, list] = {}
    for fn, case, expected in _group_cases(grader):
        tables.setdefault(fn.name, []).append((call_args(fn, case.inputs), expected))
    return tables


def declared_table(grader, name: str) -> dict[str, list[tuple[list, dict]]]:
    """The declared trivial answer ``name`` (``Function(trivial=...)``) on every case of the
    functions declaring it, as a lookup table (unmodelled outputs: zeros)."""
    tables: dict[str, list] = {}
    for fn, case, expected in _group_cases(grader):
        if name in fn.trivial:
            options = [o for _, o in diagnose._wrong_options({name: fn.trivial[name]}, case.inputs, expected)]
            if options:
                zeros = {out: np.zeros(np.shape(value)) for out, value in expected.items()}
                tables.setdefault(fn.name, []).append((call_args(fn, case.inputs), {**zeros, **options[0]}))
    return tables


def _echoes(grader) -> int:
    """How many inputs share one output's shape, at most, on ``grader``'s cases (each is echoed
    by its own submission)."""
    leaves, most = _helpers()["_bpgrade_leaves"], 1
    for fn, case, expected in _group_cases(grader):
        found = leaves(call_args(fn, case.inputs), [])
        for value in expected.values():
            most = max(most, sum(leaf.shape == np.shape(value) for leaf in found))
    return most


def trivial_sources(suite: Suite, grader, public_grader) -> list[tuple[str, str]]:
    """(name, source) of every trivial submission: zeros, ones, a constant, each input echoed,
    each declared trivial answer, and the public answers hard-coded."""
    spec = grader.spec
    sources = [("zeros", generic_trivial_source(spec, suite.reference, constant=0.0)),
               ("ones", generic_trivial_source(spec, suite.reference, constant=1.0)),
               ("constant 0.5", generic_trivial_source(spec, suite.reference, constant=0.5))]
    sources += [(f"echo #{k + 1}", generic_trivial_source(spec, suite.reference, echo=k)) for k in range(_echoes(grader))]
    declared = dict.fromkeys(name for fn in spec.functions for name in fn.trivial)
    sources += [(name, table_source(spec, declared_table(grader, name))) for name in declared]
    sources.append(("public answers", table_source(spec, answers_table(public_grader))))
    return sources


_FLOAT32 = '''

# --- generated variant: every graded function runs on float32 inputs, returns float64
import numpy as _bpgrade_np

_bpgrade_depth = [0]


def _bpgrade_to(value, dtype):
    """Float arrays (also inside dicts, lists, tuples) as ``dtype``, numpy floats as Python
    floats; the rest as is."""
    if isinstance(value, _bpgrade_np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, _bpgrade_np.floating):
        return float(value)
    if isinstance(value, dict):
        return {k: _bpgrade_to(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_bpgrade_to(v, dtype) for v in value)
    return value


def _bpgrade_float32_inside(function):
    def wrapped(*args, **kwargs):
        if _bpgrade_depth[0]:  # called by another graded function: already float32 inside
            return function(*args, **kwargs)
        _bpgrade_depth[0] += 1
        try:
            f32 = _bpgrade_np.float32
            value = function(*(_bpgrade_to(a, f32) for a in args), **{k: _bpgrade_to(v, f32) for k, v in kwargs.items()})
        finally:
            _bpgrade_depth[0] -= 1
        return _bpgrade_to(value, _bpgrade_np.float64)
    return wrapped
'''


def float32_variant(reference: str, functions: Sequence[str]) -> str:
    """The reference with each of ``functions`` run on its float arrays cast to float32 (also
    inside dicts) and its outputs cast back to float64: the arithmetic of a correct submission
    that works in float32 inside. Python numbers (a step size, a bias, a tolerance) and
    callables are passed as they are: numpy computes in float32 wherever they meet a float32
    array, and a step size rounded to float32 would change a diverging run's iterates by more
    than rounding (the error grows with every step)."""
    return reference + _FLOAT32 + "".join(f"{fn} = _bpgrade_float32_inside({fn})\n" for fn in functions)


