"""The vocabulary an assignment folder uses to declare itself.

An assignment is ``assignments/<id>/assignment.py`` defining ``ASSIGNMENT = Assignment(...)``,
plus ``assignments/<id>/oracle.py`` (the torch.autograd oracle, one function per student
function) and ``instructions.md`` (the math). ``assignment.py`` must import numpy only: it is
also loaded inside the sandboxed worker, where torch is refused.

Facts are declared once and checked when the file loads (see :meth:`Assignment.validate`), so a
misspelt function, a part without cases or points that do not add up is an error for the author
before any student is graded.

Usage::

    ASSIGNMENT = Assignment(
        id="sigmoid_demo",
        title="A sigmoid",
        functions=[Function("sigmoid", args=("z",), returns=Returns.array("s"))],
        parts=[Part("sigmoid", points=2, function="sigmoid",
                    cases=Cases(make_z, dims={"N": (1, 9), "D": (2, 7)}))],
    )
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .catalogue import CATALOGUE, MISTAKE

#: Seconds any call may take before a part's time budget applies: keeps noise out, and leaves
#: room for correct math written as Python loops (0.06-0.1 s on the widest cases below).
BUDGET_FLOOR = 0.5

#: The budget every graded gradient declares: a call may take 50x the reference's CPU time on the
#: part's widest case. The widest cases are chosen so that the reference takes under 1 ms there
#: (the floor decides), correct Python loops under 0.15 s, and finite differences over 1.7 s (3.5x
#: the floor) or a timeout, which on that case counts as over budget: a loaded machine moves CPU
#: times by tens of per cent, not by those factors (20 of 20 runs agreed with a CPU hog beside).
GRADIENT_BUDGET = 50.0

#: Floating-point warnings a part may forbid (numpy's names).
WARNINGS = ("overflow", "underflow", "divide", "invalid")


class AuthorError(Exception):
    """The assignment definition itself is wrong (raised at load time, before any grading)."""


@dataclass(frozen=True)
class Tol:
    """Scale-aware tolerance for one output.

    An output passes when ``max|got - expected| <= rtol * max(max|expected|, scale_floor) + atol``.
    The relative error shown to students is ``max|got - expected| / max(max|expected|, scale_floor)``,
    compared with ``rtol`` (plus ``atol`` over that scale, when an assignment adds one).
    Norm-wise scaling keeps near-zero gradient entries (cancellation) from failing a correct
    answer, while any real mistake (a transpose, a factor, a sign) is off by O(1) relative to the
    largest entry.

    The defaults are the tolerance policy of every assignment (README, "Tolerances"), with
    :data:`SCALAR` for a single number that can be, or cancel to, 0. Measured with
    ``bench/bench_tolerance.py`` over 300 seeds of every case of the four shipped assignments: a
    correct reference run in float32 inside passes every random and edge case, at worst 0.51 x
    the threshold (relative error 5e-5, an N = 1 bias gradient scaled by the floor; 1.8e-5 on
    the widest case), while the course's mistakes, on random cases, are off by 3e-4 to O(1) and
    fall within the threshold on 9 of 222,930 comparisons. The floor, 1e-2, keeps outputs whose
    entries all cancel to nearly 0 from being judged on rounding noise: there an absolute
    error of 1e-6 passes.
    """

    rtol: float = 1e-4
    atol: float = 0.0
    scale_floor: float = 1e-2

    def describe(self) -> str:
        scale = "max-abs expected" if self.scale_floor <= 1e-12 else f"max(max-abs expected, {self.scale_floor:g})"
        text = f"relative error <= {self.rtol:g} (max-abs error / {scale})"
        return text + (f" + {self.atol:g} absolute" if self.atol else "")


#: The policy for one number that can be, or cancel to, 0 (a loss, a bias gradient, f(x)):
#: its error is measured relative to max(|expected|, 1).
SCALAR = Tol(scale_floor=1.0)


@dataclass(frozen=True)
class Out:
    """One named output inside a function's return value."""

    name: str
    scalar: bool = False  #: a float (0-d) rather than an array


