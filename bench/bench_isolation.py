"""Per-submission isolation overhead: grade-equivalent calls of the reference solution through
the sandbox (fresh worker per submission: fork, confine, load, every case, reap) vs calling the
same functions in-process on the same cases. Prints ms per submission, the ratio, and peak RSS.

    python bench/bench_isolation.py [--n 30] [--assignment logistic_regression] [--mode fork|spawn]
                                    [--preimport matplotlib,matplotlib.pyplot]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.sandbox.host import Sandbox, Submission  # noqa: E402  (zygote first: before any secret)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--assignment", default="logistic_regression")
    parser.add_argument("--mode", default=None)
    parser.add_argument("--preimport", default=None,
                        help="modules the zygote imports, comma-separated ('' for none; default: the Sandbox's)")
    opts = parser.parse_args()
    extra = {} if opts.preimport is None else {"preimport": tuple(n for n in opts.preimport.split(",") if n)}
    with Sandbox(isolation_mode=opts.mode, **extra) as box:
        from autograder import project
        from autograder.cases import groups
        from autograder.grade import Grader

        grader = Grader(opts.assignment, mode="grade", shared=True)  # the cases grading uses (loads torch, after the zygote)
        spec, ref = grader.spec, grader.oracles.reference
        source = project.solution_path(opts.assignment).read_text()
        calls = [(spec.function(parts[0].function), case.inputs)
                 for key, parts in groups(spec).items() for case in grader.cases(key)]

        def in_process():
            for fn, inputs in calls:
                kwargs = fn.prepare(inputs) if fn.prepare else inputs
                getattr(ref, fn.name)(*[kwargs[a] for a in fn.args])

        def sandboxed():
            with Submission(box, source, str(spec.folder / "assignment.py")) as sub:
                assert sub.load().status == "loaded"
                for fn, inputs in calls:
                    result = sub.call(fn.name, inputs, fn.returns.to_plain(), spec.time_limit)
                    assert result.status == "ok", result

        def startup_only(source=source):
            with Submission(box, source, str(spec.folder / "assignment.py")) as sub:
                assert sub.load().status == "loaded"

        plotting = "import matplotlib.pyplot as plt\n" + source + "\nplt.plot([0, 1], [1, 0])\nplt.show()\n"

        def timeit(fn, n):
            fn()
            out = []
            for _ in range(n):
                t = time.perf_counter()
                fn()
                out.append((time.perf_counter() - t) * 1000)
            return statistics.median(out), sorted(out)[int(0.95 * (len(out) - 1))]

        math_ms, math_p95 = timeit(in_process, max(opts.n, 30))
        box_ms, box_p95 = timeit(sandboxed, opts.n)
        start_ms, start_p95 = timeit(startup_only, opts.n)
        plot_ms, plot_p95 = timeit(lambda: startup_only(plotting), opts.n)
        with Submission(box, source, str(spec.folder / "assignment.py")) as sub:
            sub.load()
            protections = sub.protections
        per_call = (box_ms - start_ms) / len(calls)
        print(f"assignment {opts.assignment}: {len(calls)} calls per submission, isolation mode {box.mode}")
        print(f"protections: {', '.join(protections)}")
        print(f"in-process math        median {math_ms:8.2f} ms   p95 {math_p95:8.2f} ms")
        print(f"sandboxed submission   median {box_ms:8.2f} ms   p95 {box_p95:8.2f} ms")
        print(f"  of which worker start+load+reap  {start_ms:8.2f} ms   p95 {start_p95:8.2f} ms")
        print(f"  per call round trip              {per_call:8.3f} ms")
        print(f"worker start+load+reap, the file importing pyplot and plotting  {plot_ms:8.2f} ms   p95 {plot_p95:8.2f} ms"
              f"   (zygote preimport: {', '.join(box.preimport) or 'none'})")
        print(f"isolation overhead     {box_ms - math_ms:8.2f} ms per submission   ratio {box_ms / max(math_ms, 1e-9):.1f}x")
        print(f"peak RSS grader {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB, "
              f"largest child {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
