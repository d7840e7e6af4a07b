"""The sandbox of a student's local check, on whatever machine the student has.

Grading always runs in the full Linux sandbox (:class:`autograder.sandbox.host.Sandbox`) and fails loudly
without it. A local check runs the student's own code on the student's own machine against
public cases, with no secret anywhere: where the Linux sandbox is missing (macOS, Windows) or
cannot start (a container that refuses namespaces: some Colab runtimes, JupyterHub pods), it
runs in a separate Python process without the sandbox, and says so.
"""
from __future__ import annotations

import sys
from typing import Iterable

from ..sandbox.host import Sandbox, Submission, default_isolation
from ..sandbox.channel import Timeout
from ..sandbox.wire import TransportError

#: the platform names students know
PLATFORMS = {"darwin": "macOS", "win32": "Windows"}


#: words in a source that may import matplotlib (directly, or through pandas or seaborn plotting)
PLOTTING = ("matplotlib", "pylab", "plot", "seaborn", "pandas")


def check_sandbox_options(sources: Iterable[str]) -> dict:
    """Sandbox options for local checks of ``sources``: the zygote preimports matplotlib only when
    one of them may plot. For a file or two that import costs more than the rest of the check;
    a worker that needs it after all imports it itself."""
    return {} if any(word in text for text in sources for word in PLOTTING) else {"preimport": ()}


def source_text(submission, assignment: str) -> str:
    """The submission's source text, or "" (a file that cannot be read is reported when graded)."""
    from ..load import SubmissionError, load_source

    try:
        return load_source(submission, prefer=assignment)
    except SubmissionError:
        return ""


def sandbox_for(assignment_file: str, **options) -> tuple[Sandbox, str | None]:
    """A sandbox for local checks of the assignment whose ``assignment.py`` is given (``options``
    go to :class:`Sandbox`, e.g. :func:`check_sandbox_options`), and the note to show with its
    results: None for the full sandbox, else a sentence saying the check ran unsandboxed, and why."""
    if default_isolation() == "fork":
        try:
            sandbox = Sandbox(**options)
        except (OSError, RuntimeError) as exc:
            reason = f"the sandbox did not start ({exc})"
        else:
            reason = _fails(sandbox, assignment_file)
            if reason is None:
                return sandbox, None
            sandbox.close()
    else:
        reason = f"{PLATFORMS.get(sys.platform, sys.platform)} has no Linux sandbox"
    # a fresh interpreter per worker, no namespaces or file hiding (rlimits and the import
    # blocker where the platform has them): enough for a student's own code and public cases
    try:
        sandbox = Sandbox(isolation_mode="spawn", network="none", filesystem="none", **options)
    except (OSError, RuntimeError) as exc:
        raise RuntimeError(f"cannot run local checks here: {reason}, and no worker could be spawned ({exc})") from None
    problem = _fails(sandbox, assignment_file)
    if problem is not None:
        sandbox.close()
        raise RuntimeError(f"cannot run local checks here: {reason}, and {problem}")
    return sandbox, (f"note: not sandboxed ({reason}): your code ran in a separate Python process on "
                     "your machine; grading runs it in the sandbox.")


def _fails(sandbox: Sandbox, assignment_file: str) -> str | None:
    """Why ``sandbox`` cannot run code (it loads an empty file in a worker), or None."""
    try:
        with Submission(sandbox, "", assignment_file) as sub:
            result = sub.load()
    except (OSError, RuntimeError, TransportError, Timeout) as exc:
        return f"its worker did not start ({exc})"
    if result.status != "loaded":
        return f"its worker failed: {result.detail or result.status}"
    return None