@dataclass(frozen=True)
class Returns:
    """The structure of a function's return value: one array/float, a tuple, or a dict."""

    kind: str  # "single" | "tuple" | "dict"
    outs: tuple[Out, ...]

    @classmethod
    def array(cls, name: str) -> "Returns":
        return cls("single", (Out(name),))

    @classmethod
    def scalar(cls, name: str) -> "Returns":
        return cls("single", (Out(name, scalar=True),))

    @classmethod
    def tuple(cls, *outs: Out) -> "Returns":
        return cls("tuple", tuple(outs))

    @classmethod
    def dict(cls, *outs: Out) -> "Returns":
        return cls("dict", tuple(outs))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outs)

    def to_plain(self) -> dict:
        return {"kind": self.kind, "outs": [[o.name, o.scalar] for o in self.outs]}

    def describe(self) -> str:
        if self.kind == "single":
            return "a float" if self.outs[0].scalar else "a numpy array"
        inner = ", ".join(o.name for o in self.outs)
        return f"a tuple ({inner})" if self.kind == "tuple" else f"a dict with keys {{{inner}}}"


@dataclass(frozen=True)
class Function:
    """A student function: its name, argument names, and return structure.

    ``prepare`` (optional) turns the plain inputs of a case into call arguments, e.g. builds the
    ``f`` and ``grad`` callables of a quadratic from arrays ``A`` and ``b``. It runs in the
    worker for the student's call and in the grader for both oracles (the torch oracle receives
    the prepared arguments too), so it must be numpy-only.

    ``trivial`` models answers that take none of the math and that only the assignment knows
    (uniform softmax rows, a descent that never moves): ``name -> fn(inputs, expected) ->
    outputs``, like a part's ``variants``. With the engine's own (zeros, ones, a constant, an
    input echoed: :mod:`autograder.trivial`), a random case on which one is right is drawn
    again, and ``bpgrade selftest`` checks that none earns a point.
    """

    name: str
    args: tuple[str, ...]
    returns: Returns
    prepare: Callable[[dict], dict] | None = None
    trivial: Mapping[str, Callable[[dict, dict], object]] = field(default_factory=dict)


@dataclass(frozen=True)
class Cases:
    """Random cases drawn from a shape vocabulary.

    ``make(rng, **dims)`` builds the inputs of one case from a seeded generator and a size per
    letter. Letters in ``dims`` map to inclusive ``(low, high)`` ranges; random cases give
    different letters different sizes where the ranges allow (so a transposed answer cannot
    pass by accident). ``edges`` lists size pins, e.g. ``{"N": 1}``; unpinned letters are drawn.
    A size an edge pins on its own is degenerate: random cases never draw it, and the edge cases
    count only when a random case of the part passes (at N = 1 a missing 1/N is right).
    Shrinking (smallest failing case) walks the same letters down towards their lows.
    """

    make: Callable[..., dict]
    dims: Mapping[str, tuple[int, int]]
    random: int = 6
    edges: Sequence[Mapping[str, int]] = ()
    distinct: bool = True
    shrink: bool = True


@dataclass(frozen=True)
class Probes:
    """Named hand-designed cases (huge logits, saturated probabilities...): ``name -> make(rng)``.

    ``rng`` is seeded from the grading seed, so public and hidden grading see different probes:
    a maker varies values, signs, order and sizes with it while keeping what the probe is for
    (logits past exp's overflow, a labelled class whose probability underflows), and answers
    copied from the public checks are worth nothing. A probe part counts only beside a passing
    random case of the same function: a trivial answer may be right on a probe (zeros is the
    loss of saturated, right predictions) and a probe cannot be drawn again."""

    makers: Mapping[str, Callable[[np.random.Generator], dict]]


