"""A student's local check, end to end: `bpgrade check <id> <file>` from the handout's wheel,
with torch unimportable (the handout's recorded outputs stand in for it), beside `python -c
"import numpy"` on the same machine in the same sitting.

    python bench/bench_check.py [--n 10] [--assignment logistic_regression]

Builds a handout into a temporary folder, installs its student wheel there (``pip install
--no-deps --target``: the engine's student side and the assignments, no checkout), then times
``--n`` alternating runs of each command in fresh interpreters and prints the medians, their
ratio and the check's exit status (0: the reference passes every public case).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHECK = ("import sys; sys.modules['torch'] = None  # no torch: it cannot be imported\n"
         "from autograder.cli import main\n"
         "sys.argv = ['bpgrade', 'check', sys.argv[1], sys.argv[2]]\n"
         "main()\n")


def timed(args: list[str], cwd: Path, env: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t0, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--assignment", default="logistic_regression")
    opts = parser.parse_args()

    from autograder import project
    from autograder.students import handout

    with tempfile.TemporaryDirectory() as tmp:
        out, site = Path(tmp) / "handout", Path(tmp) / "site"
        t0 = time.perf_counter()
        handout.build(out, assignments=[opts.assignment])
        (wheel,) = (out / "student_template").glob("*.whl")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                       check=True, capture_output=True)
        print(f"handout and wheel built and installed in {time.perf_counter() - t0:.1f} s")
        mine = out / "student_template" / f"{opts.assignment}.py"
        mine.write_text(project.solution_path(opts.assignment).read_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BPGRADE_"))}
        env["PYTHONPATH"] = str(site)
        work = out / "student_template"
        check = [sys.executable, "-c", CHECK, opts.assignment, mine.name]
        numpy = [sys.executable, "-c", "import numpy"]
        timed(check, work, env)  # first run: bytecode and the plotting cache written once
        checks, imports, codes = [], [], set()
        for _ in range(opts.n):  # alternating, so both see the same machine
            seconds, code = timed(check, work, env)
            checks.append(seconds)
            codes.add(code)
            imports.append(timed(numpy, work, env)[0])
    check_s, numpy_s = statistics.median(checks), statistics.median(imports)
    print(f"bpgrade check {opts.assignment} (reference, no torch): median {check_s:.3f} s "
          f"(range {min(checks):.3f}-{max(checks):.3f}), exit status {sorted(codes)}")
    print(f"python -c 'import numpy': median {numpy_s:.3f} s (range {min(imports):.3f}-{max(imports):.3f})")
    print(f"ratio check / import numpy: {check_s / numpy_s:.1f}x")


if __name__ == "__main__":
    main()
