"""The grading pipeline: load -> cases -> oracles -> run -> compare -> diagnose -> score.

``grade()`` is the API behind ``bpgrade grade`` and ``bpgrade check``. Only this process
decides scores; the worker only ever returns plain arrays.
"""
from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import importlib.util
import io
import math
import threading
import time
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from . import cases as casegen
from . import diagnose, project, trivial
from .cases import Case
from .compare import Verdict, compare
from .isolation import FORBIDDEN_MODULES, Limits
from .load import Cell, SubmissionError, load_source, split_cells
from .oracle import Oracles
from .report import CaseResult, PartResult, Report
from .run import CallResult, CellFailure, Request, Sandbox, Submission
from .score import part_score
from .spec import BUDGET_FLOOR, Assignment, Cases, Part

MODES = ("check", "grade")
SHRINK_CALLS = 32  #: extra student calls a group of parts may spend looking for smallest failing cases
SHRINK_WAVE = 2  #: shrink candidates sent to the worker at once (a wider wave wastes calls after a hit)
MAX_CRASHES = 2  #: after this many worker crashes in a part, its remaining cases are not run
SUBMISSION_TIMEOUT = 60.0  #: wall-clock seconds one submission may take, loading included; then `timeout`
NOT_SHRUNK = {"timeout", "crashed", "memory_limit", "missing_function", "not_implemented",
              "forbidden_import", "load_error", "too_slow"}


@dataclass
class Judged:
    ok: bool
    code: str | None
    message: str
    detail: str = ""
    rel_error: float | None = None
    verdicts: list[Verdict] = field(default_factory=list)


# ------------------------------------------------------------------ static checks

def forbidden_imports(source: str) -> list[str]:
    """Autograd libraries the source imports (statically: import statements and
    ``__import__``/``import_module`` calls with a literal name). Never raises."""
    return scan_imports(source)[0]


def scan_imports(source: str) -> tuple[list[str], str]:
    """(forbidden modules found, why the source could not be scanned or ""). The syntax tree
    is tried first; a source it cannot take (a syntax error, or an expression nested so deep
    that the parser raises RecursionError or MemoryError) is scanned token by token instead,
    which still finds import statements and literal ``__import__("...")`` calls. Only a source
    that not even the tokenizer reads is reported as unscannable."""
    if not _may_name_forbidden(source):
        return [], ""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is None:
        return _scan_tokens(source)
    found: list[str] = []
    for node in ast.walk(tree):
        names: Iterable[str] = ()
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("__import__", "import_module"):
                names = [node.args[0].value]
        _add_forbidden(found, names)
    return found, ""


def _add_forbidden(found: list[str], names: Iterable[str]) -> None:
    for name in names:
        top = name.strip().split(".")[0]
        if top in FORBIDDEN_MODULES and top not in found:
            found.append(top)


def _scan_tokens(source: str) -> tuple[list[str], str]:
    """The fallback of :func:`scan_imports`, cell by cell: ``import a.b, c``, ``from a.b import
    ...`` and ``__import__`` / ``import_module`` followed by ``(`` and adjacent string literals.
    A cell with a syntax error is scanned up to the error (the worker reports the error)."""
    found: list[str] = []
    for cell in split_cells(source):
        tokens = []
        try:
            for t in tokenize.generate_tokens(io.StringIO(cell.source).readline):
                if t.type not in (tokenize.NL, tokenize.COMMENT):
                    tokens.append(t)
        except (tokenize.TokenError, SyntaxError, ValueError):
            pass  # scanned up to the error
        except (RecursionError, MemoryError) as exc:
            return found, f"the grader could not read the source token by token ({type(exc).__name__})"
        _scan_cell_tokens(tokens, found)
    return found, ""


def _scan_cell_tokens(tokens: list, found: list[str]) -> None:
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME:
            continue
        if tok.string == "import" and (i == 0 or tokens[i - 1].string == ";" or
                                       tokens[i - 1].type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)):
            _add_forbidden(found, _dotted_names(tokens, i + 1, many=True))
        elif tok.string == "from":
            _add_forbidden(found, _dotted_names(tokens, i + 1, many=False))
        elif tok.string in ("__import__", "import_module") and i + 2 < len(tokens) \
                and tokens[i + 1].string == "(" and tokens[i + 2].type == tokenize.STRING:
            text = []
            for t in tokens[i + 2:]:
                if t.type != tokenize.STRING:
                    break
                try:
                    value = ast.literal_eval(t.string)
                except (ValueError, SyntaxError, RecursionError, MemoryError):
                    break
                text.append(value if isinstance(value, str) else "")
            _add_forbidden(found, ["".join(text)])


