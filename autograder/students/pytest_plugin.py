"""``pytest`` in a student's folder runs the local checks: one test per part of each assignment file.

Registered as the ``bpgrade`` pytest plugin (entry point ``pytest11``), so ``pytest`` and IDE test
explorers find it wherever the checker is installed. Which files count is decided by
:mod:`autograder.students.folder`: ``<id>.py`` / ``<id>.ipynb`` at pytest's rootdir or in a
handout folder (one holding ``bpgrade.toml``). For such a file the tests are named after it and
the parts, ``<id>.py::<part>``. The whole file is checked once, in one sandbox run, when the
first of its tests runs (as ``bpgrade check`` checks it: same cases, same feedback), and each test
reports its part: it passes when every public case of the part passes, and a failure's message
is the part's lines as ``bpgrade check`` prints them. ``-k``, ``-x`` and ``--junitxml`` (one
testcase per part) work as usual; the student's own test files still run beside them.

In a handout folder an assignment without a file is one skipped test, ``bpgrade.toml::<id>``,
with the reason; an untouched stub beside a filled-in twin is skipped. The session ends with
one line per file: ``public k/n cases passed; hidden tests run on submission``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from . import folder as student

_SANDBOX = pytest.StashKey[object]()
_CHECKED = pytest.StashKey[list]()
_FOLDERS = pytest.StashKey[dict]()
_FILES = pytest.StashKey[list]()
_NOTE = pytest.StashKey[object]()  #: the local check's "not sandboxed" note, if any


def _student_folder(config: pytest.Config, where: Path) -> bool:
    known = config.stash.setdefault(_FOLDERS, {})
    if where not in known:
        known[where] = student.is_student_folder(where, config.rootpath)
    return known[where]


def _assignment_file(file_path: Path, parent: pytest.Collector) -> "AssignmentFile | None":
    if file_path.suffix not in student.SUFFIXES or not _student_folder(parent.config, file_path.parent):
        return None
    known, base = student.assignment_base(file_path.stem, file_path.parent)
    if not known:
        return None
    parent.config.stash.setdefault(_FILES, []).append(file_path)
    node = AssignmentFile.from_parent(parent, path=file_path)
    node.assignment, node.base = file_path.stem, base
    node.skip_reason = student.untouched_twin(file_path, file_path.stem, student.read_marker(file_path.parent))
    return node


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == student.MARKER and _student_folder(parent.config, file_path.parent):
        return HandoutFolder.from_parent(parent, path=file_path)
    if file_path.suffix == ".py" and parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest's python plugin asks pytest_pycollect_makemodule
    return _assignment_file(file_path, parent)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    """An assignment file named on the command line is checked, not imported as a test module."""
    return _assignment_file(module_path, parent)


def _sandbox(config: pytest.Config):
    """One sandbox for the whole session (set up as ``bpgrade check`` sets up its own, for the
    files collected), started once collection has found a part to check."""
    box = config.stash.get(_SANDBOX, None)
    if box is None:
        from .. import project
        from .checker import find_base
        from .local import check_sandbox_options, sandbox_for, source_text

        files = config.stash.get(_FILES, [])
        sources = [source_text(path, path.stem) for path in files]
        spec = project.load_assignment(files[0].stem, find_base(files[0].stem, here=files[0].parent))
        box, note = sandbox_for(str(spec.folder / "assignment.py"), **check_sandbox_options(sources))
        config.stash[_SANDBOX], config.stash[_NOTE] = box, note
        config.add_cleanup(box.close)
    return box


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the sandbox now if a part will be checked: it comes up while the tests start (not for
    --collect-only, which IDEs run often)."""
    if not session.config.option.collectonly and any(
            isinstance(item, PartItem) and not item.get_closest_marker("skip") for item in session.items):
        _sandbox(session.config)


