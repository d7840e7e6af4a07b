"""Batch grading throughput: 1000 synthetic mse_two_layer submissions, isolation on.

    python bench/bench_batch.py [--n 1000] [--workers N] [--repeat 3] [--keep DIR] [--shared-cases]

Hidden cases are fresh per submission (each computes its own oracle outputs), as in a real
batch; ``--shared-cases`` gives every submission the same ones (oracles run once).

Prints, for each of ``--repeat`` runs on one pool, throughput (submissions/s, grading only,
after start-up), ms per submission, the in-process floor measured right after it (the
reference's functions called in this process on the same cases, with the same judging, no
sandbox) and the ratio between the two; then the medians (these machines' speed varies by
10-20% from one run to the next), plus peak memory of the whole process tree (grader +
zygotes + workers).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synth import make_batch  # noqa: E402


class PeakRSS:
    """Samples the summed RSS of this process and all its descendants."""

    def __init__(self, every: float = 0.1):
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
            except psutil.Error:
                procs = [self.proc]
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def in_process_floor(grader, n: int) -> float:
    """Seconds per submission to run the reference on every case in-process and judge it."""
    from autograder import project
    from autograder.cases import groups
    from autograder.judge import judge
    from autograder.sandbox.host import CallResult
    from autograder.sandbox.values import split_return

    spec = grader.spec
    ref = project.load_reference(spec)
    grader = grader.for_submission("", "")  # fresh cases: any one submission's
    plan = []
    for key, parts in groups(spec).items():
        fn = spec.function(parts[0].function)
        for case in grader.cases(key):
            plan.append((fn, parts, case, grader.expected(parts[0], case)))
    reps = max(1, min(n, 200))
    t0 = time.perf_counter()
    for _ in range(reps):
        for fn, parts, case, expected in plan:
            inputs = {k: (dict((kk, vv.copy()) for kk, vv in v.items()) if isinstance(v, dict) else
                          (v.copy() if hasattr(v, "copy") else v)) for k, v in case.inputs.items()}
            kwargs = fn.prepare(inputs) if fn.prepare else inputs
            value = getattr(ref, fn.name)(*[kwargs[a] for a in fn.args])
            arrays, types, problems = split_return(value, fn.returns.kind, fn.returns.names)
            call = CallResult("ok", outputs=arrays, types=types, problems=problems)
            for p in parts:
                judge(spec, p, case, call, expected, public=False)
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--keep", type=Path, default=None, help="write submissions and output here")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (each into a fresh output folder); "
                    "the machine's speed varies between runs, so the median is reported")
    ap.add_argument("--shared-cases", action="store_true", help="every submission gets the same hidden cases")
    opts = ap.parse_args()

    from autograder.batch import Pool, run_batch
    from autograder.batch.gradebook import current_records

    work = opts.keep or Path(tempfile.mkdtemp(prefix="bpgrade-bench-"))
    subs = work / "submissions"
    kinds = make_batch(subs, opts.n, seed=2024)
    mix = collections.Counter("correct" if k == "correct" else "crashing" if k in
                              ("raises", "load_error", "syntax_error", "worker_exit", "missing") else "buggy"
                              for k in kinds.values())
    print(f"submissions: {opts.n} mse_two_layer ({', '.join(f'{v} {k}' for k, v in sorted(mix.items()))}); "
          f"{opts.workers} worker slots on {os.cpu_count()} cores")
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        pool = Pool("mse_two_layer", workers=opts.workers, shared=opts.shared_cases)
        startup = time.perf_counter() - t0
        runs = []  # (summary, mean seconds inside a slot, floor measured right after it)
        try:
            for r in range(opts.repeat):
                out = work / f"out{r + 1}"
                summary = run_batch("mse_two_layer", subs, out=out, pool=pool, progress=False)
                records = current_records([json.loads(line) for line in open(out / "results.jsonl")], pool.version)
                in_slot = statistics.mean(r["seconds"] for r in records)
                runs.append((summary, in_slot, in_process_floor(pool.grader, opts.n)))
        finally:
            pool.close()

    print(f"start-up (zygotes + torch + oracles, {'shared' if opts.shared_cases else 'fresh'} cases; "
          f"prepare {pool.prepare_seconds:.2f} s): {startup:.2f} s")
    ratios = []
    for r, (summary, in_slot, floor) in enumerate(runs, 1):
        isolated = summary.seconds / summary.graded
        ratios.append(isolated / (floor / opts.workers))
        print(f"run {r}: {summary.graded} graded in {summary.seconds:.2f} s = {summary.rate:.1f} submissions/s "
              f"({1000 * isolated:.1f} ms/submission wall with {opts.workers} slots, {1000 * in_slot:.1f} ms "
              f"inside its slot); floor {1000 * floor:.1f} ms/submission on 1 core; ratio {ratios[-1]:.1f}x "
              f"(per core {in_slot / floor:.1f}x); then gradebook, feedback and class report in "
              f"{summary.writing_seconds:.2f} s")
    rates = [s.rate for s, _, _ in runs]
    floor = statistics.median(f for _, _, f in runs)
    print(f"isolated (median of {len(runs)}): {statistics.median(rates):.1f} submissions/s "
          f"(range {min(rates):.1f}-{max(rates):.1f})")
    writing = statistics.median(s.writing_seconds for s, _, _ in runs)
    print(f"end to end after start-up (grading + writing the outputs, median): "
          f"{statistics.median(s.graded / (s.seconds + s.writing_seconds) for s, _, _ in runs):.1f} submissions/s "
          f"(writing {writing:.2f} s)")
    print(f"in-process floor (median): {1000 * floor:.1f} ms/submission on 1 core = {1 / floor:.1f} submissions/s "
          f"(x{opts.workers} cores ideal: {opts.workers / floor:.1f}/s)")
    print(f"ratio isolated/floor (median of each run's own): {statistics.median(ratios):.1f}x")
    print(f"failures (crashed/unloadable): {runs[-1][0].failures}; peak memory (grader + sandboxes): "
          f"{mem.peak / 2**20:.0f} MiB")
    print(f"output: {work}")


if __name__ == "__main__":
    main()
