"""Plain-data messages across the trust boundary: a JSON header plus named ``.npy`` arrays.

No pickle crosses in either direction. Every read is size-capped, and every ``.npy`` header
is parsed and checked (magic, dtype allow-list, shape, byte count) *before* anything is
allocated, so a hostile worker can neither make the grader unpickle, nor make it allocate
terabytes, nor smuggle an object array, an ndarray subclass or a lying ``__array__`` through.

Frame layout (all integers little-endian)::

    u32 header_len | header (UTF-8 JSON object) | for each name in header["arrays"]: u64 len | .npy bytes

Both sides use this module (the grader to decode replies, the worker to decode requests);
:mod:`autograder.sandbox.channel` carries the frames over a file descriptor.
"""
from __future__ import annotations

import ast
import functools
import json
import math
import re
import struct
from dataclasses import dataclass

import numpy as np

MAX_HEADER_BYTES = 256 * 1024  #: a header the grader reads (from a worker)
#: a header a worker reads: the load request carries the submission's source (at most 2 MiB of
#: UTF-8, up to 6 bytes each once JSON escapes it)
MAX_REQUEST_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 64 * 1024 * 1024
MAX_FRAME_BYTES = 128 * 1024 * 1024
MAX_ARRAYS = 1024  #: a batch of calls carries every call's arrays
NPY_MAGIC = b"\x93NUMPY"

# What each side accepts. The grader only takes real float64 back; inputs may carry integers.
REPLY_DTYPES = frozenset({"<f8"})
INPUT_DTYPES = frozenset({"<f8", "<i8", "|b1"})


class TransportError(Exception):
    """The peer sent something that is not a well-formed message within the caps."""


# ---------------------------------------------------------------- encoding

_U16, _U32, U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")


@dataclass(frozen=True)
class Encoded:
    """Arrays laid out once as the tail of a frame: their names (for the header) and their
    length-prefixed ``.npy`` blobs. A batch sends the same hidden cases to every worker, so
    the grader encodes each case once; :meth:`concat` lays several out back to back."""
    names: tuple[str, ...]
    chunks: tuple[bytes, ...]
    size: int  #: bytes of the blobs (prefixes and .npy headers included)
    nbytes: int  #: bytes of the arrays' data alone

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray]) -> "Encoded":
        chunks, data_bytes = _blobs(arrays)
        size = sum(len(c) for c in chunks)
        return cls(tuple(arrays), (b"".join(chunks),), size, data_bytes)

    @staticmethod
    def concat(parts: list[tuple[str, "Encoded"]]) -> "Encoded":
        """One tail from several, each name given its part's prefix (names must stay unique)."""
        return Encoded(tuple(prefix + n for prefix, enc in parts for n in enc.names),
                       tuple(c for _, enc in parts for c in enc.chunks),
                       sum(enc.size for _, enc in parts), sum(enc.nbytes for _, enc in parts))


def _blobs(arrays: dict[str, np.ndarray]) -> tuple[list, int]:
    """The length-prefixed .npy blob of each array (the data as the array's own buffer)."""
    chunks, data_bytes = [], 0
    for value in arrays.values():
        npy_head, data = _npy_parts(value)
        chunks += [U64.pack(len(npy_head) + data.nbytes), npy_head, data.reshape(-1).view(np.uint8)]
        data_bytes += data.nbytes
    return chunks, data_bytes


def frame_parts(header: dict, arrays: "dict[str, np.ndarray] | Encoded | None") -> tuple[list, int]:
    """The chunks of a frame (header length, JSON header, blobs) and their total size."""
    if isinstance(arrays, Encoded):
        names, tail = arrays.names, arrays.chunks
    else:
        arrays = arrays or {}
        names, (tail, _) = tuple(arrays), _blobs(arrays)
    head = json.dumps({**header, "arrays": list(names)}, allow_nan=True).encode()
    parts = [_U32.pack(len(head)), head, *tail]
    return parts, sum(len(p) for p in parts)


def encode(header: dict, arrays: "dict[str, np.ndarray] | Encoded | None" = None) -> bytes:
    return b"".join(frame_parts(header, arrays)[0])  # the arrays' buffers are copied once, here


