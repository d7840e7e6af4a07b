"""The measurements behind the tolerance policy (autograder/spec.py, Tol).

    python bench/bench_tolerance.py [--seeds 300] [--assignment ID ...]

For every assignment, over ``--seeds`` seeds, every case of every values part is run in this
process through

* correct answers computed differently: the reference run in float32 inside (the variant
  ``bpgrade selftest`` generates), and the usual epsilon smoothing of a log
  (``np.log(p + 1e-8)``, ``np.clip(p, 1e-12, 1 - 1e-12)``) where the assignment takes one;
* the course's mistakes: every mutant of ``solutions/selftest/<id>.py`` on the parts it declares
  it loses, and every model mistake (``variants``) the parts declare.

It prints, per kind of case (random, edge, probe), the worst relative error of the correct
answers against the threshold each output is graded with, the number of comparisons that fail
it, and the smallest relative error of any mistake on a random case (errors below 1e-9 are the
mistake being right by coincidence on that case, and are left out).
"""
from __future__ import annotations

import argparse
import sys
import types
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder import cases, diagnose, project, selftest  # noqa: E402
from autograder.oracle import call_model  # noqa: E402
from autograder.spec import Tol  # noqa: E402

#: Correct answers with the usual epsilon smoothing, per assignment: (name, code appended).
EPSILON = {
    "logistic_regression": [
        ("eps_1e-8_in_log", '''
def bce_loss(X, y, w, b):
    p = sigmoid(X @ w + b)
    return float(-np.mean(y * np.log(p + 1e-8) + (1 - y) * np.log(1 - p + 1e-8)))
'''),
        ("clip_1e-12", '''
def bce_loss(X, y, w, b):
    p = np.clip(sigmoid(X @ w + b), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
'''),
    ],
    "softmax_ce": [
        ("eps_1e-8_in_log", '''
def cross_entropy(Z, Y):
    return float(-np.sum(Y * np.log(softmax(Z) + 1e-8)) / Z.shape[0])
'''),
        ("clip_1e-12", '''
def cross_entropy(Z, Y):
    return float(-np.sum(Y * np.log(np.clip(softmax(Z), 1e-12, 1.0))) / Z.shape[0])
'''),
    ],
    "gradient_descent": [
        ("eps_1e-8_in_log", '''
def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w, b = np.zeros(X.shape[1]), 0.0
    losses = []
    for epoch in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        losses.append(-np.mean(y * np.log(p + 1e-8) + (1 - y) * np.log(1 - p + 1e-8)))
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, np.array(losses)
'''),
    ],
}


