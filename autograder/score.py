"""Partial credit: points x fraction of passing cases, clamped to [0, points].

A part that scores below its points is reported as failed (gradescope-utils' rule), so partial
credit never hides a problem.
"""
from __future__ import annotations


def part_score(points: float, passed: int, total: int, *, all_or_nothing: bool = False) -> float:
    if total <= 0:
        return 0.0
    fraction = min(max(passed / total, 0.0), 1.0)
    if all_or_nothing:
        fraction = float(fraction == 1.0)
    return round(points * fraction, 4)


def status(score: float, max_score: float) -> str:
    return "passed" if score >= max_score else "failed"