@dataclass(frozen=True)
class Part:
    """A graded unit: points for the outputs of one function over one set of cases.

    Score = points x (passing cases / cases). ``outputs`` selects which outputs of the function
    this part grades (default: all), each with ``tol``; several parts may grade different outputs
    of the same call (the call runs once). ``forbid`` names floating-point warnings that fail a
    case (e.g. ``("overflow",)`` for a stable sigmoid). ``checks`` are extra properties
    ``check(inputs, outputs) -> str | None`` (a message when violated), run in the grader.
    ``variants`` name model mistakes for diagnosis: ``code -> fn(inputs, expected) -> outputs``.
    ``figure(items) -> png bytes`` draws feedback from ``[(case, got, expected), ...]``.
    ``hints`` map a diagnosis code to the fix hint shown with this part when that code is its
    most common one, in the assignment's own terms ("dW = dZ^T A_prev has W's shape (out, in)");
    it replaces the catalogue's hint, which is generic (true for any output), and is never
    shown with another part.
    ``budget`` flags answers computed the expensive way (finite differences, a forward pass per
    parameter): on the part's largest case (most input entries), a call using more CPU than
    ``budget`` x the reference on that case, and more than ``BUDGET_FLOOR`` seconds, fails as
    ``too_slow`` whatever its values (the expensive way is often a little inaccurate there too),
    and the part then scores 0. Give such a part one large case (an edge pinned at a wide shape)
    so the difference shows; the grader measures the worker's CPU time itself. Smaller cases are
    not timed: a one-off cost on a first call (a lazy import) must not cost the part.
    ``values=False`` makes a property part: shape, dtype and finiteness are still checked, then
    only ``checks`` decide (e.g. "rows of P sum to 1"). A trivial answer often has the property
    (uniform rows sum to 1), so a property part, like a part of probes, counts only beside a
    passing random case of a values part of the same function, which the assignment must have.
    """

    name: str
    points: float
    function: str
    cases: Cases | Probes
    tol: Tol = Tol()
    outputs: tuple[str, ...] | None = None
    tols: Mapping[str, Tol] = field(default_factory=dict)
    forbid: tuple[str, ...] = ()
    checks: tuple[Callable[[dict, dict], str | None], ...] = ()
    variants: Mapping[str, Callable[[dict, dict], dict]] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)  #: code -> this part's own fix hint
    all_or_nothing: bool = False
    values: bool = True  #: False: judge structure + ``checks`` only, not the numbers
    budget: float | None = None  #: a call may take budget x the reference's time (floor: BUDGET_FLOOR s)
    group: str = ""
    figure: Callable[[list], bytes | None] | None = None

    @property
    def cases_key(self) -> str:
        """Parts of one group share their cases and the student's calls (e.g. ``backward.W1``
        and ``backward.b1`` both grade one call of ``backward``); the key also names the cases."""
        return self.group or self.name

    def tol_for(self, output: str) -> Tol:
        return self.tols.get(output, self.tol)


