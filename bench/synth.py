"""Synthetic mse_two_layer submissions for batch tests and the batch benchmark.

Each submission is the reference with zero, one or two known mistakes (the same edits the
diagnosis catalogue names), or a crashing variant; a header line makes every file distinct, so
no two submissions share a content hash. ``hostile`` adds copies of the hostile fixtures.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "batch_fixtures" / "hostile"
#: cheapest first: the last three cost one or more 5 s call time limits each
HOSTILE_ORDER = ("os_exit", "output_flood", "memory_bomb", "infinite_loop", "load_hang", "fork_bomb")

#: (name, anchor in the reference, replacement): each anchor occurs exactly once
BUGS = [
    ("transposed", "dW = dZ.T @ A_prev", "dW = A_prev.T @ dZ"),
    ("not_reduced", "db = dZ.sum(axis=0)", "db = dZ"),
    ("scaled_by_N", "return (Y_hat - Y) / Y.shape[0]", "return (Y_hat - Y)"),
    ("sign_flipped", "dA_prev = dZ @ W", "dA_prev = -(dZ @ W)"),
    ("scaled_const", "return float(0.5 * np.sum", "return float(np.sum"),
    ("sigmoid_prime_on_activation", "return dA * s * (1.0 - s)", "return dA * sigmoid(s) * (1.0 - sigmoid(s))"),
]
CRASHES = [
    ("raises", "\n\ndef backward(X, Y, params, cache):\n    raise RuntimeError('not done')\n"),
    ("load_error", "\n\nundefined_name_at_import_time\n"),
    ("syntax_error", "\n\ndef broken(:\n    pass\n"),
    ("worker_exit", "\n\nimport os\n\n\ndef sigmoid_backward(dA, Z):\n    os._exit(3)\n"),
    ("missing", "\n\ndel linear_backward\n"),
]


def reference() -> str:
    return (ROOT / "solutions" / "mse_two_layer.py").read_text()


def variant(rng: random.Random, index: int, mix=(0.4, 0.45, 0.15)) -> tuple[str, str]:
    """(kind, source) for submission ``index``: correct, buggy or crashing by ``mix``."""
    src = reference()
    r = rng.random()
    if r < mix[0]:
        kind = "correct"
    elif r < mix[0] + mix[1]:
        picked = rng.sample(BUGS, rng.choice((1, 1, 2)))
        for _, old, new in picked:
            assert src.count(old) == 1, old
            src = src.replace(old, new)
        kind = "+".join(name for name, _, _ in picked)
    else:
        name, tail = rng.choice(CRASHES)
        src += tail
        kind = name
    return kind, f"# synthetic submission {index:05d} ({kind})\n" + src


def make_batch(folder: Path, n: int, *, seed: int = 0, hostile: int = 0, layout: str = "files") -> dict[str, str]:
    """Write ``n`` submissions into ``folder``; returns id -> kind. ``hostile`` copies of the
    hostile fixtures (in ``HOSTILE_ORDER``) replace the last ones. ``layout="folders"`` puts each in its own folder."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {}
    hostile_files = [HOSTILE / f"{name}.py" for name in HOSTILE_ORDER]
    for i in range(n):
        sid = f"s{i:05d}"
        if i >= n - hostile and hostile_files:
            src_path = hostile_files[(i - (n - hostile)) % len(hostile_files)]
            kind, source = f"hostile:{src_path.stem}", src_path.read_text() + f"\n# copy {i}\n"
        else:
            kind, source = variant(rng, i)
        if layout == "folders":
            (folder / sid).mkdir(exist_ok=True)
            (folder / sid / "mse_two_layer.py").write_text(source)
        else:
            (folder / f"{sid}.py").write_text(source)
        kinds[sid] = kind
    return kinds


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
