"""Results and their renderings: terminal text, ``--json``, and Gradescope's ``results.json``.

Student-facing text never contains a hidden expected value: in grading mode a failed case
shows the diagnosis, the relative error, the threshold and where, but not the expected number.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from . import catalogue, score
from .safetext import plain, shown

if TYPE_CHECKING:
    from .score import Rows
    from .spec import Assignment, Part

MAX_CASES_SHOWN = 3


@dataclass
class CaseResult:
    id: str
    passed: bool
    code: str | None = None
    message: str = ""
    detail: str = ""
    rel_error: float | None = None
    shape: str = ""


@dataclass
class PartResult:
    name: str
    function: str
    max_score: float
    score: float
    passed: int
    total: int
    diagnoses: list[str] = field(default_factory=list)
    tolerance: str = ""
    feedback: str = ""
    cases: list[CaseResult] = field(default_factory=list)
    public: bool = False
    figures: list[str] = field(default_factory=list)
    smallest_failing: str = ""
    notes: list[str] = field(default_factory=list)  #: how returned values were converted (the grader's words)
    hint: str = ""  #: the fix hint for the part's most common diagnosis (the part's own, else the catalogue's)

    def __post_init__(self) -> None:
        if not self.feedback:
            self.feedback = part_feedback(self)

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.passed == self.total


@dataclass
class Report:
    assignment: str
    title: str
    mode: str
    max_score: float
    oracles: list[str] = field(default_factory=list)
    seed: int | None = None
    parts: list[PartResult] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_error: str | None = None
    #: what did not run while loading (a cell that raised, hung or crashed; a script's body that
    #: stopped early), each in the student's terms; the rest was graded
    load_warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(p.score for p in self.parts), 4)

    @property
    def cases_passed(self) -> tuple[int, int]:
        return sum(p.passed for p in self.parts), sum(p.total for p in self.parts)

    def summary(self) -> str:
        k, n = self.cases_passed
        if self.mode == "check":
            return f"public {k}/{n} cases passed; hidden tests run on submission"
        return f"score {points(self.score)}/{points(self.max_score)} ({k}/{n} cases passed)"


# ------------------------------------------------------------------ from judged cases

def part_result(assignment: Assignment, part: Part, judged: Rows, *, public: bool,
                smallest: str = "") -> PartResult:
    """One part's result from its counted cases (:func:`autograder.score.counted`)."""
    codes = Counter(j.code for _, j in judged if not j.ok and j.code)
    case_results = [
        CaseResult(id=c.id, passed=j.ok, code=j.code, message=j.message, detail=j.detail,
                   rel_error=_shown_error(j.rel_error, public),
                   shape=c.shape_text)
        for c, j in judged
    ]
    tol_text = "; ".join(
        f"{name}: {part.tol_for(name).describe()}" for name in assignment.graded_outputs(part)
    )
    notes = list(dict.fromkeys(v.note for _, j in judged for v in j.verdicts if v.note))  # in order, once each
    diagnoses = [c for c, _ in codes.most_common()]
    hints = (part.hints.get(c) or catalogue.hint(c) for c in diagnoses)  # the part's own first
    return PartResult(
        name=part.name, function=part.function, max_score=float(part.points), score=score.points(part, judged),
        passed=sum(j.ok for _, j in judged), total=len(judged), diagnoses=diagnoses, tolerance=tol_text,
        cases=case_results, public=public, smallest_failing=smallest, notes=notes,
        hint=next((h for h in hints if h), ""),
    )


def _shown_error(rel_error: float | None, public: bool) -> float | None:
    """A case's relative error as reports carry it: on hidden cases two significant digits (a
    submission that steers its errors could otherwise spell out what it read of the inputs)."""
    if rel_error is None or not math.isfinite(rel_error):
        return None
    return rel_error if public else float(f"{rel_error:.2g}")


def unloadable(report: Report, assignment: Assignment, code: str, message: str) -> Report:
    """``report`` for a submission that could not be run: every part 0 with ``code``."""
    report.load_error = message
    for part in assignment.parts:
        report.parts.append(PartResult(
            name=part.name, function=part.function, max_score=float(part.points), score=0.0,
            passed=0, total=0, diagnoses=[code], tolerance=part.tol.describe(),
            feedback=f"{catalogue.sentence(code)} {message}".strip(),
        ))
    return report


def write_figures(report: Report, drawn: dict[str, bytes], folder: Path) -> None:
    """Write each part's figure (``drawn``: part name -> PNG bytes) to
    ``<folder>/<assignment>.<part>.png`` and list the file with the part."""
    for part in report.parts:
        png = drawn.get(part.name)
        if png:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{report.assignment}.{part.name}.png"
            path.write_bytes(png)
            part.figures.append(str(path))


