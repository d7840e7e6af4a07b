"""softmax_ce end to end: oracles agree, reference full marks, stub zero, each buggy submission
loses exactly the parts it breaks (labelled with the right code), and correct submissions
written differently keep full marks."""
import numpy as np

from autograder import cases, project
from tests.helpers import codes_of, lost_parts, mutate, part_of, reference_source

A = "softmax_ce"
TOTAL = 20
SOFTMAX_PARTS = {"softmax", "softmax_rows_sum_to_1", "softmax_stable"}
CE_PARTS = {"cross_entropy", "cross_entropy_stable", "cross_entropy_soft_labels"}
FORWARD = {"forward.Z1", "forward.A1", "forward.Z2", "forward.P"}
BACKWARD = {"backward.W1", "backward.b1", "backward.W2", "backward.b2"}
HIDDEN_GRADS = {"backward.W1", "backward.b1"}


def feedback_of(report, part):
    return part_of(report, part).feedback


def test_parts_and_points_are_as_documented():
    spec = project.load_assignment(A)
    points = {p.name: p.points for p in spec.parts}
    assert spec.max_score == TOTAL
    assert set(points) == SOFTMAX_PARTS | CE_PARTS | {"softmax_ce_grad"} | FORWARD | BACKWARD
    assert {p.cases_key for p in spec.parts if p.name in FORWARD} == {"forward"}
    assert {p.cases_key for p in spec.parts if p.name in BACKWARD} == {"backward"}
    assert spec.part("softmax_stable").forbid == ("overflow",)
    assert spec.part("softmax_rows_sum_to_1").checks


def test_cases_are_reference_correct_and_cover_the_edges():
    """backward's cache is the correct forward pass, so a forward bug cannot cascade; shapes
    are non-square and include N = 1, H = 1 and K = 2."""
    spec = project.load_assignment(A)
    ref = project.load_reference(spec)
    generated = cases.generate(spec.part("backward.W1"), (project.PUBLIC_SEED,))
    for case in generated:
        x = case.inputs
        forward = ref.forward(x["X"], x["params"])
        for key in ("Z1", "A1", "Z2", "P"):
            np.testing.assert_allclose(x["cache"][key], forward[key], rtol=1e-12, atol=1e-15)
        assert np.array_equal(x["Y"].sum(axis=1), np.ones(len(x["Y"])))
    dims = [c.dims for c in generated]
    assert any(d["N"] == 1 for d in dims) and any(d["H"] == 1 for d in dims) and any(d["K"] == 2 for d in dims)
    assert any(len({d["N"], d["D"], d["H"], d["K"]}) == 4 for d in dims)
    soft = cases.generate(spec.part("cross_entropy_soft_labels"), (project.PUBLIC_SEED,))
    assert all(np.allclose(c.inputs["Y"].sum(axis=1), 1.0) for c in soft)
    assert any(np.any((c.inputs["Y"] > 0) & (c.inputs["Y"] < 1)) for c in soft)
    huge = cases.generate(spec.part("cross_entropy_stable"), (project.PUBLIC_SEED,))
    assert all(np.max(np.abs(c.inputs["Z"])) >= 750 for c in huge)


REF = reference_source(A)
SIG_PRIME_Z2 = "    dZ2 = (cache[\"P\"] - Y) / N                 # (N, K): softmax + cross-entropy together\n"
# (anchor in the reference, replacement, parts that must lose points, (part, code it must show first))
def test_extra_sigmoid_prime_is_named_on_every_backward_output(grade_source):
    report = grade_source(A, mutate(REF, SIG_PRIME_Z2, SIG_PRIME_Z2 + "    dZ2 = dZ2 * _sigmoid(cache[\"Z2\"]) * (1 - _sigmoid(cache[\"Z2\"]))\n"))
    for part in sorted(BACKWARD):
        assert codes_of(report, part) == ["extra_sigmoid_prime"], part


def test_wrong_axis_fails_the_property_part_with_a_row_sum_message(grade_source):
    src = mutate(REF, "    E = np.exp(shifted)\n    return E / E.sum(axis=1, keepdims=True)",
                 "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n    return E / E.sum(axis=0, keepdims=True)")
    report = grade_source(A, src, mode="check")
    assert codes_of(report, "softmax_rows_sum_to_1")[0] == "property"
    assert "sums to" in feedback_of(report, "softmax_rows_sum_to_1")
    assert codes_of(report, "forward.P")[0] == "reduced_wrong_axis"


