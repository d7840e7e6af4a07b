"""The self-test's declarations (Mutant, Correct, Suite), its verdicts and the command that
runs them all (:func:`run`); the submissions it generates come from :mod:`.generate`."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .. import project
from ..report import Report
from .generate import answers_table, float32_variant, generated, table_source, trivial_sources


@dataclass(frozen=True)
class Mutant:
    """The reference with ``edits`` applied (each ``old`` must occur exactly once)."""

    id: str
    edits: Sequence[tuple[str, str]]
    loses: frozenset[str] | set[str]
    labels: dict[str, str] = field(default_factory=dict)  #: part -> expected first diagnosis
    append: str = ""  #: code appended after the edits (later definitions win)


@dataclass(frozen=True)
class Correct:
    """A correct implementation written differently: full ``source``, or the reference with
    ``edits`` and/or ``append``ed definitions, or a bundled ``example`` file name."""

    id: str
    source: str = ""
    edits: Sequence[tuple[str, str]] = ()
    append: str = ""
    example: str = ""


@dataclass
class Outcome:
    kind: str  # cases | reference | stub | trivial | mutant | correct | generated
    id: str
    ok: bool
    detail: str


def apply_edits(source: str, edits: Sequence[tuple[str, str]], append: str = "") -> str:
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"edit anchor occurs {count} times (must be once): {old!r}")
        source = source.replace(old, new)
    return source + ("\n" + append if append else "")


@dataclass
class Suite:
    assignment: str
    reference: str
    stub: str
    mutants: list[Mutant]
    correct: list[Correct]

    def mutant_source(self, m: Mutant) -> str:
        return apply_edits(self.reference, m.edits, m.append)

    def correct_source(self, c: Correct) -> str:
        if c.source:
            return c.source
        if c.example:
            return (project.root() / "solutions" / "examples" / self.assignment / c.example).read_text()
        return apply_edits(self.reference, c.edits, c.append)


def load(assignment: str, base: Path | None = None) -> Suite:
    root = base or project.root()
    path = root / "solutions" / "selftest" / f"{assignment}.py"
    mutants: list[Mutant] = []
    correct: list[Correct] = []
    if path.is_file():
        spec = importlib.util.spec_from_file_location(f"bpgrade_selftest_{assignment}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        mutants, correct = list(getattr(module, "MUTANTS", [])), list(getattr(module, "CORRECT", []))
    ids = [m.id for m in mutants] + [c.id for c in correct]
    if len(set(ids)) != len(ids):
        raise project.ProjectError(f"{path}: mutant and variant ids must be unique")
    return Suite(assignment, project.solution_path(assignment, base).read_text(),
                 (root / "student_template" / f"{assignment}.py").read_text(), mutants, correct)


# ------------------------------------------------------------------ verdicts

def lost(report: Report) -> set[str]:
    return {p.name for p in report.parts if p.score < p.max_score}


def first_codes(report: Report) -> dict[str, str | None]:
    return {p.name: (p.diagnoses[0] if p.diagnoses else None) for p in report.parts}


def judge_mutant(m: Mutant, report: Report) -> tuple[bool, str]:
    got, codes = lost(report), first_codes(report)
    problems = []
    if got != set(m.loses):
        missing, extra = sorted(set(m.loses) - got), sorted(got - set(m.loses))
        problems.append(f"lost parts differ (not lost: {missing}, unexpectedly lost: {extra})")
    for part, code in m.labels.items():
        if codes.get(part) != code:
            problems.append(f"{part} labelled {codes.get(part)!r}, expected {code!r}")
    return not problems, "; ".join(problems) or f"loses {sorted(got)}; labels ok"


def judge_full_marks(report: Report) -> tuple[bool, str]:
    if report.score == report.max_score:
        return True, "full marks"
    return False, "lost " + ", ".join(f"{p.name} {p.diagnoses}" for p in report.parts if p.score < p.max_score)


def judge_float32(report: Report) -> tuple[bool, str]:
    """Full marks, probes included, as the tolerance policy promises float32 arithmetic inside
    (probe inputs are chosen so float32 holds them: logits on a grid of 1/8, a minimum on it)."""
    lost = [f"{p.name} {c.id} {c.code}" for p in report.parts for c in p.cases if not c.passed]
    if report.score == report.max_score and not lost:
        return True, "full marks, every case"
    return False, "lost: " + "; ".join(lost or [f"{p.name} {p.diagnoses}" for p in report.parts if p.score < p.max_score])


def judge_stub(report: Report) -> tuple[bool, str]:
    bad = [p.name for p in report.parts if p.diagnoses != ["not_implemented"]]
    ok = report.score == 0 and not bad
    return ok, "0 points, not_implemented everywhere" if ok else f"score {report.score}, other codes in {bad}"


def judge_trivial(reports: dict[str, Report], public_check: Report) -> tuple[bool, str]:
    """Every trivial submission scores 0 on every part; the hard-coded public answers prove
    something only if they do score full marks on the public cases they copy."""
    problems = [f"{name} earns {r.score:g} (" + ", ".join(f"{p.name} {p.score:g}" for p in r.parts if p.score > 0) + ")"
                for name, r in reports.items() if r.score > 0]
    if public_check.score != public_check.max_score:
        problems.append(f"the hard-coded public answers score {public_check.score:g}/{public_check.max_score:g} "
                        "on the public cases themselves, so their 0 shows nothing")
    return not problems, "; ".join(problems) or f"{', '.join(reports)}: 0 points on every part"


# ------------------------------------------------------------------ the command

def run(assignment: str, *, sandbox, progress: Callable[[Outcome], None] | None = None,
        base: Path | None = None) -> list[Outcome]:
    """Run every check above and return one Outcome each (``progress`` sees them as they come)."""
    from ..grade import Grader

    suite = load(assignment, base)
    grader = Grader(assignment, mode="grade", shared=True, base=base).prepare()  # one set of cases for all checks
    outcomes: list[Outcome] = []

    def record(kind: str, ident: str, verdict: tuple[bool, str]) -> None:
        outcome = Outcome(kind, ident, *verdict)
        outcomes.append(outcome)
        if progress:
            progress(outcome)

    untelling = grader.untelling()
    record("cases", "random cases", (not untelling, f"a modelled mistake or a trivial answer gives the right answer on "
                                     f"{untelling}" if untelling else
                                     "each tells every modelled mistake and trivial answer from the right answer"))
    record("reference", "reference", judge_full_marks(grader.grade_source(suite.reference, sandbox)))
    record("stub", "stub", judge_stub(grader.grade_source(suite.stub, sandbox)))
    public = Grader(assignment, mode="check", base=base).prepare()
    trivial = {name: grader.grade_source(src, sandbox) for name, src in trivial_sources(suite, grader, public)}
    copied = public.grade_source(table_source(grader.spec, answers_table(public)), sandbox)
    record("trivial", "trivial answers", judge_trivial(trivial, copied))
    for m in suite.mutants:
        record("mutant", m.id, judge_mutant(m, grader.grade_source(suite.mutant_source(m), sandbox)))
    for c in suite.correct:
        record("correct", c.id, judge_full_marks(grader.grade_source(suite.correct_source(c), sandbox)))
    functions = sorted({p.function for p in grader.spec.parts})
    record("float32", "reference in float32 inside",
           judge_float32(grader.grade_source(float32_variant(suite.reference, functions), sandbox)))
    for ident, src, part, code in generated(suite, grader):
        report = grader.grade_source(src, sandbox)
        codes = first_codes(report)
        ok = part in lost(report) and codes.get(part) == code
        record("generated", ident, (ok, f"{part}: first code {codes.get(part)!r}, expected {code!r}"))
    return outcomes
