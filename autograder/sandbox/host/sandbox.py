"""The sandbox as the grader holds it: limits, what to hide, the sandbox uid, the work dirs,
and a launcher for its start method (:mod:`.launch`).

Process layout (Linux)::

    grader (trusted: references, hidden cases, torch, every verdict)
      └─ zygote        a fresh interpreter (nothing the grader loaded is in it); imports numpy
           │           and the guest package only
           └─ worker   one per submission (and again after a timeout or crash): own session,
                       private tmpfs work dir, closed fds, cleared env, rlimits, dropped uid,
                       seccomp, in the zygote's net and mount namespaces; one socket to us

The grader sends each call's inputs as ``.npy`` and waits with a wall-clock deadline
(:mod:`.session`). A call that hangs or crashes is killed with its whole process group (and,
with a dropped uid, every process of that uid), and the next call resumes in a fresh worker.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from ..libc import set_undumpable
from ..policy import ZYGOTE_PRELOAD, Confinement, Limits
from .launch import Launcher, SpawnLauncher, ZygoteLauncher
from .session import Request, WorkerProcess

LAUNCHERS = {"fork": ZygoteLauncher, "spawn": SpawnLauncher}  #: start method -> its launcher

UID_RANGE = range(61000, 62000)
UID_LOCKS = Path(tempfile.gettempdir()) / "bpgrade-uids"


def default_isolation() -> str:
    if sys.platform.startswith("linux") and hasattr(socket, "send_fds"):
        return "fork"
    return "spawn"


def default_secret_paths() -> list[str]:
    """What workers must never read: the hidden solutions folder (references, grading.toml)."""
    from ... import project

    return [str(project.root() / "solutions")]


class Sandbox:
    """Creates confined workers.

    ``secret_paths`` are hidden from workers in addition to :func:`default_secret_paths`
    (e.g. the folder of other students' submissions). ``network``, ``filesystem`` and
    ``processes`` choose mechanisms (see :class:`autograder.sandbox.policy.Confinement`); the
    defaults take the strongest available. With a dropped uid a sandbox runs one worker at a
    time (its reap kills every process of its uid): use one sandbox per thread.

    ``isolation_mode``: ``fork`` (a zygote forks the workers) or ``spawn`` (a fresh interpreter
    per worker); the default is ``fork`` where the platform can pass fds (Linux).
    ``preimport``: modules the zygote imports for all its workers (default
    :data:`autograder.sandbox.policy.ZYGOTE_PRELOAD`: matplotlib's pyplot).
    ``prefork`` (zygote only; for batches): fork each next worker ahead of need (see
    :class:`~.launch.ZygoteLauncher`). ``wait=False`` returns before the zygote is ready
    (several sandboxes then start at once; see :meth:`wait_ready`).
    """

    def __init__(self, *, limits: Limits = Limits(), isolation_mode: str | None = None,
                 secret_paths: list[str] | tuple[str, ...] = (), network: str = "auto",
                 filesystem: str = "auto", processes: bool = False, wait: bool = True,
                 prefork: bool = False, preimport: tuple[str, ...] = ZYGOTE_PRELOAD):
        self.limits = limits
        self.preimport = tuple(preimport)
        self.mode = isolation_mode or default_isolation()
        if self.mode not in LAUNCHERS:
            raise ValueError(f"unknown isolation mode {self.mode!r} (known: {sorted(LAUNCHERS)})")
        secrets = list(dict.fromkeys([*default_secret_paths(), *map(str, secret_paths)]))
        self.confinement = Confinement(secret_paths=tuple(secrets), network=network,
                                       filesystem=filesystem, processes=processes)
        self.grader_protections = ["wall_clock_timeout", "npy_transport_no_pickle", "reply_size_cap",
                                   LAUNCHERS[self.mode].protection]
        if set_undumpable():
            self.grader_protections.append("grader_undumpable")
        self._live: set[int] = set()  #: pids of the workers started and not reaped
        self.preloaded: set[str] = set()  #: refs of the inputs every worker starts with (see preload)
        self._uid_lock = None
        self.uid = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self.uid, self._uid_lock = _claim_uid()
        self.tmp = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        os.chmod(self.tmp, 0o711)
        self._count = 0
        self.launcher: Launcher = LAUNCHERS[self.mode](self, prefork=prefork)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Block until workers can be started (``Sandbox(wait=False)`` lets several start at once)."""
        self.launcher.wait_ready()

    def preload(self, requests: Iterable[Request]) -> None:
        """Give the zygote these inputs, once: every worker it forks afterwards starts with
        them decoded, and a call on them sends only the ref (a batch's shared cases are then
        decoded once per sandbox instead of once per submission). Only what a worker may be
        sent anyway belongs here: a case's inputs, never an expected output or a seed."""
        todo = {r.ref: r for r in requests if r.ref and r.ref not in self.preloaded}
        if todo and self.launcher.preload(list(todo.values())):
            self.preloaded.update(todo)

    def sync(self) -> None:
        """Wait until the zygote has done everything asked of it so far (the reaps of
        closed submissions' workers included)."""
        self.launcher.sync()

    # ---------------------------------------------------------------- workers
    def new_workdir(self) -> Path:
        self._count += 1
        path = self.tmp / f"w{self._count}"
        path.mkdir(mode=0o700)
        return path

    def start(self, assignment_file: str) -> WorkerProcess:
        if self.uid is not None and self._live:
            raise RuntimeError("this sandbox already runs a worker (its reap kills every process of its uid); "
                               "use one Sandbox per thread")
        spare = self.launcher.claim_spare()
        if spare is not None:
            self._live.add(spare.pid)
            if spare.assignment_file == assignment_file:
                return spare
            spare.kill(wait=False)  # forked for another assignment: the zygote reaps it before the next fork
        workdir = self.new_workdir()
        try:
            wp = self.launcher.launch(workdir, assignment_file)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._live.add(wp.pid)
        return wp

    def fork_spare(self, assignment_file: str) -> None:
        """With ``prefork``: start the next worker ahead of need."""
        if not self._live:  # (a live worker: the spare would run beside it, under the same uid)
            self.launcher.fork_spare(assignment_file)

    def drop_spare(self) -> None:
        """Kill and reap the pre-forked worker, if any (no more submissions are coming)."""
        self.launcher.drop_spare()

    def reap(self, wp: WorkerProcess, *, wait: bool = True) -> str:
        """Kill a worker's process group, sweep its uid, collect its exit status.
        ``wait=False`` (zygote mode): return at once, with no status (see
        :meth:`~.launch.ZygoteLauncher.reap`)."""
        if hasattr(os, "killpg"):
            try:
                os.killpg(wp.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            status = self.launcher.reap(wp, wait=wait)
        finally:
            self._live.discard(wp.pid)
            shutil.rmtree(wp.workdir, ignore_errors=True)
        return status

    # ---------------------------------------------------------------- the end
    def close(self) -> None:
        self.launcher.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # releases the flock: the uid is free for another sandbox
            self._uid_lock = None

    def hand_over(self) -> None:
        """In the owning process, once a forked copy drives the sandbox: drop our copy of the
        control socket, so the zygote sees it close (and kills what it forked) as soon as the
        copy's process ends, whether it closes the sandbox or dies. :meth:`close` still waits
        for the zygote and releases the uid."""
        self.launcher.hand_over()

    def forget(self) -> None:
        """In a forked copy of the owning process: drop our copies of the zygote's control
        socket and of the uid claim, without stopping anything (the owner still uses them)."""
        self.launcher.forget()
        if self._uid_lock is not None:
            os.close(self._uid_lock)
        self._uid_lock = None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
