"""Plain-data messages across the trust boundary: a JSON header plus named ``.npy`` arrays.

No pickle crosses in either direction. Every read is size-capped, and every ``.npy`` header
is parsed and checked (magic, dtype allow-list, shape, byte count) *before* anything is
allocated, so a hostile worker can neither make the grader unpickle, nor make it allocate
terabytes, nor smuggle an object array, an ndarray subclass or a lying ``__array__`` through.

Frame layout (all integers little-endian)::

    u32 header_len | header (UTF-8 JSON object) | for each name in header["arrays"]: u64 len | .npy bytes
"""
from __future__ import annotations

import ast
import functools
import json
import math
import os
import select
import struct
import time

import numpy as np

MAX_HEADER_BYTES = 256 * 1024
MAX_ARRAY_BYTES = 64 * 1024 * 1024
MAX_FRAME_BYTES = 128 * 1024 * 1024
MAX_ARRAYS = 64
NPY_MAGIC = b"\x93NUMPY"

# What each side accepts. The grader only takes real float64 back; inputs may carry integers.
REPLY_DTYPES = frozenset({"<f8"})
INPUT_DTYPES = frozenset({"<f8", "<i8", "|b1"})


class TransportError(Exception):
    """The peer sent something that is not a well-formed message within the caps."""


class Timeout(Exception):
    """No complete message arrived before the deadline."""


class Closed(TransportError):
    """The peer closed its end (it exited or crashed)."""


# ---------------------------------------------------------------- encoding

