"""The public cases' expected outputs, recorded when the handout is built, so that a student's
local check needs numpy and the checker only (no torch).

``bpgrade handout`` runs the torch oracle on every public case and writes what it returned into
the handout, beside the assignment's definition::

    assignments/<id>/expected/public-<seed>.npz

One ``.npz`` of two arrays, read with ``allow_pickle=False``: ``values`` (float64) holds every
expected output, flattened one after the other; ``manifest`` (uint8) holds UTF-8 JSON::

    {"format": 1, "assignment": "<id>", "seed": <seed>, "fingerprint": "<sha256>",
     "entries": [{"function": "sigmoid", "case": "sigmoid[N=3,D=5,case=0]",
                  "inputs": "<digest of the case's inputs>", "seconds": <torch's CPU time>,
                  "outputs": {"s": [<offset in values>, <shape>]}}, ...]}

The fingerprint hashes the seed and every file of the assignment folder except ``expected/``
(:func:`fingerprint`), so a file recorded for another version of the assignment is refused, and
each entry's ``inputs`` digest is compared with the case the checker draws, so a case drawn
differently (another numpy) is never judged against a recorded answer. What the check uses
(:func:`public_oracles`): the recorded file when it is there and valid, unless ``live``; else
torch, when it is installed; else a :class:`ExpectedUnavailable` saying what to do. The recorded
path never imports torch.

Besides every case (and every redraw that case generation tries), the file holds the shrink
candidates around the smallest cases of each group of parts (:data:`SHRINK_STARTS`,
:data:`SHRINK_NEIGHBOURS`), where the smallest failing case is looked for; a candidate outside
them is left out of the search (:meth:`RecordedOracles.knows`), so the smallest failing case
shown is the smallest recorded one.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

from .. import project
from ..oracle import Oracles
from ..spec import Assignment

FORMAT = 1  #: the layout of the recorded file; another one is refused as stale
FOLDER = "expected"  #: inside assignments/<id>/
#: folders of an assignment that are tools' litter, never part of it (not shipped, not hashed)
SKIP = ("__pycache__", ".ipynb_checkpoints")
SHRINK_STARTS = 4  #: per group of parts, the smallest cases whose shrink candidates are recorded
SHRINK_NEIGHBOURS = 120  #: candidates recorded around each of them, nearest first


class ExpectedUnavailable(project.ProjectError):
    """The public cases' expected outputs can be neither read from the handout nor computed."""


def path(folder: Path, seed: int = project.PUBLIC_SEED) -> Path:
    """Where the outputs of seed ``seed`` are recorded for the assignment in ``folder``."""
    return Path(folder) / FOLDER / f"public-{seed}.npz"


def assignment_files(folder: Path) -> list[Path]:
    """The files that make an assignment (what the handout copies and the fingerprint hashes):
    everything in its folder but ``expected/``, hidden files and tools' litter."""
    folder = Path(folder)
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if p.is_file() and rel[0] != FOLDER and not any(part in SKIP or part.startswith(".") for part in rel):
            found.append(p)
    return found