def test_property_part_counts_only_beside_right_values(grade_source):
    """softmax(2 Z) is normalised but wrong, like uniform rows: the property alone shows nothing,
    so the property part (and the probes) count only beside a random case with the right values."""
    src = mutate(REF, "shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = 2 * (Z - Z.max(axis=1, keepdims=True))")
    report = grade_source(A, src)
    assert {"softmax", "softmax_rows_sum_to_1", "softmax_stable", "softmax_ce_grad", "forward.P"} <= lost_parts(report)
    rows = part_of(report, "softmax_rows_sum_to_1")
    assert rows.score == 0 and rows.diagnoses == ["no_values_pass"]
    assert "no random case of this function has the right values" in rows.feedback


def test_softmax_that_mutates_its_input_is_caught(grade_source):
    src = mutate(REF, "shifted = Z - Z.max(axis=1, keepdims=True)", "Z -= Z.max(axis=1, keepdims=True)\n    shifted = Z")
    report = grade_source(A, src)
    assert "input_mutated" in codes_of(report, "softmax")


# Correct implementations written differently: each replaces functions of the reference
# (later definitions win), and must keep full marks.
EXAMPLES = {  # example -> {part: first diagnosis} for every part it loses (as its docstring says)
    "correct_einsum_logaddexp": {},
    "naive_formulas": {"softmax_stable": "overflow", "cross_entropy_stable": "log_of_zero"},
    "follows_the_seed": {"backward.W1": "scaled_by_N", "backward.W2": "scaled_by_N",
                         "backward.b1": "shape_mismatch", "backward.b2": "shape_mismatch"},
    "softmax_derivative_twice": {"softmax_ce_grad": "extra_sigmoid_prime", "backward.W1": "sigmoid_prime_on_activation",
                                 "backward.b1": "sigmoid_prime_on_activation", "backward.W2": "transposed"},
}


def test_examples_grade_as_their_docstrings_say(grade_source):
    folder = project.root() / "solutions" / "examples" / A
    assert {path.stem for path in folder.glob("*.py")} == set(EXAMPLES)
    for name, expected in EXAMPLES.items():
        report = grade_source(A, (folder / f"{name}.py").read_text())
        assert {p: codes_of(report, p)[0] for p in lost_parts(report)} == expected, name


def test_float32_arithmetic_inside_passes_on_every_case_of_many_seeds():
    """The documented tolerance admits float32 inside a correct submission (the mutation suite's
    float32 variants), on every case of 40 seeds, not only on the seed the suite grades with:
    P - Y cancels on nearly confident rows, where a purely relative 1e-6 failed 1-4% of cases."""
    import types

    from autograder import selftest
    from autograder.compare import within
    from autograder.oracle import call_model

    spec = project.load_assignment(A)
    ref = project.load_reference(spec)
    suite = selftest.load(A)
    failures, judged = [], 0
    for variant in suite.correct:
        if not variant.id.startswith("float32"):
            continue
        student = types.ModuleType(f"student_{variant.id}")
        exec(compile(suite.correct_source(variant), variant.id, "exec"), student.__dict__)
        for part in spec.parts:
            if part.function not in ("softmax", "backward") or not part.values:
                continue
            for seed in range(40):
                for case in cases.generate(part, (seed,)):
                    got, expected = call_model(student, spec, part.function, case.inputs), call_model(ref, spec, part.function, case.inputs)
                    for name, _scalar, tol in spec.graded(part):
                        judged += 1
                        if not within(got[name], expected[name], tol):
                            failures.append((variant.id, case.id, seed, name))
    assert judged > 3000 and failures == []


def test_dividing_by_n_twice_is_not_taken_for_np_mean(grade_source):
    """-np.mean(Y log P) is 1/K times the loss, dividing by N twice 1/N times: the stable probes
    are never square and random cases have N != K, so each part names the mistake made (a
    pinned K = 2 edge may still draw N = 2, where both answers are the same)."""
    over_n_twice = grade_source(A, mutate(REF, "return float(-np.sum(Y * _log_softmax(Z)) / N)",
                                          "return float(-np.sum(Y * _log_softmax(Z)) / N ** 2)"))
    over_entries = grade_source(A, mutate(REF, "return float(-np.sum(Y * _log_softmax(Z)) / N)",
                                          "return float(-np.mean(Y * _log_softmax(Z)))"))
    for part in ("cross_entropy", "cross_entropy_stable", "cross_entropy_soft_labels"):
        assert "mean_over_entries" not in codes_of(over_n_twice, part), (part, codes_of(over_n_twice, part))
        assert codes_of(over_entries, part)[0] == "mean_over_entries", (part, codes_of(over_entries, part))