def encode(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    arrays = arrays or {}
    header = dict(header, arrays=list(arrays))
    head = json.dumps(header, allow_nan=True).encode()
    parts = [struct.pack("<I", len(head)), head]
    for name in arrays:
        blob = npy_bytes(arrays[name])
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


def npy_bytes(value) -> bytes:
    """A ``.npy`` (format 1.0) file of a plain array: what ``np.save(allow_pickle=False)`` writes
    for C-ordered numeric data, built directly (no pickle can appear: no object dtypes here)."""
    arr = np.asarray(value, order="C")
    if arr.dtype.hasobject or arr.dtype.fields is not None:
        raise TypeError(f"refusing to send dtype {arr.dtype}")
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (arr.dtype.str, tuple(arr.shape))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # pad so data starts 64-byte aligned
    return NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + arr.tobytes()


@functools.lru_cache(maxsize=4096)
def _header_fields(text: str):
    """Parse a .npy header dict once per distinct header text (replies repeat a few shapes)."""
    return ast.literal_eval(text)


def parse_npy(blob: bytes, allowed: frozenset[str]) -> np.ndarray:
    """Decode one ``.npy`` blob after validating its header against its real length."""
    if len(blob) < 10 or not blob.startswith(NPY_MAGIC):
        raise TransportError("array blob does not start with the .npy magic")
    major = blob[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", blob[8:10])
        start = 10
    elif major in (2, 3):
        if len(blob) < 12:
            raise TransportError("truncated .npy header")
        (hlen,) = struct.unpack("<I", blob[8:12])
        start = 12
    else:
        raise TransportError(f"unsupported .npy version {major}")
    if hlen > 4096 or start + hlen > len(blob):
        raise TransportError("oversized or truncated .npy header")
    try:
        meta = _header_fields(blob[start:start + hlen].decode("latin1"))
    except Exception as exc:  # noqa: BLE001 - ValueError, SyntaxError, RecursionError, MemoryError ...
        raise TransportError(f"unreadable .npy header: {exc}") from None
    if not isinstance(meta, dict) or set(meta) != {"descr", "fortran_order", "shape"}:
        raise TransportError("malformed .npy header")
    descr, fortran, shape = meta["descr"], meta["fortran_order"], meta["shape"]
    if not isinstance(descr, str) or descr not in allowed:
        raise TransportError(f"dtype {str(descr)[:40]!r} is not accepted (allowed: {sorted(allowed)})")
    if not isinstance(fortran, bool):
        raise TransportError("malformed .npy header (fortran_order)")
    if not isinstance(shape, tuple) or len(shape) > 8 or not all(
        type(s) is int and 0 <= s < 2**40 for s in shape
    ):
        raise TransportError(f"bad shape {str(shape)[:80]} in .npy header")
    dtype = np.dtype(descr)
    count = math.prod(shape)  # Python ints: no int64 wrap-around that could fake a small size
    payload = len(blob) - start - hlen
    if count * dtype.itemsize != payload:
        raise TransportError(
            f".npy header claims {count * dtype.itemsize} bytes of data, frame carries {payload}"
        )
    arr = np.frombuffer(blob, dtype=dtype, count=count, offset=start + hlen)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=dtype, copy=True, order="C")  # own, writable, plain ndarray


def decode(frame: bytes, allowed: frozenset[str]) -> tuple[dict, dict[str, np.ndarray]]:
    view = memoryview(frame)
    if len(view) < 4:
        raise TransportError("truncated frame")
    (hlen,) = struct.unpack("<I", view[:4])
    if hlen > MAX_HEADER_BYTES or 4 + hlen > len(view):
        raise TransportError("oversized or truncated message header")
    try:
        header = json.loads(bytes(view[4:4 + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TransportError(f"message header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise TransportError("message header is not a JSON object")
    names = header.get("arrays", [])
    if not isinstance(names, list) or len(names) > MAX_ARRAYS or not all(
        isinstance(n, str) and len(n) <= 200 for n in names
    ) or len(set(names)) != len(names):
        raise TransportError("message header has a bad 'arrays' list")
    arrays: dict[str, np.ndarray] = {}
    pos = 4 + hlen
    for name in names:
        if pos + 8 > len(view):
            raise TransportError(f"missing array {name!r}")
        (blen,) = struct.unpack("<Q", view[pos:pos + 8])
        pos += 8
        if blen > MAX_ARRAY_BYTES or pos + blen > len(view):
            raise TransportError(f"array {name!r} is oversized or truncated")
        arrays[name] = parse_npy(bytes(view[pos:pos + blen]), allowed)
        pos += blen
    if pos != len(view):
        raise TransportError("trailing bytes after the last array")
    return header, arrays


# ---------------------------------------------------------------- a framed channel on one fd

class Channel:
    """Length-prefixed frames over a file descriptor (pipe or socket), with deadlines.

    The grader's side is ``nonblocking``: a peer that stops reading cannot stall a send past
    its deadline, and a peer that sends slowly cannot stall a receive past it."""

    def __init__(self, fd: int, allowed: frozenset[str], *, nonblocking: bool = False):
        self.fd = fd
        self.allowed = allowed
        if nonblocking:
            os.set_blocking(fd, False)

    def send(self, header: dict, arrays: dict[str, np.ndarray] | None = None,
             timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        data = encode(header, arrays)
        frame = struct.pack("<Q", len(data)) + data
        view = memoryview(frame)
        while view:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not _ready(self.fd, left, write=True):
                    raise Timeout()
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                continue
            view = view[n:]

    def recv(self, timeout: float | None = None, max_bytes: int = MAX_FRAME_BYTES) -> tuple[dict, dict[str, np.ndarray]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (size,) = struct.unpack("<Q", self._read_exact(8, deadline))
        cap = min(max_bytes, MAX_FRAME_BYTES)
        if size > cap:
            raise TransportError(f"frame of {size} bytes exceeds the {cap}-byte cap")
        return decode(self._read_exact(size, deadline), self.allowed)

    def _read_exact(self, n: int, deadline: float | None) -> bytes:
        chunks, got = [], 0
        while got < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not _ready(self.fd, left):
                    raise Timeout()
            try:
                chunk = os.read(self.fd, min(n - got, 1 << 20))
            except BlockingIOError:
                if deadline is None:
                    _ready(self.fd, 1.0)
                continue
            if not chunk:
                raise Closed("peer closed the channel")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def _ready(fd: int, timeout: float, write: bool = False) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, (select.POLLOUT if write else select.POLLIN) | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(max(0, int(timeout * 1000) + 1)))
    r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], timeout)
    return bool(r or w)


def _readable(fd: int, timeout: float) -> bool:
    return _ready(fd, timeout)
