"""``bpgrade``: thin click commands that forward to the API and take its defaults.

Exit codes: 0 success (``check``: every public case passed), 1 ``check`` found failures,
2 a usage, submission-independent or project error, 3 a grader bug (the oracles disagree).
"""
from __future__ import annotations

import concurrent.futures
import json
import sys
from pathlib import Path

import click

from . import __version__, project
from .safetext import shown
from .oracle import OracleDisagreement
from .spec import AuthorError

_GRADE_DEFAULTS = {"seed": None, "student": "", "shared": False}


def _submission_timeout():
    """The option shared by grade and batch (None: the API's default, grade.SUBMISSION_TIMEOUT,
    read only when a command runs so the CLI starts without numpy)."""
    return click.option("--submission-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                        help="Wall-clock seconds one submission may take in all, loading included; "
                             "parts not reached in time are `timeout` (default 60).")


def _timeout_kwargs(submission_timeout: float | None) -> dict:
    return {} if submission_timeout is None else {"submission_timeout": submission_timeout}


def _fail(message: str, code: int = 2) -> None:
    click.echo(shown(f"bpgrade: {message}"), err=True)  # may quote a student's file name
    sys.exit(code)


def _run(submission, assignment, mode, **kwargs):
    from .grade import grade

    try:
        return grade(submission, assignment=assignment, mode=mode, **kwargs)
    except OracleDisagreement as exc:
        _fail(str(exc), 3)
    except (project.ProjectError, AuthorError) as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bpgrade")
