"""Run student functions out of process: the only way into student code.

Process layout (Linux)::

    grader (trusted: references, hidden cases, torch, every verdict)
      └─ zygote        forked at start-up, BEFORE any of the above is loaded; imports numpy only
           └─ worker   one per submission (and again after a timeout or crash): own session,
                       private work dir, closed fds, cleared env, rlimits, net namespace and
                       dropped uid where allowed; talks to the grader over one socket

The grader sends each call's inputs as ``.npy`` and waits with a wall-clock deadline. A call
that hangs or crashes is killed with its whole process group (and, with a dropped uid, every
process of that uid), and the next call resumes in a fresh worker. Elsewhere (macOS, or
``isolation="spawn"``) a fresh ``python -m autograder.worker`` replaces the zygote fork; local
checks hold no secrets, so that is enough there.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .isolation import Limits
from .transport import REPLY_DTYPES, Channel, Closed, Timeout, TransportError

START_TIMEOUT = 30.0


@dataclass
class LoadResult:
    status: str  # loaded | syntax_error | load_error | timeout | crashed
    defined: dict[str, str] = field(default_factory=dict)
    error: dict | None = None
    stdout: str = ""
    detail: str = ""


@dataclass
class CallResult:
    status: str  # ok | error | timeout | crashed | memory_limit | not_loaded
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    types: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    mutated: list = field(default_factory=list)
    stdout: str = ""
    error: dict | None = None
    detail: str = ""
    wall: float = 0.0
    cpu: float = 0.0


def flatten_inputs(inputs: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """Plain scalars go in the JSON header, arrays as .npy; one level of dicts (params, cache)."""
    scalars, arrays = {}, {}

    def put(key, value):
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif isinstance(value, (bool, np.bool_)):
            scalars[key] = bool(value)
        elif isinstance(value, (int, np.integer)):
            scalars[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            scalars[key] = float(value)
        elif isinstance(value, str):
            scalars[key] = value
        else:
            raise TypeError(f"input {key!r} is a {type(value).__name__}; cases must hold arrays and numbers")

    for key, value in inputs.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                put(f"{key}.{sub}", v)
        else:
            put(key, value)
    return scalars, arrays


def default_isolation() -> str:
    if sys.platform.startswith("linux") and hasattr(socket, "send_fds"):
        return "fork"
    return "spawn"


class Sandbox:
    """Creates confined workers. Construct it before loading any secret (it forks the zygote)."""

    def __init__(self, *, limits: Limits = Limits(), isolation_mode: str | None = None):
        self.limits = limits
        self.mode = isolation_mode or default_isolation()
        self._uid_lock = None
        self.uid = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self.uid, self._uid_lock = _claim_uid()
        self.tmp = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        os.chmod(self.tmp, 0o711)
        self._count = 0
        self._zygote: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        if self.mode == "fork":
            self._start_zygote()

    # ---------------------------------------------------------------- zygote
    def _start_zygote(self) -> None:
        """A fresh interpreter, so nothing the grader has loaded (torch, a reference, hidden
        cases) can be in the zygote's memory, whatever this process imported before."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._zygote = subprocess.Popen(
            [sys.executable, "-s", "-m", "autograder.zygote", "--ctrl", str(child.fileno()),
             "--uid", str(self.uid if self.uid is not None else -1),
             "--limits", json.dumps(self.limits.to_plain())],
            pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=_clean_env(),
        )
        child.close()
        self._ctrl = parent
        if self._request({"op": "ping"}).get("pong") is not True:
            raise RuntimeError("the sandbox zygote did not start")

    def _request(self, req: dict, fds: list[int] = ()) -> dict:
        socket.send_fds(self._ctrl, [json.dumps(req).encode()], list(fds))
        reply = self._ctrl.recv(65536)
        if not reply:
            raise RuntimeError("the sandbox zygote died")
        return json.loads(reply)

    # ---------------------------------------------------------------- workers
    def _new_workdir(self) -> Path:
        self._count += 1
        path = self.tmp / f"w{self._count}"
        path.mkdir(mode=0o700)
        return path

    def start(self, assignment_file: str) -> "WorkerProcess":
        workdir = self._new_workdir()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self.mode == "fork":
                pid = self._request(
                    {"op": "fork", "workdir": str(workdir), "assignment_file": assignment_file},
                    [theirs.fileno()],
                )["pid"]
                proc = None
            else:
                proc = subprocess.Popen(
                    [sys.executable, "-s", "-m", "autograder.worker", "--fd", str(theirs.fileno()),
                     "--workdir", str(workdir), "--assignment-file", assignment_file,
                     "--limits", json.dumps(self.limits.to_plain())],
                    pass_fds=[theirs.fileno()], start_new_session=True,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env=_clean_env(),
                )
                pid = proc.pid
        finally:
            theirs.close()
        return WorkerProcess(self, pid, proc, ours, workdir)

    def reap(self, wp: "WorkerProcess") -> str:
        """Kill a worker's process group, sweep its uid, collect its exit status."""
        try:
            os.killpg(wp.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if wp.proc is not None:
            code = wp.proc.wait()
            status = describe_exit(code)
        else:
            status = self._request({"op": "reap", "pid": wp.pid})["status"]
        shutil.rmtree(wp.workdir, ignore_errors=True)
        return status

    def close(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
            try:
                self._zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # releases the flock: the uid is free for another sandbox
            self._uid_lock = None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()



class WorkerProcess:
    def __init__(self, sandbox: Sandbox, pid: int, proc, sock: socket.socket, workdir: Path):
        self.sandbox, self.pid, self.proc, self.sock, self.workdir = sandbox, pid, proc, sock, workdir
        self.channel = Channel(sock.fileno(), REPLY_DTYPES)
        self.exit_status = ""

    def kill(self) -> str:
        if not self.exit_status:
            self.exit_status = self.sandbox.reap(self)
            self.sock.close()
        return self.exit_status


class Submission:
    """A submission's source loaded in a worker. Calls go through :meth:`call`, one at a time;
    after a timeout or crash the next call transparently reloads the source in a fresh worker."""

    def __init__(self, sandbox: Sandbox, source: str, assignment_file: str, *, load_timeout: float = 10.0):
        self.sandbox, self.source, self.assignment_file = sandbox, source, assignment_file
        self.load_timeout = load_timeout
        self.worker: WorkerProcess | None = None
        self.load_result: LoadResult | None = None
        self.protections: list[str] = []
        self.restarts = 0

    def _ensure(self) -> LoadResult:
        if self.worker is not None:
            return self.load_result
        wp = self.sandbox.start(self.assignment_file)
        self.worker = wp
        try:
            ready, _ = wp.channel.recv(timeout=START_TIMEOUT)
            self.protections = ready.get("protections", [])
            wp.channel.send({"op": "load", "source": self.source})
            reply, _ = wp.channel.recv(timeout=self.load_timeout)
        except Timeout:
            result = LoadResult("timeout", detail=f"loading the file took longer than {self.load_timeout:g} s")
            self._drop()
        except (Closed, TransportError, OSError) as exc:
            status = self._drop()
            result = LoadResult("crashed", detail=f"the worker died while loading the file ({status or exc})")
        else:
            result = LoadResult(
                reply.get("status", "crashed"), defined=reply.get("defined", {}),
                error=reply.get("error"), stdout=str(reply.get("stdout", ""))[:16384],
            )
        if self.load_result is None:
            self.load_result = result
        return result

    def _drop(self) -> str:
        status = self.worker.kill() if self.worker else ""
        self.worker = None
        return status

    def load(self) -> LoadResult:
        return self._ensure()

    def call(self, function: str, inputs: dict, returns: dict, timeout: float) -> CallResult:
        load = self._ensure()
        if load.status != "loaded" or self.worker is None:
            return CallResult("not_loaded", detail=load.status)
        scalars, arrays = flatten_inputs(inputs)
        wp = self.worker
        cpu0 = _cpu_seconds(wp.pid)
        start = time.perf_counter()
        try:
            wp.channel.send({"op": "call", "function": function, "scalars": scalars, "returns": returns}, arrays)
            header, out = wp.channel.recv(timeout=timeout)
        except Timeout:
            self._drop()
            self.restarts += 1
            return CallResult("timeout", detail=f"no answer within {timeout:g} s", wall=time.perf_counter() - start)
        except (Closed, TransportError, OSError) as exc:
            status = self._drop()
            self.restarts += 1
            detail = status if isinstance(exc, (Closed, BrokenPipeError)) else f"{exc}; {status}"
            return CallResult("crashed", detail=detail, wall=time.perf_counter() - start)
        wall = time.perf_counter() - start
        cpu1 = _cpu_seconds(wp.pid)
        return _call_result(header, out, wall, (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else 0.0)

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> "Submission":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _call_result(header: dict, out: dict[str, np.ndarray], wall: float, cpu: float) -> CallResult:
    def as_dict(x):
        return x if isinstance(x, dict) else {}

    def as_list(x):
        return [str(v) for v in x] if isinstance(x, list) else []

    status = header.get("status")
    if status not in ("ok", "error", "memory_limit"):
        status = "crashed"
    error = header.get("error") if isinstance(header.get("error"), dict) else None
    return CallResult(
        status=status,
        outputs={k[4:]: v for k, v in out.items() if k.startswith("out.")},
        types=as_dict(header.get("types")), problems={str(k): str(v) for k, v in as_dict(header.get("problems")).items()},
        warnings=as_list(header.get("warnings")), mutated=as_list(header.get("mutated")),
        stdout=str(header.get("stdout", ""))[:16384], error=error, wall=wall, cpu=cpu,
    )


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, read by the grader (the worker's own clock is not trusted)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


UID_RANGE = range(61000, 62000)
UID_LOCKS = Path(tempfile.gettempdir()) / "bpgrade-uids"


def _claim_uid() -> tuple[int, int]:
    """A sandbox uid no other live sandbox on this machine uses. Reaping kills every process of
    the uid, so two sandboxes sharing one would kill each other's workers. Each claim is an
    exclusive flock held for the sandbox's lifetime (released by the kernel if we die)."""
    import fcntl

    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    for uid in UID_RANGE:
        fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"all sandbox uids {UID_RANGE.start}-{UID_RANGE.stop - 1} are in use")


def _clean_env() -> dict:
    """The environment for the zygote / spawned worker: nothing from ours but what imports need."""
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return env


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        meaning = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGXCPU": "CPU time limit",
                   "SIGABRT": "aborted", "SIGXFSZ": "file size limit", "SIGBUS": "bus error"}.get(name, "")
        return f"worker killed by {name}" + (f" ({meaning})" if meaning else "")
    return f"worker exited with code {code}"
