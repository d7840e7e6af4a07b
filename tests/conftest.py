"""Shared fixtures: one sandbox per test session, and helpers to grade source text."""
from __future__ import annotations

import pytest

from autograder.grade import grade
from autograder.sandbox.host import Sandbox


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox() as box:
        yield box


@pytest.fixture(scope="session")
def grade_source(sandbox):
    """grade_source(assignment, source, mode="grade") -> Report, through the real sandbox."""

    def run(assignment: str, source: str, mode: str = "grade", **kwargs):
        return grade(source=source, assignment=assignment, mode=mode, sandbox=sandbox, **kwargs)

    return run
