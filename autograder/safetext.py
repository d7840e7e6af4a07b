"""Student-controlled text made harmless for the people who read it.

Everything a student chooses (file and zip member names, notebook metadata, names and emails
in a Gradescope export, exception text, printed output) can hold terminal escape sequences
(clear the screen, set the window title, paint a fake green "score 10/10"), NUL, carriage
returns that overwrite a line, or bidi overrides that show text in another order than it is
stored. Every instructor-facing surface passes such text through here:

- :func:`shown` (terminal, feedback files, JSON, HTML before ``html.escape``): each control or
  format character becomes its visible escape (``\\x1b``, ``\\u202e``); newlines and tabs stay.
- :func:`name` is :func:`shown` for one-line values (file names, ids, gradebook cells):
  newlines are escaped too.
- :func:`csv_cell`: :func:`name` plus a leading ``'`` where a spreadsheet would start a formula.

Escaping (rather than deleting) keeps the evidence: ``\\x1b[2J.py`` tells the instructor what
the student tried. This module imports nothing of the engine, so the worker side may use it.
"""
from __future__ import annotations

import re
import unicodedata

#: C0 and C1 controls and DEL (tab and newline handled by the callers' choice)
_CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)])
#: invisible format characters that reorder or hide text (bidi embeddings, overrides and
#: isolates, marks, zero-width joiners, the BOM, line and paragraph separators)
_FORMATS = ("\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
            "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\ufff9\ufffa\ufffb")
_UNSAFE_TEXT = re.compile("[" + re.escape("".join(c for c in _CONTROLS if c not in "\n\t") + _FORMATS) + "]")
_UNSAFE_NAME = re.compile("[" + re.escape(_CONTROLS + _FORMATS) + "]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def _escape(match: re.Match) -> str:
    c = match.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def _valid(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():  # lone surrogates (from os.fsdecode of bad bytes) cannot be written
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def shown(value) -> str:
    """Multi-line text safe for a terminal, a file or (then html.escape'd) a page."""
    text = _valid(value)
    if text.isascii() and text.isprintable():  # the common case, fast
        return text
    text = _UNSAFE_TEXT.sub(_escape, text)
    return _other_formats(text, keep="\n\t")


def name(value) -> str:
    """A one-line value (a file name, an id, a person's name): every control escaped."""
    text = _valid(value)
    if text.isascii() and text.isprintable():
        return text
    return _other_formats(_UNSAFE_NAME.sub(_escape, text), keep="")


def _other_formats(text: str, keep: str) -> str:
    """Escape any remaining Unicode control or format character (category Cc/Cf) the tables
    above do not list (new ones appear with Unicode versions)."""
    if text.isascii():
        return text
    return "".join(f"\\u{ord(c):04x}" if c not in keep and unicodedata.category(c) in ("Cc", "Cf") else c
                   for c in text)


def csv_cell(value) -> str:
    """A gradebook text cell: one line, nothing escaped that a spreadsheet could run."""
    text = name(value)
    stripped = text.lstrip(" ")
    return "'" + text if stripped[:1] in _FORMULA_START else text


def plain(obj):
    """A JSON-able structure with every string (keys too) passed through :func:`shown`."""
    if isinstance(obj, str):
        return shown(obj)
    if isinstance(obj, dict):
        return {shown(k) if isinstance(k, str) else k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
