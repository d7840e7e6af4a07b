"""The corpus of realistic student submissions (tests/corpus/), graded with the real grader in
hidden-grading mode: every part of every file must get what tests/corpus/manifest.toml says
(full marks, not full marks with a named mistake, or 0 for a trivial answer). The expectations
come from the math of each file, not from a run of the grader. `python -m tests.corpus.table`
prints the same comparison as a table."""
from __future__ import annotations

import pytest

from tests.corpus import (ASSIGNMENTS, CORPUS, GraderPool, assignment_parts, corpus_files, grade_file,
                          known_codes, load_manifest)

pytestmark = pytest.mark.slow

MANIFEST = load_manifest()
FILES = corpus_files()


@pytest.fixture(scope="module")
def pool():
    with GraderPool() as graders:  # one sandbox + grader per assignment; FILES come in assignment order
        yield graders


@pytest.mark.parametrize("rel", [pytest.param(rel, id=rel) for rel in FILES])
def test_corpus_file_scores_what_its_math_deserves(pool, rel):
    assert rel in MANIFEST, f"{rel} is not in {CORPUS / 'manifest.toml'}"
    result = grade_file(pool, rel, MANIFEST)
    bad = result.disagreements
    if bad:
        lines = [f"{rel} ({MANIFEST[rel]['habit']}): {len(bad)} of {len(result.outcomes)} parts disagree "
                 f"with the manifest; total {result.score:g}/{result.max_score:g}"]
        if result.load_error:
            lines.append("load error: " + result.load_error.splitlines()[0][:300])
        lines += ["  " + o.describe() for o in bad]
        pytest.fail("\n".join(lines), pytrace=False)


def test_manifest_lists_exactly_the_corpus_files_and_every_part():
    assert set(MANIFEST) == set(FILES), (
        f"in the corpus, not the manifest: {sorted(set(FILES) - set(MANIFEST))}; "
        f"in the manifest, not the corpus: {sorted(set(MANIFEST) - set(FILES))}")
    codes = known_codes()
    for rel, entry in MANIFEST.items():
        aid = rel.split("/", 1)[0]
        assert entry["assignment"] == aid, f"{rel}: assignment {entry['assignment']!r}, folder {aid!r}"
        assert entry.get("habit"), f"{rel}: no habit description"
        parts = assignment_parts(aid)
        assert list(entry["parts"]) == parts, f"{rel}: parts {list(entry['parts'])}, the assignment has {parts}"
        for part, expected in entry["parts"].items():
            unknown = set(expected.codes) - codes
            assert not unknown, f"{rel} {part}: unknown diagnosis code(s) {sorted(unknown)}"


def test_corpus_is_large_enough_and_spread_over_the_assignments():
    per = {aid: sum(rel.startswith(aid + "/") for rel in FILES) for aid in ASSIGNMENTS}
    assert len(FILES) >= 44 and min(per.values()) >= 10, per
    kinds = {e.kind for entry in MANIFEST.values() for e in entry["parts"].values()}
    assert kinds == {"full", "wrong", "zero"}