def fingerprint(folder: Path, seed: int = project.PUBLIC_SEED) -> str:
    """sha256 of the format, the seed and the assignment's files (line endings made ``\\n``, so
    a checkout that turns them into CRLF does not make the record stale)."""
    digest = hashlib.sha256(f"bpgrade-expected\0{FORMAT}\0{seed}\0".encode())
    for p in assignment_files(folder):
        data = p.read_bytes().replace(b"\r\n", b"\n")
        digest.update(f"{p.relative_to(folder).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def inputs_digest(inputs: dict) -> str:
    """A digest of a case's inputs (names, dtypes, shapes and bytes; one level of dicts)."""
    digest = hashlib.blake2b(digest_size=16)

    def put(key: str, value) -> None:
        if isinstance(value, dict):
            for sub in sorted(value):
                put(f"{key}.{sub}", value[sub])
            return
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"input {key!r} is a {type(value).__name__}; cases must hold arrays and numbers")
        digest.update(f"{key}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(np.ascontiguousarray(array).tobytes())

    for key in sorted(inputs):
        put(key, inputs[key])
    return digest.hexdigest()


def torch_installed() -> bool:
    """Whether torch can be imported here (asked without importing it)."""
    return importlib.util.find_spec("torch") is not None


# ------------------------------------------------------------------ recording

class _Recording(Oracles):
    """The torch oracle, noting each case's inputs digest as it computes."""

    def __init__(self, assignment: Assignment):
        super().__init__(assignment, torch_oracle=project.load_torch_oracle(assignment), reference=None)
        self.digests: dict[tuple, str] = {}

    def _compute(self, part, case, key, tols):
        self.digests[key] = inputs_digest(case.inputs)
        return super()._compute(part, case, key, tols)


def record(assignment_id: str, base: Path | None = None, *, seed: int = project.PUBLIC_SEED,
           folder: Path | None = None) -> Path:
    """Compute the public cases' expected outputs with torch and write them to
    ``folder/expected/public-<seed>.npz`` (``folder``: the assignment's folder by default; the
    handout passes its copy). Returns the file written."""
    from ..cases import group_part as lead_of, groups
    from ..grade import Grader

    grader = Grader(assignment_id, mode="check", base=base, seed=seed, live=True)
    spec = grader.spec
    oracles = grader.oracles = _Recording(spec)  # (a fresh Grader has computed nothing yet)
    grader.prepare()  # every case, every redraw tried on the way, every expected output
    for key, parts in groups(spec).items():
        group_part = lead_of(parts[0], key)
        starts = sorted((c for c in grader.cases(key) if c.dims),
                        key=lambda c: (sum(c.dims.values()), c.index))[:SHRINK_STARTS]
        for start in starts:  # breadth first: the nearest candidates are the ones tried first
            frontier, seen = [start], {start.id}
            while frontier and len(seen) <= SHRINK_NEIGHBOURS:
                ahead = []
                for case in frontier:
                    for candidate in grader.shrink_candidates(group_part, case):
                        if len(seen) <= SHRINK_NEIGHBOURS and candidate.id not in seen:
                            seen.add(candidate.id)
                            grader.expected(parts[0], candidate)
                            ahead.append(candidate)
                frontier = ahead
    source = folder or spec.folder
    return write(path(source, seed), spec, seed, fingerprint(source, seed), oracles)


def write(target: Path, spec: Assignment, seed: int, fingerprint_: str, oracles: _Recording) -> Path:
    """The outputs as one float64 array, ``values``, each output a slice of it (``outputs``:
    name -> [offset, shape]), and the manifest beside it: two members, read in one go."""
    chunks: list[np.ndarray] = []
    offset = 0
    entries = []
    for key, outputs in oracles._cache.items():
        function, case_id, _seed = key
        placed = {}
        for name, value in outputs.items():
            value = np.asarray(value)
            if value.dtype != np.float64:
                raise TypeError(f"{spec.id}: the torch oracle's {function} gave {name!r} as {value.dtype}, not float64")
            placed[name] = [offset, list(value.shape)]
            chunks.append(value.ravel())
            offset += value.size
        entries.append({"function": function, "case": case_id, "inputs": oracles.digests[key],
                        "seconds": oracles._seconds.get(key), "outputs": placed})
    manifest = {"format": FORMAT, "assignment": spec.id, "seed": seed, "fingerprint": fingerprint_,
                "entries": entries}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, manifest=np.frombuffer(json.dumps(manifest, sort_keys=True).encode(), dtype=np.uint8),
                 values=np.concatenate(chunks) if chunks else np.zeros(0))
    tmp.replace(target)
    return target


# ------------------------------------------------------------------ reading

