"""Frames (see :mod:`autograder.sandbox.wire`) over a file descriptor, with deadlines.

Each frame travels as ``u64 size | frame``. A receive is capped before anything is read into
memory, and the frame is decoded (and checked) by :func:`autograder.sandbox.wire.decode`.
"""
from __future__ import annotations

import os
import queue
import select
import threading
import time

import numpy as np

from .wire import MAX_FRAME_BYTES, MAX_HEADER_BYTES, U64, Encoded, TransportError, decode, encode, frame_parts

READ_AHEAD = 1 << 18  #: a channel reads up to this much beyond the frame it needs


class Timeout(Exception):
    """No complete message arrived before the deadline."""


class Closed(TransportError):
    """The peer closed its end (it exited or crashed)."""


class Channel:
    """Length-prefixed frames over a file descriptor (pipe or socket), with deadlines.

    The grader's side is ``nonblocking``: a peer that stops reading cannot stall a send past
    its deadline, and a peer that sends slowly cannot stall a receive past it."""

    def __init__(self, fd: int, allowed: frozenset[str], *, nonblocking: bool = False,
                 write_fd: int | None = None, max_header: int = MAX_HEADER_BYTES):
        self.fd = fd
        self.write_fd = fd if write_fd is None else write_fd  # a pipe pair has two ends
        self.allowed = allowed
        self.max_header = max_header
        self._pending = bytearray()  #: bytes read ahead of the current frame
        if nonblocking:
            os.set_blocking(fd, False)

    def send(self, header: dict, arrays: "dict[str, np.ndarray] | Encoded | None" = None,
             timeout: float | None = None) -> None:
        self.send_all([(header, arrays)], timeout)

    def send_all(self, frames: "list[tuple[dict, dict[str, np.ndarray] | Encoded | None]]",
                 timeout: float | None = None) -> None:
        """Several frames in one write (the peer reads them as if sent one by one)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = []
        for header, arrays in frames:
            parts, size = frame_parts(header, arrays)
            chunks += [U64.pack(size), *parts]
        view = memoryview(b"".join(chunks))
        while view:
            try:
                n = os.write(self.write_fd, view)
            except BlockingIOError:  # only a nonblocking fd waits, and only until the deadline
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and (left <= 0 or not _ready(self.write_fd, left, write=True)):
                    raise Timeout() from None
                if left is None:
                    _ready(self.write_fd, 1.0, write=True)
                continue
            view = view[n:]

    def recv(self, timeout: float | None = None, max_bytes: int = MAX_FRAME_BYTES) -> tuple[dict, dict[str, np.ndarray]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (size,) = U64.unpack(self._read_exact(8, deadline))
        cap = min(max_bytes, MAX_FRAME_BYTES)
        if size > cap:
            raise TransportError(f"frame of {size} bytes exceeds the {cap}-byte cap")
        return decode(self._read_exact(size, deadline), self.allowed, self.max_header)

    def _read_exact(self, n: int, deadline: float | None) -> bytes:
        """``n`` bytes, from what was read ahead first. Reads take what is there (up to
        READ_AHEAD more than needed), so replies that arrive together cost one read and no
        poll; a reply already here is taken even at the deadline."""
        buf = self._pending
        while len(buf) < n:
            try:
                chunk = os.read(self.fd, min(max(n - len(buf), READ_AHEAD), 1 << 22))
            except BlockingIOError:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and (left <= 0 or not _ready(self.fd, left)):
                    raise Timeout() from None
                if left is None:
                    _ready(self.fd, 1.0)
                continue
            if not chunk:
                raise Closed("peer closed the channel")
            buf += chunk
        with memoryview(buf) as view:
            out = bytes(view[:n])
        del buf[:n]
        return out

    def close(self) -> None:
        for fd in {self.fd, self.write_fd}:
            try:
                os.close(fd)
            except OSError:
                pass


class ThreadedChannel(Channel):
    """The same frames over a pair of pipes (a spawned worker's stdout and stdin) where
    ``poll``/``select`` do not work on pipes (Windows). Blocking reads and writes happen on
    two daemon threads; deadlines are waits on them. The reader holds at most
    ``READ_AHEAD_CHUNKS`` chunks ahead, so a worker flooding its stdout fills a pipe, not our
    memory; the writer lets a send give up at its deadline when the worker stops reading."""

    CHUNK = 1 << 16
    READ_AHEAD_CHUNKS = 64

    def __init__(self, read_file, write_file, allowed: frozenset[str]):
        self.files = (read_file, write_file)
        self.fd, self.write_fd, self.allowed = read_file.fileno(), write_file.fileno(), allowed
        self.max_header = MAX_HEADER_BYTES  # the grader's side: it reads a worker's replies
        self._chunks: queue.Queue = queue.Queue(self.READ_AHEAD_CHUNKS)
        self._pending = b""
        self._outbox: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_loop, name="bpgrade-pipe-reader", daemon=True).start()
        threading.Thread(target=self._write_loop, name="bpgrade-pipe-writer", daemon=True).start()

    def _read_loop(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, self.CHUNK)
            except OSError:
                chunk = b""
            self._chunks.put(chunk)
            if not chunk:
                return

    def _write_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            data, outcome, finished = item
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.write_fd, view):]
            except OSError as exc:
                outcome.append(exc)
            finished.set()

    def send(self, header: dict, arrays: dict[str, np.ndarray] | None = None,
             timeout: float | None = None) -> None:
        data = encode(header, arrays)
        outcome: list[OSError] = []
        finished = threading.Event()
        self._outbox.put((U64.pack(len(data)) + data, outcome, finished))
        if not finished.wait(timeout):
            raise Timeout()
        if outcome:
            raise Closed(f"the worker's stdin is closed ({outcome[0]})")

    def _read_exact(self, n: int, deadline: float | None) -> bytes:
        buf = bytearray(self._pending)
        while len(buf) < n:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self._pending = bytes(buf)
                raise Timeout()
            try:
                chunk = self._chunks.get(timeout=left)
            except queue.Empty:
                self._pending = bytes(buf)
                raise Timeout() from None
            if not chunk:
                self._chunks.put(b"")  # stays closed for the next reader
                raise Closed("peer closed the channel")
            buf += chunk
        self._pending = bytes(buf[n:])
        return bytes(buf[:n])

    def close(self) -> None:
        self._outbox.put(None)
        for f in self.files:
            try:
                f.close()
            except OSError:
                pass


def _ready(fd: int, timeout: float, write: bool = False) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, (select.POLLOUT if write else select.POLLIN) | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(max(0, int(timeout * 1000) + 1)))
    r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], timeout)
    return bool(r or w)