def main() -> None:
    """Auto-graded backpropagation exercises: check, grade, and report."""


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def list_cmd(as_json: bool) -> None:
    """List the assignments with their parts and points."""
    rows = []
    for aid in project.assignment_ids():
        spec = project.load_assignment(aid)
        rows.append({
            "id": spec.id, "title": spec.title, "max_score": spec.max_score,
            "parts": [{"name": p.name, "function": p.function, "points": p.points} for p in spec.parts],
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']}  ({row['max_score']:g} points)  {row['title']}")
        for p in row["parts"]:
            click.echo(f"    {p['name']:<28} {p['points']:>5g}   {p['function']}()")


@main.command()
@click.argument("assignment")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--live", is_flag=True,
              help="Compute the expected outputs with torch now instead of reading the ones recorded in the handout.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Other public cases, numbered N (needs torch unless the handout recorded them).")
def check(assignment: str, submission: Path, as_json: bool, live: bool, seed: int | None) -> None:
    """Check SUBMISSION locally on the public cases (no hidden files needed). A handout holds
    their expected outputs, computed by torch.autograd when it was built: there torch is not
    needed (--live computes them again).

    Exits 0 only if every public case passes.
    """
    from .report import dumps, to_json, to_text
    from .students.local import check_sandbox_options, sandbox_for, source_text

    def prepared():
        from .grade import Grader

        return Grader(assignment, mode="check", seed=seed, live=live)

    try:
        spec = project.load_assignment(assignment)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            grader = pool.submit(prepared)  # its expected outputs load while the sandbox starts
            try:
                sandbox, note = sandbox_for(str(spec.folder / "assignment.py"),
                                            **check_sandbox_options([source_text(submission, assignment)]))
            except RuntimeError as exc:  # no sandbox, and no worker could be spawned either
                _fail(str(exc))
            with sandbox:
                report = grader.result().grade_path(submission, sandbox)
    except OracleDisagreement as exc:
        _fail(str(exc), 3)
    except (project.ProjectError, AuthorError) as exc:
        _fail(str(exc))
    if note:
        click.echo(note, err=True)
    if as_json:
        click.echo(dumps(to_json(report)))
    else:
        click.echo(to_text(report, color=sys.stdout.isatty()))
    k, n = report.cases_passed
    sys.exit(0 if n and k == n else 1)


@main.command("grade")
@click.argument("assignment")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--results-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write Gradescope's results.json here.")
@click.option("--student", default=_GRADE_DEFAULTS["student"], metavar="ID",
              help="The student's id, keying the fresh hidden cases: the batch id (file or folder name), or "
                   "a Gradescope submitter's email, reproduces the cases graded there (default: none).")
@click.option("--shared-cases", "shared", is_flag=True, default=_GRADE_DEFAULTS["shared"],
              help="The hidden cases every submission shares (comparisons, benchmarks), not fresh ones.")
@click.option("--seed", type=click.IntRange(min=0), default=_GRADE_DEFAULTS["seed"],
              help="Another set of shared hidden cases, numbered N (implies --shared-cases).")
@click.option("--figures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for feedback figures (default: next to --results-json, else ./bpgrade-figures).")
@_submission_timeout()
def grade_cmd(assignment: str, submission: Path, as_json: bool, results_json: Path | None, student: str,
              shared: bool, seed: int | None, figures: Path | None, submission_timeout: float | None) -> None:
    """Grade SUBMISSION with the hidden cases, the reference and torch.autograd.

    Hidden cases are fresh per submission by default: derived from the course's hidden secret,
    the student id (--student) and the file's content, so the same file always gets the same
    cases and values leaked by one submission are useless to the next.
    """
    from .report import dumps, to_gradescope, to_json, to_text

    if figures is None:
        figures = results_json.parent if results_json else Path("bpgrade-figures")
    report = _run(submission, assignment, "grade", student=student, shared=shared, seed=seed, figures_dir=figures,
                  **_timeout_kwargs(submission_timeout))
    if results_json:
        from .fsutil import atomic_write

        atomic_write(results_json, dumps(to_gradescope(report)))
    if as_json:
        click.echo(dumps(to_json(report)))
    else:
        click.echo(to_text(report, color=sys.stdout.isatty()))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def demo(as_json: bool) -> None:
    """Grade the bundled example submissions of every assignment (no arguments needed)."""
    from .grade import grade
    from .report import points, to_json
    from .sandbox.host import Sandbox

    examples = project.root() / "solutions" / "examples"
    if not examples.is_dir():
        _fail(f"no bundled examples at {examples}")
    with Sandbox() as sandbox:  # one zygote for the whole run, before any reference loads
        for aid in project.assignment_ids():
            files = sorted((examples / aid).glob("*.py")) + sorted((examples / aid).glob("*.ipynb"))
            if not files:
                continue
            if not as_json:
                click.echo(f"\n== {aid}")
            for path in files:
                report = grade(path, assignment=aid, sandbox=sandbox, figures_dir=Path("bpgrade-figures"))
                if as_json:
                    click.echo(json.dumps({"example": path.name, **to_json(report)}))
                    continue
                codes = sorted({c for p in report.parts for c in p.diagnoses})
                click.echo(f"  {path.name:<32} {points(report.score):>5}/{points(report.max_score)}   "
                           f"{', '.join(codes) if codes else 'all parts pass'}")


@main.command("batch")
@click.argument("assignment")
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: results.jsonl (the log), gradebook.csv, feedback/, report/.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel sandbox slots (default: one per core).")
@click.option("--shared-cases", "shared", is_flag=True,
              help="Every submission gets the same hidden cases (comparisons, benchmarks; oracles run once), "
                   "not fresh ones per submission.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Another set of shared hidden cases, numbered N (implies --shared-cases).")
@click.option("--resume", is_flag=True, help="Continue the log in --out: skip submissions already graded.")
@click.option("--executor", default=None, metavar="tcp://HOST:PORT",
              help="Grade on a Dask cluster (scheduler address; needs the 'dask' extra).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--retry-errors", is_flag=True,
              help="With --resume: grade again the submissions the grader failed on (recorded once otherwise).")
@_submission_timeout()
def batch_cmd(assignment: str, submissions: Path, out: Path, workers: int | None, shared: bool,
              seed: int | None, resume: bool, executor: str | None, no_progress: bool, retry_errors: bool,
              submission_timeout: float | None) -> None:
    """Grade a folder or zip of SUBMISSIONS (files, per-student folders, or a Gradescope export).

    Hidden cases are fresh per submission by default (keyed by the student id, the batch id or a
    Gradescope export's submitter emails, and the file's content): a regrade of a Gradescope
    export gets the cases Gradescope graded. Writes an fsynced results log, a gradebook CSV, per-submission feedback and an HTML class
    report into --out. Safe to kill at any moment; rerun with --resume to continue.
    """
    from .batch import BatchError, run_batch
    from .batch.gradebook import LogLocked
    from .batch.submissions import DiscoveryError

    try:
        summary = run_batch(assignment, submissions, out=out, workers=workers, seed=seed, shared=shared, resume=resume,
                            executor=executor, progress=not no_progress, retry_errors=retry_errors,
                            **_timeout_kwargs(submission_timeout))
    except OracleDisagreement as exc:
        _fail(str(exc), 3)
    except (project.ProjectError, AuthorError, BatchError, LogLocked, DiscoveryError) as exc:
        _fail(str(exc))
    for line in summary.lines():
        click.echo(shown(line))
    sys.exit(1 if summary.missing else 0)


@main.command()
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if a notebook is out of date.")
def notebooks(check_only: bool) -> None:
    """Generate student_template/<id>.ipynb from each assignment folder and stub."""
    from .students.notebooks import write_all

    try:
        changed = write_all(check_only=check_only)
    except (project.ProjectError, AuthorError) as exc:
        _fail(str(exc))
    for path in changed:
        click.echo(f"{'out of date' if check_only else 'wrote'}: {path}")
    if check_only and changed:
        sys.exit(1)
    if not changed:
        click.echo("notebooks are up to date")


@main.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the student bundle into (must be new or empty).")
@click.option("--assignment", "assignments", multiple=True,
              help="Only this assignment (repeatable; default: all).")
@click.option("--force", is_flag=True, help="Replace OUT if it is not empty.")
@click.option("--wheel-url", metavar="URL", default=None,
              help="Where you will publish the student wheel (a folder URL ending in /): the notebooks' first "
                   "cell installs the checker from there on Colab or a JupyterHub (default: the wheel file "
                   "beside the notebook).")
def handout(out: Path, assignments: tuple[str, ...], force: bool, wheel_url: str | None) -> None:
    """Write the student handout: stubs, notebooks, the student wheel and a README; nothing hidden."""
    from .students.handout import HandoutError, build, posix_recipe

    try:
        written = build(out, assignments=list(assignments) or None, force=force, wheel_url=wheel_url)
    except (HandoutError, project.ProjectError, AuthorError) as exc:
        _fail(str(exc))
    click.echo(f"wrote {len(written)} files to {out}; the student wheel: {written[0]}")
    click.echo(f"students, from {out} (its README.md also has Windows, Colab and JupyterHub):")
    for line in posix_recipe((list(assignments) or project.assignment_ids())[0]):
        click.echo(f"    {line}")


@main.command()
@click.argument("assignment")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the autograder zip (e.g. autograder.zip).")
@click.option("--visibility", type=click.Choice(["visible", "hidden", "after_due_date", "after_published"]),
              default="visible", show_default=True, help="Gradescope visibility of the per-part results.")
def gradescope(assignment: str, out: Path, visibility: str) -> None:
    """Build ASSIGNMENT's Gradescope autograder zip; written only if the reference solution scores
    full marks through it (its run_autograder as Gradescope runs it, and `otter run` where
    otter-grader is installed)."""
    from .gradescope.autograder_zip import GradescopeError, build

    try:
        result = build(assignment, out, visibility=visibility)
    except (GradescopeError, project.ProjectError, AuthorError) as exc:
        _fail(str(exc))
    otter = (f"otter run {result.otter_seconds:.1f} s" if result.otter_seconds is not None
             else "otter run not tried: otter-grader is not installed")
    click.echo(f"wrote {out}: the reference scored {result.score:g}/{result.max_score:g} "
               f"through it (run_autograder {result.seconds:.1f} s; {otter})")


@main.command()
@click.argument("assignment")
@click.option("--verbose", "-v", is_flag=True, help="Print every check, not only the failures.")
def selftest(assignment: str, verbose: bool) -> None:
    """Check an assignment's grading before releasing it: reference full marks, stub zero,
    trivial answers (zeros, ones, a constant, an input echoed, the declared ones, the public
    answers hard-coded) zero, every mutant in solutions/selftest/ASSIGNMENT.py caught and
    labelled, every correct variant full marks, the reference run in float32 inside right on
    every random and edge case, generated output mutants (negated, doubled, transposed) named.

    Exits 0 only if every check holds.
    """
    from . import selftest as suite
    from .sandbox.host import Sandbox

    counts: dict[str, list[int]] = {}

    def show(outcome) -> None:
        ok_fail = counts.setdefault(outcome.kind, [0, 0])
        ok_fail[0 if outcome.ok else 1] += 1
        if verbose or not outcome.ok or outcome.kind == "trivial":  # one line for the whole assignment
            click.echo(f"{'ok  ' if outcome.ok else 'FAIL'} {outcome.kind:<9} {outcome.id}: {outcome.detail}")

    try:
        with Sandbox() as sandbox:
            outcomes = suite.run(assignment, sandbox=sandbox, progress=show)
    except (project.ProjectError, AuthorError, OracleDisagreement) as exc:
        _fail(str(exc), 3 if isinstance(exc, OracleDisagreement) else 2)
    for kind, (ok, bad) in counts.items():
        click.echo(f"{kind:<9} {ok} ok, {bad} failed")
    sys.exit(0 if all(o.ok for o in outcomes) else 1)


#: what a student's install offers: the handout's wheel has no instructor front ends, and there
#: every other command is left out (the add-ons of a student install name theirs here too)
STUDENT_COMMANDS = ("list", "check")
if project.student_side():
    for _name in set(main.commands) - set(STUDENT_COMMANDS):
        del main.commands[_name]

if __name__ == "__main__":
    main()
