"""Grader processes forked from a pool's owner, one per slot, so judging (pure Python) runs on
every core instead of queueing on one GIL. A :class:`ForkedSlot` is the owner's handle on one:
submissions go in and records come out as length-prefixed JSON over a socketpair (both sides are
trusted; no pickle anyway). A grader process that dies costs its current submission (a
``grader_error`` record) and nothing else."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .gradebook import grader_error

if TYPE_CHECKING:
    from .pool import LocalSlot


class ForkedSlot:
    """A LocalSlot run in a grader process forked from the pool owner. Requests and records
    travel as length-prefixed JSON over a socketpair (both sides are trusted; no pickle
    anyway)."""

    def __init__(self, local: LocalSlot, *, others: list["ForkedSlot"], boxes: list):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the grader process
            code = 0
            try:
                ours.close()
                _forked_grader(local, theirs, others, boxes)
            except BaseException:  # noqa: BLE001 - never return into the parent's code
                code = 70
            finally:
                os._exit(code)
        theirs.close()
        local.box.hand_over()  # its zygote then sees the grader process end, however it ends
        self.pid, self.sock, self.local, self.dead = pid, ours, local, False
        self._failure: BaseException | None = None
        self._outstanding = 0  #: handed over, verdict not yet collected

    def submit(self, path: Path, student: str = "") -> None:
        """Hand the grader process a submission; it grades them in the order handed over."""
        self._outstanding += 1
        try:
            _send(self.sock, {"path": str(path), "student": student})
        except OSError as exc:  # it died: collect() reports it
            self._failure = self._failure or exc

    def drain(self) -> None:
        """Wait out the verdicts handed over and not collected (a caller that stops early
        must not leave them for the slot's next borrower), discarding them."""
        from ..oracle import OracleDisagreement

        while self._outstanding and not self.dead:
            try:
                self.collect()
            except OracleDisagreement:
                pass

    def collect(self) -> dict:
        """The verdict on the oldest submission handed over and not yet collected."""
        from ..oracle import OracleDisagreement

        self._outstanding -= 1
        try:
            if self._failure is not None:
                raise self._failure
            reply = _recv(self.sock)
        except (OSError, EOFError, ValueError) as exc:
            self.dead = True
            status = self._wait()
            return grader_error(self.local.version, self.local.grader.spec.max_score,
                                f"the grader process died ({status or exc})")
        if "fatal" in reply:
            raise OracleDisagreement(reply["fatal"])
        return reply["record"]

    def grade(self, path: Path, student: str = "") -> dict:
        self.submit(path, student)
        return self.collect()

    def close(self) -> None:
        try:
            self.sock.close()  # EOF: the grader process closes its own sandboxes and exits
        except OSError:
            pass
        self._wait(timeout=30)

    def _wait(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return ""
            if pid:
                from ..sandbox.protocol import describe_exit

                return describe_exit(os.waitstatus_to_exitcode(status), who="grader process")
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = math.inf
            time.sleep(0.01)


def _forked_grader(local: LocalSlot, sock: socket.socket, others: list[ForkedSlot], boxes: list) -> None:
    from ..sandbox.libc import PR_SET_PDEATHSIG, libc
    from ..oracle import OracleDisagreement

    if sys.platform.startswith("linux"):
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pool owner's to handle
    for other in others:  # the grader processes forked before us: their sockets are not ours
        other.sock.close()
    for box in boxes:  # nor is any other sandbox (each zygote must see its own grader end)
        if box is not local.box:
            box.forget()
    _single_threaded_torch()
    try:
        while True:
            try:
                request = _recv(sock)
            except (EOFError, OSError):
                return
            try:
                _send(sock, {"record": local.grade(Path(request["path"]), request.get("student", ""))})
            except OracleDisagreement as exc:
                _send(sock, {"fatal": str(exc)})
    finally:
        local.close()


def _single_threaded_torch() -> None:
    """The oracles' torch may have started its thread pool in the parent; a forked child has
    none of those threads, so it must not enter a parallel region: one thread, run inline."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


_LEN = struct.Struct("<Q")


def _send(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj, allow_nan=False).encode()
    sock.sendall(_LEN.pack(len(data)) + data)


def _recv(sock: socket.socket) -> dict:
    (size,) = _LEN.unpack(_read_exact(sock, _LEN.size))
    return json.loads(_read_exact(sock, size))


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the socket")
        buf += chunk
    return bytes(buf)
