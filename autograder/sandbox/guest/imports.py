"""The import blocker: the autograd libraries (:data:`~autograder.sandbox.policy.FORBIDDEN_MODULES`)
refuse to import in a worker, and :func:`preimport` loads what a worker may use before it loses
file access."""
from __future__ import annotations

import importlib.abc
import sys

from ..policy import FORBIDDEN_MODULES, PREIMPORT


def preimport(extra: tuple[str, ...] = ()) -> None:
    """Import :data:`PREIMPORT` and ``extra`` (what is missing on this platform is skipped)."""
    import importlib
    import warnings

    for name in (*PREIMPORT, *extra):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # plt.show() under the Agg backend says it cannot show: true, and nothing the student did wrong
    warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses the autograd libraries. A student can remove this hook, but the libraries are
    not importable anyway once file access is gone, and the static scan reports the attempt."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in FORBIDDEN_MODULES:
            raise ImportError(
                f"import of {fullname!r} is not allowed: compute the gradients yourself with numpy"
            )
        return None


def block_imports() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in FORBIDDEN_MODULES:
            del sys.modules[name]
    if not any(isinstance(finder, ImportBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, ImportBlocker())
