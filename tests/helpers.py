"""Helpers for tests: sources of the reference, the stub and mutants of the reference."""
from __future__ import annotations

from pathlib import Path

from autograder import project, selftest

ROOT = Path(__file__).resolve().parent.parent


def readme_student_commands() -> list[str]:
    """The lines of the README's student quick start (its first bash block under "## Students")."""
    import re

    section = (ROOT / "README.md").read_text().split("\n## Students\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).splitlines()


def readme_pytest_commands() -> list[str]:
    """The commands of the README's "Local tests with pytest" block (comments dropped)."""
    import re

    section = (ROOT / "README.md").read_text().split("\n### Local tests with pytest\n", 1)[1]
    block = re.search(r"```bash\n(.+?)\n```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines()]


def reference_source(assignment: str) -> str:
    return project.solution_path(assignment).read_text()


def stub_source(assignment: str) -> str:
    return (ROOT / "student_template" / f"{assignment}.py").read_text()


def mutate(source: str, old: str, new: str) -> str:
    """The reference with one edit; ``old`` must occur exactly once (so mutants cannot rot)."""
    return selftest.apply_edits(source, [(old, new)])


lost_parts = selftest.lost  #: the parts that scored below their points


def part_of(report, part: str):
    """The report's result for the part named ``part``."""
    return next(p for p in report.parts if p.name == part)


def codes_of(report, part: str) -> list[str]:
    return part_of(report, part).diagnoses


def child_pids(pid: int) -> list[int]:
    """The live (or zombie) children of a process, from /proc/PID/task/*/children."""
    kids = []
    for tid in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(x) for x in (tid / "children").read_text().split()]
    return kids
