"""bpgrade: auto-graded backpropagation exercises.

The API is one function per verb: :func:`autograder.grade.grade` (``bpgrade grade`` and
``bpgrade check``). Importing this package loads numpy only: torch, the references and hidden
cases are loaded by the grading functions, after the sandbox zygote exists.
"""
__version__ = "0.1.0"