def points(x: float) -> str:
    """Points for people: at most two decimals, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def part_feedback(part: PartResult) -> str:
    """The text a student reads for one part."""
    notes = [f"note: {note}." for note in part.notes]
    if part.total and part.passed == part.total:
        return "\n".join([f"all {part.total} cases passed ({part.tolerance})", *notes])
    failed = [c for c in part.cases if not c.passed]
    lines = [f"{part.passed}/{part.total} cases passed"]
    groups: dict[tuple, list[CaseResult]] = {}
    for c in failed:  # one entry per distinct mistake, with its first case as the example
        groups.setdefault((c.code, c.message), []).append(c)
    for (code, message), members in list(groups.items())[:MAX_CASES_SHOWN]:
        first = members[0]
        count = f"{len(members)} case{'s' if len(members) > 1 else ''}"
        lines.append(f"- [{code or 'failed'}] {message} ({count}, e.g. {first.id})")
        if first.detail:
            lines += ["    " + line for line in first.detail.splitlines()]
    if len(groups) > MAX_CASES_SHOWN:
        lines.append(f"- ... and {len(groups) - MAX_CASES_SHOWN} other kind(s) of failure")
    if part.smallest_failing:
        lines.append(f"smallest failing case: {part.smallest_failing}")
    lines += notes
    hint = part.hint or next((catalogue.hint(code) for code in part.diagnoses if catalogue.hint(code)), "")
    if hint:
        lines.append(f"hint: {hint}")
    lines.append(f"tolerance: {part.tolerance}")
    return "\n".join(lines)


def to_json(report: Report, *, compact: bool = False) -> dict:
    """The report as plain JSON data. ``compact`` leaves out each case's fields that hold
    their defaults (a passing case has no code, message or detail): the batch log keeps every
    case of every submission, and ``CaseResult(**case)`` reads either form."""
    case_json = _compact_case_json if compact else _case_json
    return {
        "assignment": report.assignment,
        "title": report.title,
        "mode": report.mode,
        "score": report.score,
        "max_score": report.max_score,
        "summary": report.summary(),
        "oracles": report.oracles,
        "seed": report.seed,
        "protections": report.protections,
        "load_error": report.load_error,
        "load_warnings": report.load_warnings,
        "notes": report.notes,
        "parts": [
            {
                "name": p.name, "function": p.function, "score": p.score, "max_score": p.max_score,
                "passed": p.passed, "total": p.total, "diagnoses": p.diagnoses,
                "feedback": p.feedback, "tolerance": p.tolerance, "figures": p.figures,
                "smallest_failing": p.smallest_failing,
                "cases": [case_json(c) for c in p.cases],
            }
            for p in report.parts
        ],
    }


_CASE_FIELDS = tuple(f.name for f in fields(CaseResult))


_CASE_DEFAULTS = {f.name: f.default for f in fields(CaseResult) if f.default is not MISSING}


def _case_json(case: CaseResult) -> dict:
    """``dataclasses.asdict(case)`` without its recursive deep copy, which cost more than the
    rest of the report: every field of a CaseResult is a str, bool, float or None."""
    return {name: getattr(case, name) for name in _CASE_FIELDS}


def _compact_case_json(case: CaseResult) -> dict:
    return {name: value for name in _CASE_FIELDS
            if (value := getattr(case, name)) != _CASE_DEFAULTS.get(name, MISSING)}


def to_gradescope(report: Report, *, visibility: str = "visible") -> dict:
    """Gradescope's results.json: one test per part, a top-level score."""
    tests = [
        {
            "name": p.name, "score": p.score, "max_score": p.max_score,
            "status": score.status(p.score, p.max_score), "output": p.feedback, "visibility": visibility,
        }
        for p in report.parts
    ]
    output = report.summary()
    if report.load_error:
        output += "\n" + report.load_error
    output += "".join("\n" + warning for warning in report.load_warnings)
    return plain({"score": report.score, "output": output, "tests": tests, "visibility": visibility,
                  "stdout_visibility": "hidden"})


def to_text(report: Report, *, color: bool = False) -> str:
    """The report for a terminal or a .txt file. Every piece of text is passed through
    :func:`safetext.shown` before the grader adds its own colours: a student's escape sequence
    (in a file name, a notebook field, an exception) is shown, never run."""
    lines = [shown(f"{report.title} ({report.assignment}) - "
                   f"{'local check, public cases' if report.mode == 'check' else 'grading'}")]
    lines += load_lines(report, color=color)
    for p in report.parts:
        lines += part_lines(report, p, color=color)
    lines.append(shown(report.summary()))
    return "\n".join(lines)


def _paint(text: str, ok: bool, color: bool) -> str:
    text = shown(text)
    return f"\x1b[{32 if ok else 31}m{text}\x1b[0m" if color else text


def load_lines(report: Report, *, color: bool = False) -> list[str]:
    """:func:`to_text`'s lines on what did not load or run (every part's problem)."""
    lines = [_paint(f"! {report.load_error}", False, color)] if report.load_error else []
    return lines + [_paint(f"! {warning}", False, color) for warning in report.load_warnings]


def part_lines(report: Report, p: PartResult, *, color: bool = False) -> list[str]:
    """:func:`to_text`'s lines for one part of ``report``: PASS or FAIL, the points, then a
    failing part's feedback (unless the file did not load: :func:`load_lines` say why)."""
    width = max((len(q.name) for q in report.parts), default=10)
    lines = [_paint(f"{'PASS' if p.ok else 'FAIL'} {p.name:<{width}}  {points(p.score)}/{points(p.max_score)}",
                    p.ok, color)]
    if not p.ok and not report.load_error:
        lines += ["      " + line for line in shown(p.feedback).splitlines()]
    return lines + [shown(f"      figure: {fig}") for fig in p.figures]


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, allow_nan=False, default=_default)


def _default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
