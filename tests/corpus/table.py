"""Grade the corpus and print how the grader agrees with the manifest.

    python -m tests.corpus.table [ASSIGNMENT ...]

One row per assignment: files, parts, how many parts the manifest expects full / wrong, how
many agree, false fails (expected full, not full), false passes (expected wrong or zero, got
full marks) and other disagreements (a trivial answer that earned some points, a lost part
without the expected diagnosis, a part missing from the report); then every disagreement.
Exit status 0 only when everything agrees.
"""
from __future__ import annotations

import sys
import time
from collections import Counter

from tests.corpus import ASSIGNMENTS, corpus_files, grade_corpus, load_manifest

COLUMNS = ("files", "parts", "exp full", "exp wrong", "agree", "false fails", "false passes", "other")


def tabulate(results) -> tuple[str, int]:
    rows, disagreements = [], []
    totals = Counter()
    for aid in ASSIGNMENTS:
        mine = [r for r in results if r.assignment == aid]
        if not mine:
            continue
        outcomes = [o for r in mine for o in r.outcomes]
        verdicts = Counter(o.verdict for o in outcomes)
        row = {
            "files": len(mine),
            "parts": len(outcomes),
            "exp full": sum(o.expected.kind == "full" for o in outcomes),
            "exp wrong": sum(o.expected.kind != "full" for o in outcomes),
            "agree": verdicts["agree"],
            "false fails": verdicts["false_fail"],
            "false passes": verdicts["false_pass"],
            "other": sum(n for v, n in verdicts.items() if v not in ("agree", "false_fail", "false_pass")),
        }
        totals.update(row)
        rows.append((aid, row))
        disagreements += [o for o in outcomes if not o.agrees]
    rows.append(("total", totals))
    width = max(len(name) for name, _ in rows)
    lines = ["assignment".ljust(width) + "".join(f"{c:>14}" for c in COLUMNS)]
    lines += [name.ljust(width) + "".join(f"{row[c]:>14}" for c in COLUMNS) for name, row in rows]
    lines.append("")
    if disagreements:
        lines.append(f"{len(disagreements)} disagreements (file, part: expected, got score/max [diagnoses]):")
        lines += ["  " + o.describe() for o in disagreements]
    else:
        lines.append("every part agrees with the manifest")
    return "\n".join(lines), len(disagreements)


def main(argv: list[str]) -> int:
    wanted = argv or list(ASSIGNMENTS)
    unknown = set(wanted) - set(ASSIGNMENTS)
    if unknown:
        print(f"unknown assignment(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    manifest = load_manifest()
    files = [rel for rel in corpus_files() if rel.split("/", 1)[0] in wanted]
    start = time.monotonic()
    results = grade_corpus(files, manifest)
    text, bad = tabulate(results)
    print(text)
    print(f"\n{len(files)} files graded in {time.monotonic() - start:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