@dataclass
class Assignment:
    id: str
    title: str
    functions: Sequence[Function]
    parts: Sequence[Part]
    time_limit: float = 5.0  #: wall-clock seconds per call
    summary: str = ""
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    folder: Any = None  #: set by the loader
    _graded: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    # ---- lookups
    def function(self, name: str) -> Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise KeyError(name)

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)

    def graded_outputs(self, part: Part) -> tuple[str, ...]:
        return part.outputs or self.function(part.function).returns.names

    def graded(self, part: Part) -> tuple[tuple[str, bool, Tol], ...]:
        """(name, is scalar, tolerance) of each output ``part`` grades, worked out once per part
        (the grader asks for every case of every submission)."""
        found = self._graded.get(part.name)
        if found is None:
            scalar = {o.name: o.scalar for o in self.function(part.function).returns.outs}
            found = self._graded[part.name] = tuple((name, scalar[name], part.tol_for(name))
                                                    for name in self.graded_outputs(part))
        return found

    @property
    def max_score(self) -> float:
        return float(sum(p.points for p in self.parts))

    # ---- checks on load
    def validate(self) -> None:
        """Raise :class:`AuthorError` on the first declaration that is wrong. One pass over the
        parts, in the order an author reads a Part; each check is a line or two and its message
        names the part, so they stay together rather than behind helpers."""
        def fail(msg: str) -> None:
            raise AuthorError(f"assignment {self.id!r}: {msg}")

        if not self.id.isidentifier():
            fail("id must be a Python identifier (it is also the stub's module name)")
        names = [f.name for f in self.functions]
        if len(set(names)) != len(names):
            fail(f"duplicate function names in {names}")
        if not self.parts:
            fail("declares no parts")
        seen: set[str] = set()
        groups: dict[str, Part] = {}
        for p in self.parts:
            first = groups.setdefault(p.cases_key, p)
            if first.function != p.function or first.cases is not p.cases:
                fail(f"parts {first.name!r} and {p.name!r} share group {p.cases_key!r} "
                     "but not the same function and cases")
            where = f"part {p.name!r}"
            if p.name in seen:
                fail(f"{where} is declared twice")
            seen.add(p.name)
            if p.function not in names:
                fail(f"{where} grades unknown function {p.function!r} (known: {names})")
            if not (isinstance(p.points, (int, float)) and p.points > 0):
                fail(f"{where} needs positive points, got {p.points!r}")
            fn = self.function(p.function)
            for out in p.outputs or ():
                if out not in fn.returns.names:
                    fail(f"{where} grades output {out!r}; {fn.name} returns {fn.returns.names}")
            for out in p.tols:
                if out not in fn.returns.names:
                    fail(f"{where} has a tolerance for unknown output {out!r}")
            for w in p.forbid:
                if w not in WARNINGS:
                    fail(f"{where} forbids unknown warning {w!r} (known: {WARNINGS})")
            for tol in [p.tol, *p.tols.values()]:
                if not (0 < tol.rtol < 1 and tol.atol >= 0):
                    fail(f"{where} has an invalid tolerance {tol}")
            if p.budget is not None and p.budget < 2:
                fail(f"{where} has a time budget of {p.budget} x the reference: too tight to be fair")
            for code, text in p.hints.items():
                if not (isinstance(code, str) and code.isidentifier() and isinstance(text, str) and text.strip()):
                    fail(f"{where} has a hint that is not code -> text: {code!r}")
            _check_codes(p, fail)
            if not p.values and not p.checks:
                fail(f"{where} sets values=False but declares no checks: it could not fail")
            if (not p.values or isinstance(p.cases, Probes)) and not any(
                    q.function == p.function and q.values and isinstance(q.cases, Cases) and q.cases.random
                    for q in self.parts):
                fail(f"{where} counts only beside a passing random case of {p.function!r}, but no part "
                     f"grades {p.function!r}'s values on random cases")
            if isinstance(p.cases, Cases):
                params = list(inspect.signature(p.cases.make).parameters)
                if params[:1] != ["rng"] or set(params[1:]) != set(p.cases.dims):
                    fail(f"{where}: make{tuple(params)} must take (rng, {', '.join(p.cases.dims)})")
                for letter, (lo, hi) in p.cases.dims.items():
                    if not 1 <= lo <= hi:
                        fail(f"{where}: dimension {letter} has an empty range ({lo}, {hi})")
                for pin in p.cases.edges:
                    unknown = set(pin) - set(p.cases.dims)
                    if unknown:
                        fail(f"{where}: edge {dict(pin)} pins unknown letters {sorted(unknown)}")
                if p.cases.random + len(p.cases.edges) == 0:
                    fail(f"{where} has no cases")
            elif isinstance(p.cases, Probes):
                if not p.cases.makers:
                    fail(f"{where} has no probes")
            else:
                fail(f"{where}: cases must be Cases(...) or Probes(...)")
        for hook in self.hooks:
            if not (hook.startswith("before_") or hook.startswith("after_")):
                fail(f"hook {hook!r} must be named before_<stage> or after_<stage>")


def _check_codes(part: Part, fail: Callable[[str], None]) -> None:
    """The diagnosis codes ``part`` declares (its ``variants`` and ``hints``) are in the catalogue,
    and a variant models a mistake in an answer: a misspelt code would reach students raw."""
    for what, declared in (("a variant", part.variants), ("a hint", part.hints)):
        for code in declared:
            if code not in CATALOGUE:
                fail(f"part {part.name!r} declares {what} for unknown diagnosis code {code!r} "
                     "(the codes are listed in autograder/catalogue.py)")
    for code in part.variants:
        if CATALOGUE[code].kind != MISTAKE:
            fail(f"part {part.name!r} declares a variant for {code!r}, a code of kind {CATALOGUE[code].kind!r}: "
                 f"a variant models a wrong answer, so its code must be of kind {MISTAKE!r}")
