"""The untrusted side: runs inside a confined worker process, never in the grader.

It loads the submission's source, then answers call requests one at a time: build the
arguments from plain arrays, call the student's function, and send back plain float64 arrays
plus facts (types, warnings, captured output, error text). It never sees an expected value,
and nothing it says is a verdict: the grader validates and judges every reply itself.

Also runnable as ``python -m autograder.sandbox.guest.worker --stdio`` (the spawn fallback for
platforms without a zygote: requests on stdin, replies on stdout).
"""
from __future__ import annotations

import importlib.util
import io
import linecache
import sys
import time
import traceback
import types
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import numpy as np

from ..channel import Channel, Closed
from ..policy import Confinement, Limits
from ..protocol import pack_arrays, split_arrays, unflatten
from ..values import split_return
from ..wire import INPUT_DTYPES, MAX_REQUEST_HEADER_BYTES, Encoded, decode, encode
from .confine import confine
from .imports import block_imports, preimport

SUBMISSION_FILE = "<submission>"
FLUSH_AFTER = 0.05  #: seconds batched replies may be held back (see Session._send_batched)


class CappedIO(io.StringIO):
    """A stdout/stderr replacement that keeps only the first ``cap`` characters."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap, self.dropped = cap, 0

    def write(self, s: str) -> int:
        s = str(s)
        room = self.cap - self.tell()
        if room > 0:
            super().write(s[:room])
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self) -> str:
        out = self.getvalue()
        return out + (f"\n... [{self.dropped} more characters not shown]" if self.dropped else "")


@dataclass(frozen=True)
class Inputs:
    """A case's inputs as the zygote holds them for every worker it forks: read-only arrays
    (each call gets copies) and their bytes, which the input-mutation check compares with."""
    scalars: dict
    arrays: dict[str, np.ndarray]
    original: dict[str, tuple[tuple, bytes]]

    @classmethod
    def frozen(cls, scalars: dict, arrays: dict[str, np.ndarray]) -> "Inputs":
        for value in arrays.values():
            value.flags.writeable = False
        return cls(dict(scalars), arrays, {k: (v.shape, v.tobytes()) for k, v in arrays.items()})


class Session:
    """One loaded submission and its call loop."""

    def __init__(self, channel: Channel, limits: Limits, assignment,
                 preloaded: dict[str, Inputs] | None = None):
        self.channel = channel
        self.limits = limits
        self.assignment = assignment
        self.functions = {fn.name: fn for fn in assignment.functions}
        self.namespace: dict = {}
        self.preloaded = preloaded or {}

    def load(self, msg: dict) -> dict:
        """Run the submission: a script as one unit, a notebook cell by cell in one namespace,
        as Jupyter runs it. A cell (or the script's body) that raises is reported with its
        error and the definitions made so far are kept; a notebook's next cells still run.
        Before each cell of a notebook a progress frame names it, so the grader knows which
        cell a hang or a crash happened in (and skips it in a fresh worker: ``skip``)."""
        out = CappedIO(self.limits.output_bytes)
        cells, skip = msg["cells"], set(msg.get("skip", ()))
        notebook = cells[0].get("n") is not None
        # a real module in sys.modules, as Python and Jupyter give the code they run: dataclasses
        # and typing look their class's module up there (``from __future__ import annotations``)
        module = types.ModuleType("__main__" if notebook else "submission")
        sys.modules[module.__name__] = module
        self.namespace = module.__dict__
        self.namespace.update(__file__=SUBMISSION_FILE, __builtins__=__builtins__)
        if notebook:  # what a Jupyter kernel has in every notebook without an import
            self.namespace.update(display=_display, get_ipython=_Shell)
        failed = []
        for cell in cells:
            number = cell.get("n")
            if number in skip:
                continue
            filename = SUBMISSION_FILE if number is None else f"<cell {number}>"
            _remember(filename, cell["source"])
            try:
                code = compile(cell["source"], filename, "exec", dont_inherit=True)
            except SyntaxError as exc:
                if not notebook:
                    return {"status": "syntax_error", "error": _syntax_error_text(exc)}
                failed.append({"n": number, "status": "syntax_error", "error": _syntax_error_text(exc)})
                continue
            if notebook:
                self.channel.send({"status": "cell", "n": number})
            with redirect_stdout(out), redirect_stderr(out):
                try:
                    exec(code, self.namespace)
                except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
                    failed.append({"n": number, "status": "error", "error": _error(exc)})
        defined = {
            fn.name: ("ok" if callable(self.namespace.get(fn.name)) else
                      "missing" if fn.name not in self.namespace else "not_callable")
            for fn in self.assignment.functions
        }
        reply = {"status": "loaded", "defined": defined, "stdout": out.text()}
        if failed:
            reply["cells"] = failed
        return reply

    def call(self, msg: dict, arrays: dict[str, np.ndarray],
             originals: dict[str, tuple[tuple, bytes]] | None = None) -> tuple[dict, dict]:
        fn_spec = self.functions[msg["function"]]
        inputs = unflatten(msg.get("scalars", {}), arrays)
        if originals is None:
            originals = {k: (v.shape, v.tobytes()) for k, v in arrays.items()}
        kwargs = fn_spec.prepare(inputs) if fn_spec.prepare else inputs
        args = [kwargs[name] for name in fn_spec.args]
        func = self.namespace.get(fn_spec.name)
        out = CappedIO(self.limits.output_bytes)
        warned: list[str] = []

        def on_fp_error(kind: str, _flag: int) -> None:
            kind = str(kind).split()[0]  # "divide by zero" -> "divide", "invalid value" -> "invalid"
            if kind not in warned:
                warned.append(kind)

        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        try:
            with np.errstate(all="call", call=on_fp_error):
                value = func(*args)
            returns = msg["returns"]
            result, types, problems = split_return(  # may run a hostile __array__
                value, returns["kind"], [name for name, _ in returns["outs"]])
        except MemoryError:
            return {"status": "memory_limit", "stdout": out.text()}, {}
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            return {"status": "error", "error": _error(exc), "stdout": out.text()}, {}
        finally:
            sys.stdout, sys.stderr = saved
        mutated = [  # bit for bit (a NaN written over a NaN is no change): cheaper than array_equal
            k for k, (shape, data) in originals.items()
            if arrays[k].shape != shape or arrays[k].tobytes() != data
        ]
        # only what is there: the usual reply is {"status": "ok"} and its arrays
        header = {"status": "ok", "types": types, "problems": problems, "warnings": warned,
                  "mutated": mutated, "stdout": out.text()}
        return {k: v for k, v in header.items() if v}, {f"out.{k}": v for k, v in result.items()}

    def run_calls(self, msg: dict, arrays: dict[str, np.ndarray]):
        """The replies to a ``calls`` frame, one per call as it finishes. A call names a
        preloaded case (``"case": ref``: fresh copies of the zygote's arrays) or carries its
        own inputs (``"scalars"`` and the next ``n`` arrays of the frame)."""
        function, returns = msg["function"], msg["returns"]
        for call, mine in split_arrays(msg["calls"], arrays):
            if "case" in call:
                held = self.preloaded[call["case"]]  # the grader names only cases it preloaded here
                scalars, originals = held.scalars, held.original
                mine = {k: v.copy() for k, v in held.arrays.items()}
            else:
                scalars, originals = call["scalars"], None
            header, out = self.call({"function": function, "returns": returns, "scalars": scalars}, mine, originals)
            header["seq"] = call["seq"]
            yield header, out

    def _send_batched(self, replies) -> None:
        """Replies held back and written together: when the frame's calls are done, or as
        soon as FLUSH_AFTER has passed since the last write (so a slow call never holds back
        the answers before it for long). One write and one wake-up of the grader per frame
        instead of per call; the grader asks for it only where no time budget is judged."""
        held, last = [], time.monotonic()
        for reply in replies:
            held.append(reply)
            if time.monotonic() - last > FLUSH_AFTER:
                self.channel.send_all(held)
                held, last = [], time.monotonic()
        if held:
            self.channel.send_all(held)

    def serve(self) -> None:
        while True:
            try:
                msg, arrays = self.channel.recv()
            except Closed:
                return
            op = msg.get("op")
            if op == "load":
                self.channel.send(self.load(msg))
            elif op == "calls" and msg.get("reply") == "batched":
                self._send_batched(self.run_calls(msg, arrays))
            elif op == "calls":
                for header, out in self.run_calls(msg, arrays):
                    self.channel.send(header, out)
            else:
                return


def warm_up(rounds: int = 32) -> None:
    """Run the whole call path (decode, call, flatten, encode) on dummy data. The zygote does
    this once: CPython (3.11+) specialises bytecode as it runs, so every worker forked
    afterwards starts with that work done instead of redoing it on its first calls."""
    from types import SimpleNamespace

    fn = SimpleNamespace(name="warm", args=("X", "params"), prepare=None)
    session = Session(None, Limits(), SimpleNamespace(functions=[fn]))
    session.namespace = {"warm": lambda X, params: (X @ params["W"], float(X.sum()))}
    returns = {"kind": "tuple", "outs": [["Y", False], ["s", True]]}
    arrays = {"X": np.ones((4, 3)), "params.W": np.ones((3, 2))}
    case = Encoded.of(arrays)
    session.preloaded = {"held": Inputs.frozen({}, {k: v.copy() for k, v in arrays.items()})}
    calls = [{"seq": i, "scalars": {}, "n": len(case.names)} for i in range(2)] + [{"seq": 2, "case": "held"}]
    frame = encode({"op": "calls", "function": "warm", "returns": returns, "calls": calls},
                   pack_arrays([case, case]))
    for _ in range(rounds):
        msg, arrays = decode(frame, INPUT_DTYPES)
        for header, out in session.run_calls(msg, arrays):
            decode(encode(header, out), INPUT_DTYPES)


def _student_file(filename: str) -> bool:
    return filename == SUBMISSION_FILE or filename.startswith("<cell ")


def _where(filename: str, lineno: int) -> str:
    return f"line {lineno}" if filename == SUBMISSION_FILE else f"code {filename[1:-1]}, line {lineno}"


def _error(exc: BaseException) -> dict:
    """Type, message and only the student's own frames of the traceback; for an import that
    failed, the module and the student's line that asked for it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _student_file(f.filename)]
    lines = [f"  {_where(f.filename, f.lineno)}, in {f.name}" + (f"\n    {f.line}" if f.line else "") for f in frames]
    message = str(exc)
    if len(message) > 2000:
        message = message[:2000] + " ..."
    error = {"type": type(exc).__name__, "message": message, "traceback": "\n".join(lines)[:4000]}
    if frames:  # where the student's code stopped, as the student numbers it
        error.update(where=_where(frames[-1].filename, frames[-1].lineno), line=(frames[-1].line or "")[:500])
    if isinstance(exc, ImportError):
        error["module"] = str(exc.name or "")[:200]
    return error


def _remember(filename: str, source: str) -> None:
    """Give tracebacks the student's lines (there is no file to read them from)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _display(*objs, **kwargs) -> None:
    """Jupyter's ``display()``: nothing to show where a notebook is graded."""


class _Shell:
    """What ``get_ipython()`` returns in a graded notebook: magics and shell commands called
    through it do nothing, as the same lines written with % or ! do (see autograder.load)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _syntax_error_text(exc: SyntaxError) -> dict:
    where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
    text = (exc.text or "").rstrip()
    return {"type": type(exc).__name__, "message": f"{exc.msg} ({where})", "traceback": f"    {text}" if text else ""}


def load_assignment(path: str, source: str | None = None):
    """The numpy-only ``assignment.py`` (for ``prepare`` and return structures), from ``source``
    if given (the zygote gets it from the grader: its namespace may not show the file)."""
    spec = importlib.util.spec_from_file_location("bpgrade_assignment", path)
    module = importlib.util.module_from_spec(spec)
    if source is None:
        spec.loader.exec_module(module)
    else:
        exec(compile(source, path, "exec"), module.__dict__)
    return module.ASSIGNMENT


def run(fd: int, *, assignment_file: str, workdir: str, uid: int | None, limits: Limits,
        confinement: Confinement = Confinement(), assignment=None,
        secrets: list[str] | None = None, namespaces: tuple[list[str], str] | None = None,
        write_fd: int | None = None, preloaded: dict[str, Inputs] | None = None) -> None:
    """Confine this process, then serve requests on ``fd`` (replies on ``write_fd`` if given,
    else on ``fd`` too) until the grader closes it.
    The zygote passes what it prepared once for all its workers: the ``assignment`` already
    loaded, the ``secrets`` list, the ``namespaces`` it entered (see :func:`.confine.confine`)
    and the ``preloaded`` case inputs."""
    if assignment is None:  # (the zygote blocked imports before it loaded the assignment for us:
        block_imports()  # scanning sys.modules again would copy its pages, ~1.3 ms)
        assignment = load_assignment(assignment_file)  # before file access is dropped
    keep = (fd,) if write_fd is None else (fd, write_fd)
    active = confine(workdir=workdir, uid=uid, limits=limits, keep_fds=keep, confinement=confinement,
                     secrets=secrets, namespaces=namespaces)
    active.append("import_blocker")
    channel = Channel(fd, INPUT_DTYPES, write_fd=write_fd, max_header=MAX_REQUEST_HEADER_BYTES)
    channel.send({"status": "ready", "protections": active})
    Session(channel, limits, assignment, preloaded).serve()


def main(argv: list[str] | None = None) -> None:
    """The spawn fallback (``Sandbox(isolation_mode="spawn")``, the default where there is no
    zygote, e.g. Windows and macOS): requests on stdin, replies on stdout."""
    import argparse
    import json
    import os

    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox.guest.worker")
    parser.add_argument("--stdio", action="store_true", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--assignment-file", required=True)
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--confinement", default="{}")
    opts = parser.parse_args(argv)
    preimport()
    # confine() points fds 0-2 at the null device: keep the pipes on fds of their own
    read_fd, write_fd = os.dup(0), os.dup(1)
    if os.name == "nt":
        import msvcrt

        for fd in (read_fd, write_fd):
            msvcrt.setmode(fd, os.O_BINARY)
    run(read_fd, write_fd=write_fd, assignment_file=opts.assignment_file, workdir=opts.workdir, uid=None,
        limits=Limits(**json.loads(opts.limits)),
        confinement=Confinement.from_plain(json.loads(opts.confinement)))


if __name__ == "__main__":
    main()