def _dotted_names(tokens: list, start: int, *, many: bool) -> list[str]:
    """The dotted names from ``tokens[start]`` on (``a.b`` or ``a.b as c, d``)."""
    names, current, i = [], "", start
    while i < len(tokens):
        t = tokens[i]
        if t.type == tokenize.NAME and t.string != "as" and (not current or current.endswith(".")):
            current += t.string
        elif t.string == "." and current:
            current += "."
        elif t.string == "as" and i + 1 < len(tokens):
            i += 1  # skip the alias
        elif t.string == "," and many and current:
            names.append(current)
            current = ""
        elif t.string == "(" and many:
            pass
        else:
            break
        i += 1
    if current:
        names.append(current)
    return names


def _may_name_forbidden(source: str) -> bool:
    """False when no import in ``source`` can name a forbidden module, decided without parsing
    it (ast.parse costs about 0.5 ms a submission). In ASCII source every identifier reads as
    written, so importing torch means "torch" occurs in the text; only the string argument of
    ``__import__``/``import_module`` can be assembled ("to" "rch", "\\x74orch"), so a source
    calling either is parsed. Non-ASCII source is parsed too: identifiers are NFKC-normalised."""
    return (not source.isascii() or "__import__" in source or "import_module" in source
            or any(name in source for name in FORBIDDEN_MODULES))


# ------------------------------------------------------------------ judging one case

#: Exception names shown as they are; a custom class name is student-chosen text.
_BUILTIN_ERRORS = {name for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, BaseException)}


def _error_code(call: CallResult, *, public: bool) -> tuple[str, str]:
    """The code and text for a call that raised. On hidden cases the student's exception message
    is not shown: it is student-controlled text computed from the hidden inputs (``raise
    ValueError(repr(X))`` would hand them out, and a later submission could hard-code the
    answers). The exception type and the student's own traceback lines stay; local checks,
    on public cases, show the whole message."""
    err = call.error or {}
    etype, msg = err.get("type", ""), err.get("message", "")
    if etype == "NotImplementedError":
        return "not_implemented", "not implemented yet (raises NotImplementedError)"
    if _blocked_import(err):
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


def judge(assignment: Assignment, part: Part, case: Case, call: CallResult,
          expected: dict[str, np.ndarray], *, public: bool, yardstick: float | None = None) -> Judged:
    """The verdict on one case of one part. Only plain arrays from the worker are looked at;
    huge or infinite student values must not make the grader itself warn."""
    with np.errstate(all="ignore"):
        return _judge(assignment, part, case, call, expected, public=public, yardstick=yardstick)


def _judge(assignment: Assignment, part: Part, case: Case, call: CallResult,
           expected: dict[str, np.ndarray], *, public: bool, yardstick: float | None) -> Judged:
    if call.status == "timeout":
        if part.budget and yardstick is not None:  # the budget's case: past the time limit is past the budget
            return Judged(False, "too_slow", diagnose.sentence("too_slow", seconds="more than the time limit",
                                                                 budget=f"{part.budget:g}"),
                          f"the reference took {yardstick * 1000:.2f} ms on this case; {call.detail}")
        return Judged(False, "timeout", f"timed out ({call.detail})")
    if call.status == "crashed":
        return Judged(False, "crashed", f"the worker process died during the call ({call.detail})")
    if call.status == "memory_limit":
        return Judged(False, "memory_limit", "ran out of memory (the worker's memory limit)")
    if call.status == "error":
        code, text = _error_code(call, public=public)
        return Judged(False, code, text)
    if call.status != "ok":
        return Judged(False, "crashed", f"no result ({call.status}: {call.detail})")

    verdicts = []
    for name, scalar, tol in assignment.graded(part):
        problem = call.problems.get(name) if call.problems else None
        verdict = compare(name, expected[name], call.outputs.get(name), scalar=scalar, tol=tol,
                          type_info=call.types.get(name), problem=problem, values=part.values)
        if problem is not None and not public:  # the worker's text may quote student data (dict keys)
            returns = assignment.function(part.function).returns.describe()
            verdict.message = f"`{name}` is missing or not readable as {returns} (run `bpgrade check` for details)"
        verdicts.append(verdict)
    bad = [v for v in verdicts if not v.ok]
    worst = max((v.rel_error for v in verdicts if v.rel_error is not None), default=None)
    # The budget is judged before the values: an answer computed the expensive way (finite
    # differences) is also a little inaccurate on the wide case, and must still cost the part.
    if part.budget and yardstick is not None and call.cpu > max(BUDGET_FLOOR, part.budget * yardstick):
        detail = f"the reference took {yardstick * 1000:.2f} ms on this case"
        if bad:
            detail += f"; the values also differ: {bad[0].message}"
        return Judged(False, "too_slow", diagnose.sentence("too_slow", seconds=f"{call.cpu:.2f} s of CPU", budget=f"{part.budget:g}"),
                      detail, worst, verdicts)
    if bad:
        v = bad[0]
        code, fields = _refine(v, part, case, call, expected)
        message = diagnose.sentence(code, v.output, **fields)
        detail = v.message
        if public and v.got_value is not None:
            detail += f" (got {v.got_value:.6g}, expected {v.expected_value:.6g})"
        return Judged(False, code, message, detail, v.rel_error, verdicts)
    warned = [w for w in part.forbid if w in call.warnings] if call.warnings else None
    if warned:
        code = "overflow" if "overflow" in warned else "forbidden_warning"
        out = assignment.graded_outputs(part)[0]
        return Judged(False, code, diagnose.sentence(code, out),
                      f"numpy reported a floating-point {', '.join(warned)} warning during the call", worst, verdicts)
    if call.mutated:
        names = ", ".join(f"`{n}`" for n in call.mutated)
        return Judged(False, "input_mutated", diagnose.sentence("input_mutated", names=names), "", worst, verdicts)
    for check in part.checks:
        problem = check(case.inputs, dict(call.outputs))
        if problem:
            return Judged(False, "property", problem, "", worst, verdicts)
    return Judged(True, None, "", "", worst, verdicts)