def module(name: str, source: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(compile(source, name, "exec"), mod.__dict__)
    return mod


def smallest_labelled_p(inputs: dict) -> float:
    """The smallest probability a case's own model gives a labelled class (1.0 where there is
    none): where it is p, ``log(p + 1e-8)`` is off by about 1e-8 / p in that sample's term."""
    with np.errstate(all="ignore"):
        if {"X", "y", "w", "b"} <= set(inputs):
            p = 1.0 / (1.0 + np.exp(-(inputs["X"] @ inputs["w"] + inputs["b"])))
            return float(np.min(np.where(inputs["y"] == 1, p, 1.0 - p), initial=1.0))
        if {"Z", "Y"} <= set(inputs):
            Z = inputs["Z"] - inputs["Z"].max(axis=1, keepdims=True)
            P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
            return float(np.min(P[inputs["Y"] > 0], initial=1.0))
    return 1.0


def kind_of(part, case) -> str:
    if case.probe is not None:
        return "probe"
    return "edge" if cases.is_edge(part, case) else "random"


@dataclass
class Comparison:
    role: str      #: "correct" or "mistake"
    name: str      #: the variant or mistake
    kind: str      #: "random", "edge" or "probe"
    scalar: bool   #: a float output (graded with the scalar tolerance)
    diff: float    #: max|got - expected|
    size: float    #: max|expected|
    where: str
    tol: Tol       #: the tolerance the output is graded with
    labelled_p: float = 1.0  #: the smallest probability the case's model gives a labelled class


    def ratio(self, tol: Tol | None = None) -> float:
        """The error over what ``tol`` (default: the graded one) allows: above 1 fails."""
        tol = tol or self.tol
        return self.diff / (tol.rtol * max(self.size, tol.scale_floor) + tol.atol)

    def rel_error(self, tol: Tol | None = None) -> float:
        return self.diff / max(self.size, (tol or self.tol).scale_floor)


def collect(aid: str, seeds: int | range, *, mistakes: bool = True) -> list[Comparison]:
    """Every comparison of a correct variant (every case) and, with ``mistakes``, of every
    mistake (random cases) over ``seeds`` (a count, or a range of seeds)."""
    spec = project.load_assignment(aid)
    ref = project.load_reference(spec)
    suite = selftest.load(aid)
    graded = sorted({p.function for p in spec.parts})
    correct = {"float32_inside": module("f32", selftest.float32_variant(suite.reference, graded))}
    for name, code in EPSILON.get(aid, []):
        correct[name] = module(name, suite.reference + code)
    mutants = {}
    for m in suite.mutants if mistakes else ():
        try:
            mutants[m.id] = (module(m.id, suite.mutant_source(m)), set(m.loses))
        except Exception:  # noqa: BLE001 - a mutant that does not even load has no values
            pass
    found = []
    for seed in range(seeds) if isinstance(seeds, int) else seeds:
        for part in spec.parts:
            if not part.values:
                continue
            for case in cases.generate(part, (seed,)):
                kind = kind_of(part, case)
                labelled_p = smallest_labelled_p(case.inputs)
                expected = call_model(ref, spec, part.function, case.inputs)
                with np.errstate(all="ignore"):
                    answers = {("correct", name): call_model(mod, spec, part.function, case.inputs)
                               for name, mod in correct.items()}
                    if kind == "random" and mistakes:
                        for name, (mod, loses) in mutants.items():
                            if part.name not in loses:  # a mutant is a mistake only where it says it is
                                continue
                            try:
                                answers[("mistake", name)] = call_model(mod, spec, part.function, case.inputs)
                            except Exception:  # noqa: BLE001
                                pass
                        for code, option in diagnose._wrong_options(dict(part.variants), case.inputs, expected):
                            answers[("mistake", f"variant:{code}")] = option
                for (role, name), got in answers.items():
                    for out, scalar, tol in spec.graded(part):
                        g, e = got.get(out), expected[out]
                        if g is None:
                            continue
                        g = np.asarray(g, dtype=np.float64)
                        if not np.all(np.isfinite(e)) or (g.shape != e.shape and role == "mistake"):
                            continue  # a mistake of another shape has no relative error to measure
                        if g.shape != e.shape or not np.all(np.isfinite(g)):
                            diff = np.inf  # a correct answer of another shape (stopped elsewhere) fails
                        else:
                            diff = float(np.max(np.abs(g - e), initial=0.0))
                        found.append(Comparison(role, name, kind, scalar, diff, float(np.max(np.abs(e), initial=0.0)),
                                                f"{case.id} {out} seed={seed}", tol, labelled_p))
    return found


def summarize(aid: str, seeds: int, found: list[Comparison], tol_of: Callable[[Comparison], Tol] | None = None) -> None:
    """Print the worst correct answers and the closest mistakes, judged with ``tol_of(c)``
    (default: each output's graded tolerance)."""
    tol_of = tol_of or (lambda c: c.tol)
    worst: dict = defaultdict(lambda: (-1.0, "", 0.0))  # (kind, name) -> (error / threshold, where, error)
    fails: dict = defaultdict(int)
    judged: dict = defaultdict(int)
    closest: dict = {}  # mistake -> (relative error, where)
    for c in found:
        tol = tol_of(c)
        err = c.rel_error(tol)
        if c.role == "correct":
            key = (c.kind, c.name)
            judged[key] += 1
            ratio = c.ratio(tol)
            fails[key] += ratio > 1
            if ratio > worst[key][0]:
                worst[key] = (ratio, c.where, err)
        elif 1e-9 < err < closest.get(c.name, (np.inf,))[0]:
            closest[c.name] = (err, c.where)
    print(f"== {aid} ({seeds} seeds)")
    for (kind, name), (ratio, where, err) in sorted(worst.items()):
        print(f"  {kind:<6} {name:<16} {judged[(kind, name)]:>6} compared, {fails[(kind, name)]:>4} fail;"
              f" worst relative error {err:.3g} = {ratio:.3g} x threshold ({where})")
    mistaken = [c for c in found if c.role == "mistake" and c.rel_error(tol_of(c)) > 1e-9]
    if mistaken:
        passing = sum(c.ratio(tol_of(c)) <= 1 for c in mistaken)
        print(f"  mistakes: {len(mistaken)} wrong comparisons on random cases, {passing} within the threshold")
    for name, (err, where) in sorted(closest.items(), key=lambda kv: kv[1][0])[:5]:
        print(f"  mistake {name:<42} smallest relative error {err:.3g} ({where})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--assignment", nargs="*", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # a mutant's complex result, cast to float64
    for aid in args.assignment or project.assignment_ids():
        summarize(aid, args.seeds, collect(aid, args.seeds))


if __name__ == "__main__":
    main()