class Recorded:
    """A recorded file, opened: its manifest, and its arrays read as they are asked for."""

    def __init__(self, file: Path):
        self.file = Path(file)
        with np.load(self.file, allow_pickle=False) as npz:
            self.manifest = json.loads(bytes(npz["manifest"]).decode("utf-8"))
            self._values = npz["values"]
        self.index = {(e["function"], e["case"]): e for e in self.manifest.get("entries", [])}

    def problem(self, spec: Assignment, seed: int) -> str:
        """Why this file cannot serve ``spec``'s public cases of ``seed`` ("" if it can)."""
        m = self.manifest
        if m.get("format") != FORMAT:
            return f"it has format {m.get('format')!r}, this checker reads format {FORMAT}"
        if m.get("assignment") != spec.id or m.get("seed") != seed:
            return f"it holds {m.get('assignment')!r} seed {m.get('seed')!r}"
        if m.get("fingerprint") != fingerprint(spec.folder, seed):
            return f"the files of assignments/{spec.id}/ changed after it was recorded"
        return ""

    def outputs(self, entry: dict) -> dict[str, np.ndarray]:
        found = {}
        for name, (offset, shape) in entry["outputs"].items():
            size = int(np.prod(shape, dtype=np.int64))
            if offset < 0 or offset + size > self._values.size:
                raise ValueError(f"{self.file}: output {name!r} of {entry['case']} lies outside the recorded values")
            found[name] = self._values[offset:offset + size].reshape(shape).copy()
        return found


class RecordedOracles(Oracles):
    """Expected outputs read from a recorded file (torch is never imported). A case the file
    does not hold, or holds for other inputs, is computed by torch when it is installed, and is
    an :class:`ExpectedUnavailable` otherwise."""

    def __init__(self, assignment: Assignment, recorded: Recorded):
        super().__init__(assignment, torch_oracle=None, reference=None)
        self.recorded = recorded

    @property
    def names(self) -> list[str]:
        return ["torch.autograd (recorded)"]

    def knows(self, part, case) -> bool:
        return (part.function, case.id) in self.recorded.index

    def _compute(self, part, case, key, tols):
        entry = self.recorded.index.get((part.function, case.id))
        if entry is not None and entry["inputs"] == inputs_digest(case.inputs):
            self._seconds[key] = entry.get("seconds")
            return self.recorded.outputs(entry)
        why = "has no" if entry is None else "has other inputs for"
        if not torch_installed():
            raise ExpectedUnavailable(
                f"{self.recorded.file} {why} case {case.id}: the handout's recorded outputs do not match this "
                f"checker. Get the current handout, or install torch to compute them (`bpgrade check --live`)")
        if self.torch is None:
            self.torch = project.load_torch_oracle(self.assignment)
        return super()._compute(part, case, key, tols)


def public_oracles(spec: Assignment, seed: int = project.PUBLIC_SEED, *, live: bool = False) -> Oracles:
    """The oracle of a local check: the recorded outputs when valid (and not ``live``), else
    torch, else an :class:`ExpectedUnavailable` saying what to do."""
    file = path(spec.folder, seed)
    why = ""
    if not live and file.is_file():
        try:
            recorded = Recorded(file)
            why = recorded.problem(spec, seed)
        except Exception as exc:  # whatever stops reading it (not a zip, a member missing, bad JSON): not used
            why = f"it cannot be read ({type(exc).__name__}: {exc})"
        if not why:
            return RecordedOracles(spec, recorded)
    if torch_installed():
        return Oracles(spec, torch_oracle=project.load_torch_oracle(spec), reference=None)
    if live:
        raise ExpectedUnavailable("--live computes the expected outputs with torch, which is not installed here "
                                  "(pip install torch; the CPU build is enough)")
    if why:
        raise ExpectedUnavailable(f"{file} cannot be used: {why}. Get the current handout, or install torch "
                                  f"to compute the expected outputs (`bpgrade check --live`)")
    if seed != project.PUBLIC_SEED and path(spec.folder).is_file():
        raise ExpectedUnavailable(f"the handout records the public cases of seed {project.PUBLIC_SEED} only; "
                                  f"the cases of seed {seed} need torch (pip install torch; the CPU build is enough)")
    raise ExpectedUnavailable(
        f"no recorded expected outputs for {spec.id} ({file} is missing) and torch is not installed to compute "
        f"them: use the handout built by `bpgrade handout`, or pip install torch (the CPU build is enough)")