def _npy_parts(value) -> tuple[bytes, np.ndarray]:
    """The ``.npy`` header and the C-ordered array whose buffer follows it."""
    arr = np.asarray(value, order="C")
    if arr.dtype.hasobject or arr.dtype.fields is not None:
        raise TypeError(f"refusing to send dtype {arr.dtype}")
    return _npy_header(arr.dtype.str, arr.shape), arr


@functools.lru_cache(maxsize=1024)
def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """Magic, version, length and padded header dict; messages repeat a few (dtype, shape) pairs."""
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"  # pad so data starts 64-byte aligned
    return NPY_MAGIC + b"\x01\x00" + _U16.pack(len(header)) + header.encode("latin1")


@functools.lru_cache(maxsize=4096)
def _checked_header(text: bytes, allowed: frozenset[str]) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """(dtype, shape, fortran order, item count) of a .npy header dict, or TransportError.

    A pure function of the header text and the allow-list, so a valid header is parsed and
    checked once per distinct text (replies repeat a few shapes); the byte count against the
    blob's real length is checked by the caller on every blob."""
    meta = _canonical_header(text)
    if meta is None:  # not the way numpy (and we) write it: the general, slower reading
        try:
            meta = ast.literal_eval(text.decode("latin1"))
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
    return np.dtype(descr), shape, fortran, math.prod(shape)  # Python ints: no int64 wrap-around


_CANONICAL = re.compile(rb"\{'descr': '([<>|=][a-z][0-9]{1,2})', 'fortran_order': (False|True), "
                        rb"'shape': \(((?:[0-9]{1,13}, ?)*(?:[0-9]{1,13})?)\), \} *\n?\Z")


def _canonical_header(text: bytes) -> dict | None:
    """The header dict of a header written exactly as ``np.save`` writes it, or None. An eighth
    of the time of ``ast.literal_eval``, which matters in a fresh worker: every new shape is a
    header it has not seen."""
    m = _CANONICAL.match(text)
    if m is None:
        return None
    shape = tuple(int(x) for x in m.group(3).split(b",") if x.strip())
    return {"descr": m.group(1).decode(), "fortran_order": m.group(2) == b"True", "shape": shape}


def parse_npy(blob: bytes | memoryview, allowed: frozenset[str]) -> np.ndarray:
    """Decode one ``.npy`` blob after validating its header against its real length."""
    if len(blob) < 10 or blob[:6] != NPY_MAGIC:
        raise TransportError("array blob does not start with the .npy magic")
    major = blob[6]
    if major == 1:
        (hlen,) = _U16.unpack(blob[8:10])
        start = 10
    elif major in (2, 3):
        if len(blob) < 12:
            raise TransportError("truncated .npy header")
        (hlen,) = _U32.unpack(blob[8:12])
        start = 12
    else:
        raise TransportError(f"unsupported .npy version {major}")
    if hlen > 4096 or start + hlen > len(blob):
        raise TransportError("oversized or truncated .npy header")
    dtype, shape, fortran, count = _checked_header(bytes(blob[start:start + hlen]), allowed)
    payload = len(blob) - start - hlen
    if count * dtype.itemsize != payload:
        raise TransportError(
            f".npy header claims {count * dtype.itemsize} bytes of data, frame carries {payload}"
        )
    arr = np.frombuffer(blob, dtype=dtype, count=count, offset=start + hlen)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=dtype, copy=True, order="C")  # own, writable, plain ndarray


def decode(frame: bytes, allowed: frozenset[str],
           max_header: int = MAX_HEADER_BYTES) -> tuple[dict, dict[str, np.ndarray]]:
    view = memoryview(frame)
    if len(view) < 4:
        raise TransportError("truncated frame")
    (hlen,) = _U32.unpack(view[:4])
    if hlen > max_header or 4 + hlen > len(view):
        raise TransportError("oversized or truncated message header")
    try:
        header = json.loads(str(view[4:4 + hlen], "utf-8"))
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
        (blen,) = U64.unpack(view[pos:pos + 8])
        pos += 8
        if blen > MAX_ARRAY_BYTES or pos + blen > len(view):
            raise TransportError(f"array {name!r} is oversized or truncated")
        arrays[name] = parse_npy(view[pos:pos + blen], allowed)  # a view: parse_npy copies the data once
        pos += blen
    if pos != len(view):
        raise TransportError("trailing bytes after the last array")
    return header, arrays
