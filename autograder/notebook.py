"""The name every handed-out notebook imports: ``from autograder.notebook import checker``.

Import-light on purpose (the sandbox's worker may import it when a submitted notebook keeps its
setup cell): the checker lives in :mod:`autograder.students.checker`.
"""
from .students.checker import Checker, checker

__all__ = ["Checker", "checker"]