class AssignmentFile(pytest.File):
    """An assignment file: one :class:`PartItem` per part; checked once, when the first runs."""

    assignment: str = ""
    base: Path | None = None
    skip_reason: str = ""
    _report = None
    _error: BaseException | None = None

    def collect(self):
        from .. import project

        spec = project.load_assignment(self.assignment, self.base)
        lines = _def_lines(self.path) if self.path.suffix == ".py" else {}
        for part in spec.parts:
            item = PartItem.from_parent(self, name=part.name)
            item.line = 0 if self.skip_reason else lines.get(part.function, 0)
            if self.skip_reason:
                item.add_marker(pytest.mark.skip(reason=self.skip_reason))
            yield item

    def report(self):
        """The file's check-mode Report (graded on the first call; an error is raised again)."""
        if self._report is None and self._error is None:
            from .. import project
            from ..grade import grade
            from ..spec import AuthorError

            try:
                self._report = grade(self.path, assignment=self.assignment, mode="check",
                                     sandbox=_sandbox(self.config), base=self.base)
            except (project.ProjectError, AuthorError) as exc:
                self._error = exc
            else:
                self.config.stash.setdefault(_CHECKED, []).append((self.path, self._report))
        if self._error is not None:
            raise CheckError(str(self._error))
        return self._report


def _def_lines(path: Path) -> dict[str, int]:
    """0-based line of each top-level ``def`` in a file, for IDEs to jump to (none if unreadable)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    return {line[4:].split("(")[0].strip(): i for i, line in enumerate(lines) if line.startswith("def ")}


class PartFailed(Exception):
    """A part with a failing public case: its feedback, as ``bpgrade check`` prints it."""


class CheckError(Exception):
    """The file could not be checked at all (no expected outputs, an unknown assignment...)."""


@dataclass
class _Crash:
    """The one-line summary of a failure (pytest's ``FAILED ... - <message>``, JUnit's message)."""

    path: str
    lineno: int
    message: str


class _PartRepr:
    """A failure's text for pytest: the part's lines as ``bpgrade check`` prints them."""

    def __init__(self, text: str, crash: _Crash):
        self.text, self.reprcrash = text, crash

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


class PartItem(pytest.Item):
    """One part of an assignment file: passes when every public case of the part passes."""

    line: int = 0

    def runtest(self) -> None:
        report = self.parent.report()
        part = next(p for p in report.parts if p.name == self.name)
        if not part.ok:
            raise PartFailed(part_text(report, part))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (PartFailed, CheckError)):
            text = str(excinfo.value)
            first = text.splitlines()[0] if text else self.name
            return _PartRepr(text, _Crash(str(self.path), self.line + 1, first))
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.line, f"{self.parent.name}::{self.name}"


def part_text(report, part) -> str:
    """What ``bpgrade check`` prints for one part (after the file's load problems, which every
    part shares), under a one-line summary."""
    from ..report import load_lines, part_lines

    head = f"{part.name}: {part.passed}/{part.total} public cases passed"
    if part.diagnoses:
        head += f" [{', '.join(part.diagnoses)}]"
    return "\n".join([head, *load_lines(report), *part_lines(report, part)])


class HandoutFolder(pytest.File):
    """The marker of a handout folder: one skipped test per assignment whose file is absent."""

    def collect(self):
        marker = student.read_marker(self.path.parent)
        for aid in student.absent(self.path.parent, marker or student.Marker()):
            item = AbsentItem.from_parent(self, name=aid)
            item.add_marker(pytest.mark.skip(
                reason=f"{aid}: no {aid}.py or {aid}.ipynb in {self.path.parent.name}/ (the handout's stub "
                       f"was moved or renamed; put your file back under that name to check it)"))
            yield item


class AbsentItem(pytest.Item):
    def runtest(self) -> None:  # never run: always skipped
        pass

    def reportinfo(self):
        return self.path, 0, f"{self.parent.name}::{self.name}"


def pytest_terminal_summary(terminalreporter) -> None:
    checked = terminalreporter.config.stash.get(_CHECKED, [])
    if not checked:
        return
    terminalreporter.section("bpgrade local checks")
    note = terminalreporter.config.stash.get(_NOTE, None)
    if note:
        terminalreporter.write_line(note)
    for path, report in checked:
        try:
            where = path.relative_to(terminalreporter.config.rootpath)
        except ValueError:
            where = path
        terminalreporter.write_line(f"{where}: {report.summary()}")
