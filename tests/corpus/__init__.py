"""A corpus of realistic student submissions and what each one should score, part by part.

Every file under ``tests/corpus/<assignment>/`` was written for this corpus, imitating how
students really write (notebooks with plots and stray cells, scripts with pandas, float32,
lists, loops...). ``manifest.toml`` says, for each file and each part of its assignment, what
the grade must be, decided from the math of the submission and the rules of DESIGN.md ("The
grade equals the student's math"), never by running the grader:

``full``
    full marks;
``wrong`` / ``wrong:<code>`` / ``wrong:<code>|<code>``
    not full marks (and, with codes, at least one of them among the part's diagnoses);
``zero`` / ``zero:<code>``
    a trivial answer (zeros, an input echoed back, uniform rows, a descent that never moves):
    a score of exactly 0.

:func:`grade_corpus` grades the corpus with the real grader in hidden-grading mode; both
``tests/test_corpus.py`` and ``python -m tests.corpus.table`` use it (and :class:`GraderPool`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parent
MANIFEST = CORPUS / "manifest.toml"
ASSIGNMENTS = ("logistic_regression", "mse_two_layer", "softmax_ce", "gradient_descent")
SUFFIXES = (".py", ".ipynb")
KINDS = ("full", "wrong", "zero")


# ---------------------------------------------------------------------------- the manifest

@dataclass(frozen=True)
class Expectation:
    kind: str                    #: "full", "wrong" or "zero"
    codes: tuple[str, ...] = ()  #: any one of these diagnoses must be among the part's

    @classmethod
    def parse(cls, text: str) -> "Expectation":
        kind, _, codes = str(text).partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown expectation {text!r}: use full, wrong[:code] or zero[:code]")
        if kind == "full" and codes:
            raise ValueError(f"{text!r}: a full-marks expectation takes no diagnosis code")
        return cls(kind, tuple(c for c in codes.split("|") if c))

    def __str__(self) -> str:
        return self.kind + (":" + "|".join(self.codes) if self.codes else "")


def load_manifest(path: Path = MANIFEST) -> dict[str, dict]:
    """``{"<assignment>/<file>": {"assignment", "habit", "parts": {part: Expectation}}}``."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    manifest = {}
    for rel, entry in raw.items():
        manifest[rel] = {**entry, "parts": {part: Expectation.parse(text) for part, text in entry["parts"].items()}}
    return manifest


def corpus_files() -> list[str]:
    """Every submission in the corpus, as ``"<assignment>/<file name>"``, in assignment order."""
    return [f"{aid}/{p.name}" for aid in ASSIGNMENTS
            for p in sorted((CORPUS / aid).iterdir()) if p.is_file() and p.suffix in SUFFIXES]


def assignment_parts(assignment: str) -> list[str]:
    from autograder import project

    return [part.name for part in project.load_assignment(assignment).parts]


def known_codes() -> set[str]:
    from autograder.catalogue import CATALOGUE

    return set(CATALOGUE)


# ---------------------------------------------------------------------------- judging

@dataclass
class PartOutcome:
    file: str
    part: str
    expected: Expectation
    score: float | None          #: None: the report has no such part
    max_score: float | None
    diagnoses: list[str]

    @property
    def full(self) -> bool:
        return self.score is not None and self.max_score is not None and self.score >= self.max_score - 1e-9

    @property
    def verdict(self) -> str:
        """``agree``, ``false_fail`` (expected full, is not), ``false_pass`` (expected wrong or
        zero, got full marks), ``trivial_points`` (expected zero, got some points),
        ``wrong_code`` (lost the points, but none of the expected codes was named) or
        ``missing`` (the report has no such part)."""
        if self.score is None:
            return "missing"
        kind = self.expected.kind
        if kind == "full":
            return "agree" if self.full else "false_fail"
        if self.full:
            return "false_pass"
        if kind == "zero" and self.score > 0:
            return "trivial_points"
        if self.expected.codes and not set(self.expected.codes) & set(self.diagnoses):
            return "wrong_code"
        return "agree"

    @property
    def agrees(self) -> bool:
        return self.verdict == "agree"

    def got(self) -> str:
        if self.score is None:
            return "no such part in the report"
        return f"{self.score:g}/{self.max_score:g} [{', '.join(self.diagnoses) or 'no diagnosis'}]"

    def describe(self) -> str:
        return f"{self.file}  {self.part}: expected {self.expected}, got {self.got()} ({self.verdict})"


@dataclass
class FileResult:
    file: str
    assignment: str
    outcomes: list[PartOutcome]
    load_error: str | None = None
    score: float = 0.0
    max_score: float = 0.0

    @property
    def disagreements(self) -> list[PartOutcome]:
        return [o for o in self.outcomes if not o.agrees]


def judge(rel: str, report, entry: dict) -> FileResult:
    """Compare a grader report with the manifest entry of file ``rel``."""
    parts = {p.name: p for p in report.parts}
    outcomes = []
    for name, expected in entry["parts"].items():
        p = parts.get(name)
        outcomes.append(PartOutcome(rel, name, expected, None if p is None else float(p.score),
                                    None if p is None else float(p.max_score),
                                    [] if p is None else list(p.diagnoses)))
    return FileResult(rel, entry["assignment"], outcomes, report.load_error, float(report.score),
                      float(report.max_score))


# ---------------------------------------------------------------------------- grading

class GraderPool:
    """One sandbox and one hidden-mode grader for one assignment at a time (the sandbox first,
    as ``autograder.grade.grade()`` does: the zygote starts before anything secret is loaded).
    Asking for another assignment closes the current pair."""

    def __init__(self):
        self.assignment: str | None = None
        self.sandbox = None
        self.grader = None

    def grade(self, assignment: str, path: Path):
        if assignment != self.assignment:
            self.close()
            from autograder.grade import Grader
            from autograder.sandbox.host import Sandbox

            self.sandbox = Sandbox()
            self.grader = Grader(assignment, mode="grade")
            self.assignment = assignment
        return self.grader.grade_path(path, self.sandbox)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
        self.assignment = self.sandbox = self.grader = None

    def __enter__(self) -> "GraderPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def grade_file(pool: GraderPool, rel: str, manifest: dict[str, dict]) -> FileResult:
    entry = manifest[rel]
    return judge(rel, pool.grade(entry["assignment"], CORPUS / rel), entry)


def grade_corpus(files: Iterable[str] | None = None, manifest: dict[str, dict] | None = None,
                 progress=None) -> list[FileResult]:
    """Grade the corpus files (all by default) in hidden-grading mode, one sandbox and one
    grader per assignment, and judge each against the manifest."""
    manifest = load_manifest() if manifest is None else manifest
    files = corpus_files() if files is None else list(files)
    order = {aid: i for i, aid in enumerate(ASSIGNMENTS)}
    files = sorted(files, key=lambda rel: (order.get(manifest[rel]["assignment"], 99), rel))
    results = []
    with GraderPool() as pool:
        for rel in files:
            results.append(grade_file(pool, rel, manifest))
            if progress is not None:
                progress(results[-1])
    return results
