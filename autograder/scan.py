"""The static scan of a submission's source for autograd imports, before anything runs.

A submission that imports an autograd library (:data:`autograder.sandbox.policy.FORBIDDEN_MODULES`)
is refused as `forbidden_import` without being run. The worker refuses the same imports at run time
(:class:`autograder.sandbox.guest.imports.ImportBlocker`); this scan names them first, in the student's
terms, including imports in functions that are never called.
"""
from __future__ import annotations

import ast
import io
import tokenize
from typing import Iterable

from .sandbox.policy import FORBIDDEN_MODULES
from .load import split_cells


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
