"""``bpgrade``: thin click commands that forward to the API and take its defaults.

Exit codes: 0 success (``check``: every public case passed), 1 ``check`` found failures,
2 a usage, submission-independent or project error, 3 a grader bug (the oracles disagree).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__, project
from .oracle import OracleDisagreement
from .spec import AuthorError

_GRADE_DEFAULTS = {"seed": None}


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"bpgrade: {message}", err=True)
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
def check(assignment: str, submission: Path, as_json: bool) -> None:
    """Check SUBMISSION locally on the public cases (torch oracle; no hidden files needed).

    Exits 0 only if every public case passes.
    """
    from .report import dumps, to_json, to_text

    report = _run(submission, assignment, "check")
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
@click.option("--seed", type=click.IntRange(min=0), default=_GRADE_DEFAULTS["seed"],
              help="Per-student seed, mixed with the hidden seed (default: hidden seed only).")
@click.option("--figures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for feedback figures (default: next to --results-json, else ./bpgrade-figures).")
def grade_cmd(assignment: str, submission: Path, as_json: bool, results_json: Path | None,
              seed: int | None, figures: Path | None) -> None:
    """Grade SUBMISSION with the hidden cases, the reference and torch.autograd."""
    from .report import dumps, to_gradescope, to_json, to_text

    if figures is None:
        figures = results_json.parent if results_json else Path("bpgrade-figures")
    report = _run(submission, assignment, "grade", seed=seed, figures_dir=figures)
    if results_json:
        _atomic_write(results_json, dumps(to_gradescope(report)))
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
    from .run import Sandbox

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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    main()