def _refine(v: Verdict, part: Part, case: Case, call: CallResult,
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
    if v.code is None and v.threshold and v.rel_error <= diagnose.NEAR_MISS * v.threshold:
        # rounding-level, not a mistake's size: say so with both numbers (rounded, as on hidden cases)
        return "near_miss", {"error": f"{v.rel_error:.2g}", "threshold": f"{v.threshold:.2g}"}
    code = diagnose.detect_variants(call.outputs, v.output, dict(part.variants), case.inputs, expected)
    dims = case.dims or {}
    if code == "scaled_const":  # a modelled constant: name the factor when the whole result has one
        factor = diagnose.constant_factor(got, expected[v.output], tuple(dims.values()))
        return code, {"factor": f"factor {factor:.4g}"} if factor is not None else {}
    if code:
        return code, {}
    found = diagnose.detect_values(got, expected[v.output], batch=dims.get("N"), sizes=tuple(dims.values()))
    if found:
        return found
    if v.code is None and "overflow" in call.warnings:  # wrong values after an overflow
        return "overflow", {}
    return v.code or "wrong_values", {}


# ------------------------------------------------------------------ the pipeline

def source_sha256(source: str) -> str:
    """The content hash fresh hidden cases derive from: sha256 of the source text graded (what
    :func:`autograder.load.load_source` gives) without its checker lines, as the Gradescope plugin
    grades it, so a batch regrade of a Gradescope submission gets the same cases. A notebook and a
    ``.py`` of the same code are different texts (the notebook's has cell markers) and get
    different cases; the same file always gets the same ones."""
    from .load import without_checker

    try:
        text = without_checker(source)
    except (RecursionError, MemoryError, ValueError):  # a source ast cannot take: hash it as it is
        text = source
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Grader:
    """Everything about one assignment that does not depend on the submission: the spec, the
    oracles and, for shared cases, the seed and every case with its expected outputs, prepared
    once and shared by all submissions of a batch (thread-safe). Construct it after the
    sandboxes exist: it loads torch and, in grading mode, the hidden reference and key.

    Hidden cases are fresh by default: each submission gets cases derived from the assignment's
    hidden key, the student id (``student``, "" if unknown) and the hash of its source
    (:func:`source_sha256`), graded by a child Grader with its own cases and oracle outputs
    (:meth:`for_submission`). ``shared=True`` (or a ``seed``: another shared set) gives every
    submission the same hidden cases, for comparisons and benchmarks."""

    def __init__(self, assignment: str, *, mode: str = "grade", seed: int | None = None, shared: bool = False,
                 base: Path | None = None, figures_dir: Path | None = None, live: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.spec = project.load_assignment(assignment, base)
        self._key = project.assignment_key(assignment, base) if mode == "grade" else None
        self.fresh = mode == "grade" and not shared and seed is None
        self.seeds: tuple[int, ...] | None = (
            (project.PUBLIC_SEED if seed is None else seed,) if mode == "check" else
            None if self.fresh else project.shared_case_seed(self._key, seed))
        #: whether the zygote is handed every case's inputs up front: only public ones. Hidden ones
        #: (shared or fresh) reach a worker only with the calls that use them, after the student's
        #: module body has run: a file cannot read them at load time (print them, or precompute
        #: answers from them)
        self.preload = mode == "check"
        if mode == "check":  # outputs recorded in the handout, else torch (``live``: torch always)
            from .students.expected import public_oracles

            self.oracles = public_oracles(self.spec, self.seeds[0], live=live)
        else:
            reference = project.load_reference(self.spec, base)
            self.oracles = Oracles(self.spec, torch_oracle=project.load_torch_oracle(self.spec), reference=reference)
        self.figures_dir = figures_dir
        self.assignment_file = str(self.spec.folder / "assignment.py")
        self._tols = {key: {out: tol for p in parts for out, _, tol in self.spec.graded(p)}
                      for key, parts in _groups(self.spec).items()}
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._cases: dict[str, list[Case]] = {}
        self._shrunk: dict[str, list[Case]] = {}
        self._requests: dict[str, Request] = {}
        self._all_requests: list[Request] | None = None
        self._lock = threading.Lock()

    def with_seeds(self, seeds: tuple[int, ...]) -> "Grader":
        """A Grader for the hidden cases of ``seeds``, sharing the spec and the oracle modules but
        with its own cases and oracle outputs (dropped with it); like its parent, it preloads
        nothing."""
        child = copy.copy(self)
        child.fresh, child.seeds = False, seeds
        child.oracles = Oracles(self.spec, torch_oracle=self.oracles.torch, reference=self.oracles.reference)
        child._fresh_state()
        return child

    def for_submission(self, source: str, student: str = "") -> "Grader":
        """The Grader of this submission's hidden cases: itself for shared cases, else a child
        for the fresh cases of (student, source) (see the class docstring)."""
        if not self.fresh:
            return self
        return self.with_seeds(project.submission_case_seed(self._key, student=student or "",
                                                            source_sha256=source_sha256(source)))

    @property
    def public(self) -> bool:
        return self.mode == "check"

    def cases(self, key: str) -> list[Case]:
        """The group's cases; a random one on which a modelled mistake of the group's parts or
        a trivial answer gives the right answer is drawn again (see :func:`cases.generate`)."""
        if self.seeds is None:
            raise RuntimeError("fresh hidden cases depend on the submission: use for_submission(source, student), "
                               "or a Grader with shared=True")
        with self._lock:
            if key not in self._cases:
                parts = _groups(self.spec)[key]
                self._cases[key] = casegen.generate(_group_part(parts[0], key), self.seeds,
                                                    telling=lambda case: self._telling(parts, case))
            return self._cases[key]

    def _telling(self, parts: list[Part], case: Case) -> bool:
        """Whether ``case`` tells every modelled mistake of ``parts``, and every trivial answer
        (zeros, ones, a constant, an input echoed, the function's declared ones) where a part
        grades values, from the right answer (called with the lock held)."""
        tols = self._tols[parts[0].cases_key]
        expected = self.oracles.expected(parts[0], case, tols)
        models = self.spec.function(parts[0].function).trivial
        with np.errstate(all="ignore"):  # a model's inf - inf is no warning of ours
            if any(diagnose.hidden_mistake(dict(p.variants), case.inputs, expected, tols) for p in parts if p.variants):
                return False
            return not any(trivial.right_on(case.inputs, expected, {name: tol for name, _, tol in self.spec.graded(p)},
                                            models) for p in parts if p.values)

    def untelling(self) -> list[str]:
        """Ids of the random cases on which a modelled mistake or a trivial answer still gives
        the right answer (no draw of the case could tell them apart): for the assignment's
        author (``bpgrade selftest``). Edge cases and probes are left out: they may be
        degenerate on purpose, and count only beside a passing random case."""
        found = []
        for key, parts in _groups(self.spec).items():
            for case in self.cases(key):
                if case.probe is None and not casegen.is_edge(parts[0], case):
                    with self._lock:
                        if not self._telling(parts, case):
                            found.append(case.id)
        return found

    def expected(self, part: Part, case: Case) -> dict[str, np.ndarray]:
        with self._lock:
            return self.oracles.expected(part, case, self._tols[part.cases_key])

    def request(self, case: Case) -> Request:
        """The case's inputs encoded for a worker, once: every submission sends the same."""
        with self._lock:
            req = self._requests.get(case.id)
            if req is None:
                req = self._requests[case.id] = Request.of(case.inputs)
            return req

    def requests(self) -> list[Request]:
        """Every case's request: what a sandbox's zygote is given once (Sandbox.preload), so
        its workers are sent only references to them."""
        if self._all_requests is None:
            self._all_requests = [self.request(case) for key in _groups(self.spec) for case in self.cases(key)]
        return self._all_requests

    def shrink_candidates(self, group_part: Part, case: Case) -> list[Case]:
        """The smaller versions of ``case`` (see :func:`cases.shrink_candidates`), built once per
        case and shared by every submission that shrinks it."""
        with self._lock:
            if case.id not in self._shrunk:
                self._shrunk[case.id] = [c for c in casegen.shrink_candidates(group_part, case)
                                         if self.oracles.knows(group_part, c)]
            return self._shrunk[case.id]

    def prepare(self) -> "Grader":
        """Generate every case and compute its expected outputs now (oracles run once). With
        fresh cases there is nothing to share: one set of cases is computed and dropped, so torch
        and the reference are warm (before a pool forks) and a disagreement of the oracles stops
        grading before any submission is graded."""
        if self.fresh:
            self.with_seeds(project.shared_case_seed(self._key)).prepare()
            return self
        for key, parts in _groups(self.spec).items():
            for case in self.cases(key):
                self.expected(parts[0], case)
                self.request(case)
        return self

    def new_report(self) -> Report:
        return Report(assignment=self.spec.id, title=self.spec.title, mode=self.mode,
                      oracles=self.oracles.names, seed=None if self.mode == "grade" else self.seeds[0],
                      max_score=self.spec.max_score)

    #: wall-clock seconds per submission (loading and every call); parts not reached in time
    #: are `timeout` (set by grade(), Pool and the CLI's --submission-timeout)
    submission_timeout: float = SUBMISSION_TIMEOUT

    def grade_path(self, path: str | Path, sandbox: Sandbox, *, student: str = "") -> Report:
        try:
            source = load_source(path, prefer=self.spec.id)
        except SubmissionError as exc:
            return _unloadable(self.new_report(), self.spec, "load_error", str(exc))
        return self.grade_source(source, sandbox, student=student)

    def grade_source(self, source: str, sandbox: Sandbox, *, student: str = "") -> Report:
        """Grade ``source``; ``student`` (an id, "" if unknown) keys its fresh hidden cases."""
        if self.fresh:
            return self.for_submission(source, student).grade_source(source, sandbox)
        spec, report = self.spec, self.new_report()
        forbidden, unscannable = scan_imports(source)
        if unscannable:
            return _unloadable(report, spec, "load_error",
                               f"{unscannable}; the submission was not run (is it Python source?)")
        if forbidden:
            report.notes.append(f"forbidden import(s): {', '.join(forbidden)}")
            return _unloadable(report, spec, "forbidden_import",
                               f"the submission imports {', '.join(forbidden)}; use numpy only")
        if self.preload:  # public cases: workers start with their inputs, calls send references
            sandbox.preload(self.requests())
        budget = float(self.submission_timeout)
        deadline = time.monotonic() + budget
        with Submission(sandbox, source, self.assignment_file, load_timeout=min(spec.time_limit * 2, budget)) as sub:
            load = sub.load()
            report.protections = sub.protections
            if load.stdout:
                report.notes.append("output while loading:\n" + load.stdout)
            if load.status != "loaded":
                return _unloadable(report, spec, *_load_failure(load))
            if load.cells:
                stopped = [_cell_failure_text(c, sub.cells) for c in load.cells]
                if any(_blocked_import(c.error) for c in load.cells):
                    return _unloadable(report, spec, "forbidden_import", "\n".join(stopped))
                if not any(state == "ok" for state in load.defined.values()):
                    return _unloadable(report, spec, "load_error", "\n".join(stopped))
                report.load_warnings += stopped
            _grade_parts(report, self, sub, deadline=deadline, budget=budget)
        return report


def _load_failure(load) -> tuple[str, str]:
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
    code = "forbidden_import" if _blocked_import(err) else (
        "timeout" if load.status == "timeout" else "load_error")
    return code, text


def _blocked_import(err: dict | None) -> bool:
    """Whether an error is the import blocker refusing an autograd library
    (:class:`autograder.isolation.ImportBlocker`: an ImportError "... is not allowed ...")."""
    return bool(err) and err.get("type") in ("ImportError", "ModuleNotFoundError") \
        and "is not allowed" in err.get("message", "")


def _cell_failure_text(failure: CellFailure, cells: list[Cell]) -> str:
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


def grade(submission: str | Path | None = None, *, assignment: str, mode: str = "grade",
          student: str = "", shared: bool = False, seed: int | None = None, source: str | None = None,
          sandbox: Sandbox | None = None, base: Path | None = None, figures_dir: Path | None = None,
          limits: Limits | None = None, submission_timeout: float = SUBMISSION_TIMEOUT, live: bool = False) -> Report:
    """Grade one submission (a path, or ``source`` text). ``mode="check"`` is the student's
    local check: public cases (of ``seed`` if given), torch oracle only, no hidden material
    needed; its expected outputs are the handout's recorded ones where valid, unless ``live``
    (see :mod:`autograder.students.expected`). In grading mode the
    hidden cases are fresh for (``student``, the source) unless ``shared`` or a ``seed`` (a
    shared set) is given (see :class:`Grader`). ``submission_timeout``: wall-clock seconds for
    the whole submission (then `timeout`)."""
    own_sandbox = sandbox is None
    if own_sandbox:  # start the zygote before any reference or hidden case is loaded; it comes up meanwhile
        sandbox = Sandbox(limits=limits or Limits(), wait=False,
                          **(check_sandbox_options([source_text(submission, assignment, source)]) if mode == "check" else {}))
    try:
        grader = Grader(assignment, mode=mode, seed=seed, shared=shared, base=base, figures_dir=figures_dir, live=live)
        grader.submission_timeout = submission_timeout
        if source is None:
            return grader.grade_path(submission, sandbox, student=student)
        return grader.grade_source(source, sandbox, student=student)
    finally:
        if own_sandbox:
            sandbox.close()


#: words in a source that may import matplotlib (directly, or through pandas or seaborn plotting)
PLOTTING = ("matplotlib", "pylab", "plot", "seaborn", "pandas")


def check_sandbox_options(sources: Iterable[str]) -> dict:
    """Sandbox options for local checks of ``sources``: the zygote preimports matplotlib only when
    one of them may plot. For a file or two that import costs more than the rest of the check;
    a worker that needs it after all imports it itself."""
    return {} if any(word in text for text in sources for word in PLOTTING) else {"preimport": ()}


def source_text(submission, assignment: str, source: str | None = None) -> str:
    """The source text given, else the submission's, else "" (a file that cannot be read)."""
    if source is not None:
        return source
    try:
        return load_source(submission, prefer=assignment)
    except SubmissionError:
        return ""  # reported when it is graded


def _unloadable(report: Report, spec: Assignment, code: str, message: str) -> Report:
    report.load_error = message
    for part in spec.parts:
        report.parts.append(PartResult(
            name=part.name, function=part.function, max_score=float(part.points), score=0.0,
            passed=0, total=0, diagnoses=[code], tolerance=part.tol.describe(),
            feedback=f"{diagnose.sentence(code)} {message}".strip(),
        ))
    return report


def _groups(spec: Assignment) -> dict[str, list[Part]]:
    groups: dict[str, list[Part]] = {}
    for part in spec.parts:
        groups.setdefault(part.cases_key, []).append(part)
    return groups


def _group_part(lead: Part, key: str) -> Part:
    """A stand-in part named after the group, so cases (and their ids) are keyed by the group."""
    return Part(key, lead.points, lead.function, lead.cases)


def _grade_parts(report: Report, grader: Grader, sub: Submission, *, deadline: float = math.inf,
                 budget: float = math.inf) -> None:
    """Grade every part, group by group, within the submission's wall-clock ``deadline``
    (``time.monotonic()``): no call is given longer than what is left, the calls stop as soon
    as it passes, and every case not run by then is `timeout`."""
    spec, public, figures_dir = grader.spec, grader.public, grader.figures_dir
    defined = sub.load_result.defined
    by_part: dict[str, list[tuple[Case, Judged]]] = {}  # every part's cases, judged
    smallest: dict[str, str] = {}
    figures: dict[str, list[str]] = {}
    for key, parts in _groups(spec).items():
        lead = parts[0]
        fn = spec.function(lead.function)
        group_part = _group_part(lead, key)
        cases = grader.cases(key)
        results: dict[str, list[tuple[Case, Judged]]] = {p.name: [] for p in parts}
        shown: dict[str, list] = {p.name: [] for p in parts}
        state = defined.get(fn.name, "missing")
        if state != "ok":
            text = f"`{fn.name}` is {'not defined' if state == 'missing' else 'not a function'} in the submission"
            for p in parts:
                by_part[p.name] = [(case, Judged(False, "missing_function", text)) for case in cases]
            continue
        # one pipelined run over the group's cases; after a timeout (or repeated crashes) the
        # rest are not run, so a submission that hangs or dies everywhere costs seconds
        # answers may come batched (one wake-up per frame) unless a part judges each call's CPU time
        calls: dict[int, CallResult] = {}
        left = deadline - time.monotonic()
        if left > 0:
            running = sub.calls(fn.name, [grader.request(case) for case in cases], fn.returns.to_plain(),
                                min(spec.time_limit, left), max_crashes=MAX_CRASHES,
                                batched=not any(p.budget for p in parts))
            for index, call in running:
                calls[index] = call
                if time.monotonic() > deadline:
                    break  # the worker is killed with the submission: no further call is made
            running.close()
        over_budget = time.monotonic() > deadline
        timed_out = over_budget or any(call.status == "timeout" for call in calls.values())
        not_run = (CallResult("timeout", detail=f"the submission's time budget ({budget:g} s of wall clock) ran out "
                                                f"before this case; not run") if over_budget else
                   CallResult("timeout", detail="an earlier case of this part timed out; not run") if timed_out else
                   CallResult("crashed", detail=f"an earlier case crashed the worker {MAX_CRASHES} times; not run"))
        shrink_cache: dict[str, CallResult] = {}
        timed = _largest(cases) if any(p.budget for p in parts) else None
        with np.errstate(all="ignore"):  # what judge() does per call, once for the group
            for index, case in enumerate(cases):
                expected = grader.expected(lead, case)
                # the budget is judged on the widest case, when it ran (not after an earlier hang)
                yardstick = grader.oracles.seconds(lead, case) if index == timed and index in calls else None
                call = calls.get(index, not_run)
                for p in parts:
                    judged = _judge(spec, p, case, call, expected, public=public, yardstick=yardstick)
                    results[p.name].append((case, judged))
                    if p.figure is not None and call.status == "ok":
                        shown[p.name].append((case, call.outputs, expected))
        for p in parts:
            by_part[p.name] = results[p.name]
            smallest[p.name] = "" if timed_out else _smallest_failing(grader, p, group_part, sub, results[p.name],
                                                                      shrink_cache, deadline)
            if p.figure is not None and shown[p.name] and figures_dir is not None:
                png = p.figure(shown[p.name])
                if png:
                    figures_dir.mkdir(parents=True, exist_ok=True)
                    path = figures_dir / f"{spec.id}.{p.name}.png"
                    path.write_bytes(png)
                    figures[p.name] = [str(path)]
    by_part = _beside_a_values_pass(spec, by_part)
    for parts in _groups(spec).values():
        for p in parts:
            report.parts.append(_part_result(spec, p, by_part[p.name], public=public, smallest=smallest.get(p.name, "")))
            report.parts[-1].figures.extend(figures.get(p.name, []))


def _largest(cases: list[Case]) -> int:
    """The index of the case with the most input entries: the one a part's time budget is
    judged on. Only there does the expensive way cost far more than the floor; on a tiny case a
    one-off cost (a lazy import on the first call) would be all the floor measured."""
    return max(range(len(cases)), key=lambda i: sum(np.size(v) for v in cases[i].inputs.values()))


def _smallest_failing(grader: Grader, part: Part, group_part: Part, sub: Submission,
                      judged: list[tuple[Case, Judged]], cache: dict[str, CallResult],
                      deadline: float = math.inf) -> str:
    """Shrink the smallest failing case while it still fails the same way (Hypothesis' order:
    each size towards its low end), and describe the smallest one found.

    Starting from the smallest failure (edge cases are often already minimal) and trying a
    step's candidates a few at a time (SHRINK_WAVE, pipelined), stopping at the first that
    still fails, keeps the extra student calls few: for a wrong gradient they are most of
    what grading a buggy submission costs. ``cache`` shares the calls between the parts of a
    group (they grade outputs of the same calls); SHRINK_CALLS bounds them per group."""
    failing = [(c, j) for c, j in judged if not j.ok and j.code not in NOT_SHRUNK and c.dims]
    if not failing:
        return ""
    spec, public = grader.spec, grader.public
    fn = spec.function(part.function)
    best = min(failing, key=lambda cj: (sum(cj[0].dims.values()), cj[0].index))
    while True:
        found = None
        candidates = grader.shrink_candidates(group_part, best[0])
        for start in range(0, len(candidates), SHRINK_WAVE):
            left = deadline - time.monotonic()
            if left <= 0:  # the submission's time is up: show the smallest found so far
                break
            wave = candidates[start:start + SHRINK_WAVE]
            todo = [c for c in wave if c.id not in cache]
            todo = todo[:max(0, SHRINK_CALLS - len(cache))]
            if todo:
                for index, call in sub.calls(fn.name, [grader.request(c) for c in todo], fn.returns.to_plain(),
                                             min(spec.time_limit, left), max_crashes=1, batched=True):  # no budget judged
                    cache[todo[index].id] = call
            for candidate in wave:
                call = cache.get(candidate.id)
                if call is None:
                    continue
                j = judge(spec, part, candidate, call, grader.expected(part, candidate), public=public)
                if not j.ok and j.code == best[1].code:
                    found = (candidate, j)
                    break
            if found is not None or len(cache) >= SHRINK_CALLS:
                break
        if found is None:
            break
        best = found
    case, j = best
    text = f"{case.shape_text} ({case.id})"
    return text + (f": {j.detail}" if public and j.detail else "")


def _edges_beside_a_general_pass(spec: Assignment, part: Part,
                                 judged: list[tuple[Case, Judged]]) -> list[tuple[Case, Judged]]:
    """Edge cases count only when a random case of the part passes too. At N = 1 or one class a
    missing 1/N, a mean over the wrong axis or a constant softmax give the right answer, so an
    answer right only there has shown nothing; a right answer that breaks at N = 1 still loses
    just the edge."""
    general = [j.ok for c, j in judged if not casegen.is_edge(part, c)]
    if not general or any(general):  # a part of edges alone is judged on them
        return judged
    out = spec.graded_outputs(part)[0]
    return [(c, Judged(False, "edge_only", diagnose.sentence("edge_only", out), "", j.rel_error, j.verdicts))
            if j.ok and casegen.is_edge(part, c) else (c, j) for c, j in judged]


def _needs_a_values_pass(part: Part) -> bool:
    """Probe parts and property parts: their cases cannot be drawn again where a trivial answer
    passes them (zeros is the loss of saturated right predictions, uniform rows sum to 1)."""
    return not part.values or not isinstance(part.cases, Cases)


def _beside_a_values_pass(spec: Assignment, judged: dict[str, list[tuple[Case, Judged]]]
                          ) -> dict[str, list[tuple[Case, Judged]]]:
    """A probe or property part counts only beside a passing random case of a values part of the
    same function (:class:`autograder.spec.Part` requires one to exist). Random cases on which a
    trivial answer is right are drawn again, probes and properties cannot be, so an answer that
    passes only them has shown nothing; a right function that fails a probe still loses just
    the probe. Edges are judged within their part (:func:`_edges_beside_a_general_pass`)."""
    passing = {p.function for p in spec.parts if not _needs_a_values_pass(p)
               and any(j.ok for c, j in judged[p.name] if not casegen.is_edge(p, c))}
    out = {}
    for p in spec.parts:
        rows = judged[p.name]
        if _needs_a_values_pass(p) and p.function not in passing:
            text = diagnose.sentence("no_values_pass", spec.graded_outputs(p)[0])
            rows = [(c, Judged(False, "no_values_pass", text, "", j.rel_error, j.verdicts)) if j.ok else (c, j)
                    for c, j in rows]
        out[p.name] = rows
    return out


def _shown_error(rel_error: float | None, public: bool) -> float | None:
    """A case's relative error as reports carry it: on hidden cases two significant digits (a
    submission that steers its errors could otherwise spell out what it read of the inputs)."""
    if rel_error is None or not math.isfinite(rel_error):
        return None
    return rel_error if public else float(f"{rel_error:.2g}")


def _part_result(spec: Assignment, part: Part, judged: list[tuple[Case, Judged]], *, public: bool,
                 smallest: str = "") -> PartResult:
    judged = _edges_beside_a_general_pass(spec, part, judged)
    passed = sum(j.ok for _, j in judged)
    total = len(judged)
    score = part_score(float(part.points), passed, total, all_or_nothing=part.all_or_nothing)
    codes = Counter(j.code for _, j in judged if not j.ok and j.code)
    if codes["too_slow"]:  # an answer computed the expensive way is not the asked-for gradient anywhere
        score = 0.0
    case_results = [
        CaseResult(id=c.id, passed=j.ok, code=j.code, message=j.message, detail=j.detail,
                   rel_error=_shown_error(j.rel_error, public),
                   shape=c.shape_text)
        for c, j in judged
    ]
    tol_text = "; ".join(
        f"{name}: {part.tol_for(name).describe()}" for name in spec.graded_outputs(part)
    )
    notes = list(dict.fromkeys(v.note for _, j in judged for v in j.verdicts if v.note))  # in order, once each
    diagnoses = [c for c, _ in codes.most_common()]
    hints = (part.hints.get(c) or diagnose.hint(c) for c in diagnoses)  # the part's own first
    return PartResult(
        name=part.name, function=part.function, max_score=float(part.points), score=score,
        passed=passed, total=total, diagnoses=diagnoses, tolerance=tol_text, cases=case_results,
        public=public, smallest_failing=smallest, notes=notes, hint=next((h for h in hints if h), ""),
    )
