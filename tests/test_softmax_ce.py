"""softmax_ce end to end: oracles agree, reference full marks, stub zero, each buggy submission
loses exactly the parts it breaks (labelled with the right code), and correct submissions
written differently keep full marks."""
import numpy as np
import pytest

from autograder import cases, project
from autograder.oracle import Oracles
from tests.helpers import codes_of, lost_parts, mutate, reference_source, stub_source

A = "softmax_ce"
TOTAL = 20
SOFTMAX_PARTS = {"softmax", "softmax_rows_sum_to_1", "softmax_stable"}
CE_PARTS = {"cross_entropy", "cross_entropy_stable", "cross_entropy_soft_labels"}
FORWARD = {"forward.Z1", "forward.A1", "forward.Z2", "forward.P"}
BACKWARD = {"backward.W1", "backward.b1", "backward.W2", "backward.b2"}
HIDDEN_GRADS = {"backward.W1", "backward.b1"}


def feedback_of(report, part):
    return next(p.feedback for p in report.parts if p.name == part)


def test_parts_and_points_are_as_documented():
    spec = project.load_assignment(A)
    points = {p.name: p.points for p in spec.parts}
    assert spec.max_score == TOTAL
    assert set(points) == SOFTMAX_PARTS | CE_PARTS | {"softmax_ce_grad"} | FORWARD | BACKWARD
    assert {p.cases_key for p in spec.parts if p.name in FORWARD} == {"forward"}
    assert {p.cases_key for p in spec.parts if p.name in BACKWARD} == {"backward"}
    assert spec.part("softmax_stable").forbid == ("overflow",)
    assert spec.part("softmax_rows_sum_to_1").checks


def test_reference_and_torch_agree_on_many_seeds():
    spec = project.load_assignment(A)
    oracles = Oracles(spec, torch_oracle=project.load_torch_oracle(spec), reference=project.load_reference(spec))
    checked = 0
    for seed in range(8):
        for part in spec.parts:
            for case in cases.generate(part, (seed,)):
                oracles.expected(part, case)  # raises OracleDisagreement on any mismatch
                checked += 1
    assert checked > 900


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


def test_reference_scores_full_marks(grade_source):
    report = grade_source(A, reference_source(A))
    assert report.score == report.max_score == TOTAL
    assert all(p.diagnoses == [] for p in report.parts)


def test_stub_scores_zero_with_not_implemented_per_part(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.score == 0
    assert len(report.parts) == 15
    for part in report.parts:
        assert part.diagnoses == ["not_implemented"], part.name
        assert "not implemented" in part.feedback


REF = reference_source(A)
SIG_PRIME_Z2 = "    dZ2 = (cache[\"P\"] - Y) / N                 # (N, K): softmax + cross-entropy together\n"
# (anchor in the reference, replacement, parts that must lose points, (part, code it must show first))
MUTANTS = [
    pytest.param("shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = Z",
                 {"softmax_stable"}, ("softmax_stable", "overflow"), id="unstable_softmax"),
    pytest.param("shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = Z - Z.max()",
                 {"softmax_stable"}, ("softmax_stable", "nonfinite"), id="softmax_shifts_by_global_max"),
    pytest.param("    E = np.exp(shifted)\n    return E / E.sum(axis=1, keepdims=True)",
                 "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n    return E / E.sum(axis=0, keepdims=True)",
                 SOFTMAX_PARTS | {"softmax_ce_grad", "forward.P"}, ("softmax", "reduced_wrong_axis"),
                 id="softmax_over_wrong_axis"),
    pytest.param("return E / E.sum(axis=1, keepdims=True)", "return E / E.sum()",
                 {"softmax", "softmax_rows_sum_to_1", "softmax_stable", "softmax_ce_grad", "forward.P"},
                 ("softmax_rows_sum_to_1", "property"), id="softmax_normalised_by_global_sum"),
    pytest.param("return float(-np.sum(Y * _log_softmax(Z)) / N)", "return float(-np.sum(Y * np.log(softmax(Z))) / N)",
                 {"cross_entropy_stable"}, ("cross_entropy_stable", "log_of_zero"), id="log_of_softmax"),
    pytest.param("return float(-np.sum(Y * _log_softmax(Z)) / N)", "return float(-np.sum(Y * _log_softmax(Z)))",
                 CE_PARTS, ("cross_entropy", "scaled_by_N"), id="ce_summed_not_averaged"),
    pytest.param("return float(-np.sum(Y * _log_softmax(Z)) / N)",
                 "return float(-np.mean(_log_softmax(Z)[np.arange(N), Y.argmax(axis=1)]))",
                 {"cross_entropy_soft_labels"}, None, id="ce_assumes_one_hot"),  # no catalogue code for it yet
    pytest.param("return (softmax(Z) - Y) / Z.shape[0]", "return softmax(Z) - Y",
                 {"softmax_ce_grad"}, ("softmax_ce_grad", "scaled_by_N"), id="grad_missing_1_over_N"),
    pytest.param("return (softmax(Z) - Y) / Z.shape[0]", "return (Y - softmax(Z)) / Z.shape[0]",
                 {"softmax_ce_grad"}, ("softmax_ce_grad", "sign_flipped"), id="grad_sign_flipped"),
    pytest.param("return (softmax(Z) - Y) / Z.shape[0]",
                 "s = 1 / (1 + np.exp(-Z))\n    return (softmax(Z) - Y) / Z.shape[0] * s * (1 - s)",
                 {"softmax_ce_grad"}, ("softmax_ce_grad", "extra_sigmoid_prime"), id="grad_extra_sigmoid_prime"),
    pytest.param("dZ2 = (cache[\"P\"] - Y) / N", "dZ2 = cache[\"P\"] - Y",
                 BACKWARD, ("backward.W2", "scaled_by_N"), id="backward_missing_1_over_N"),
    pytest.param("dW2 = dZ2.T @ A1", "dW2 = A1.T @ dZ2",
                 {"backward.W2"}, ("backward.W2", "transposed"), id="transposed_dW2"),
    pytest.param("dW1 = dZ1.T @ X", "dW1 = X.T @ dZ1",
                 {"backward.W1"}, ("backward.W1", "transposed"), id="transposed_dW1"),
    pytest.param("db2 = dZ2.sum(axis=0)", "db2 = dZ2",
                 {"backward.b2"}, ("backward.b2", "bias_not_reduced"), id="per_sample_db2"),
    pytest.param("db1 = dZ1.sum(axis=0)", "db1 = np.sum(dZ1)",
                 {"backward.b1"}, ("backward.b1", "shape_mismatch"), id="scalar_b1_as_in_the_seed"),
    pytest.param("db1 = dZ1.sum(axis=0)", "db1 = np.array([np.sum(dZ1)])",
                 {"backward.b1"}, ("backward.b1", "shape_mismatch"), id="b1_summed_over_every_axis"),
    pytest.param(SIG_PRIME_Z2, SIG_PRIME_Z2 + "    dZ2 = dZ2 * _sigmoid(cache[\"Z2\"]) * (1 - _sigmoid(cache[\"Z2\"]))\n",
                 BACKWARD, ("backward.W2", "extra_sigmoid_prime"), id="extra_sigmoid_prime_at_softmax_output"),
    pytest.param("dZ1 = dA1 * A1 * (1.0 - A1)", "dZ1 = dA1",
                 HIDDEN_GRADS, ("backward.W1", "missing_activation_grad"), id="missing_activation_grad"),
    pytest.param("dZ1 = dA1 * A1 * (1.0 - A1)", "dZ1 = dA1 * _sigmoid(A1) * (1.0 - _sigmoid(A1))",
                 HIDDEN_GRADS, ("backward.b1", "sigmoid_prime_on_activation"), id="sigmoid_prime_on_activation"),
]


@pytest.mark.parametrize("old, new, broken, labelled", MUTANTS)
def test_buggy_submission_loses_exactly_its_parts(grade_source, old, new, broken, labelled):
    report = grade_source(A, mutate(REF, old, new))
    assert lost_parts(report) == broken
    if labelled is None:
        return
    part, code = labelled
    assert codes_of(report, part)[0] == code, codes_of(report, part)


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


def test_property_part_grades_the_property_not_the_values(grade_source):
    """softmax(2 Z) is normalised but wrong: it loses the values parts, keeps the property part."""
    src = mutate(REF, "shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = 2 * (Z - Z.max(axis=1, keepdims=True))")
    report = grade_source(A, src)
    lost = lost_parts(report)
    assert "softmax_rows_sum_to_1" not in lost
    assert {"softmax", "softmax_stable", "softmax_ce_grad", "forward.P"} <= lost


def test_softmax_that_mutates_its_input_is_caught(grade_source):
    src = mutate(REF, "shifted = Z - Z.max(axis=1, keepdims=True)", "Z -= Z.max(axis=1, keepdims=True)\n    shifted = Z")
    report = grade_source(A, src)
    assert "input_mutated" in codes_of(report, "softmax")


# Correct implementations written differently: each replaces functions of the reference
# (later definitions win), and must keep full marks.
EINSUM = '''
def forward(X, params):
    Z1 = np.einsum("nd,hd->nh", X, params["W1"]) + params["b1"]
    A1 = 1.0 / (1.0 + np.exp(-Z1))
    Z2 = np.einsum("nh,kh->nk", A1, params["W2"]) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    dZ2 = softmax_ce_grad(cache["Z2"], Y)
    dZ1 = np.einsum("nk,kh->nh", dZ2, params["W2"]) * cache["A1"] * (1 - cache["A1"])
    return {"W1": np.einsum("nh,nd->hd", dZ1, X), "b1": np.einsum("nh->h", dZ1),
            "W2": np.einsum("nk,nh->kh", dZ2, cache["A1"]), "b2": np.einsum("nk->k", dZ2)}
'''
LOOPS = '''
import math


def softmax(Z):
    P = np.zeros(Z.shape)
    for p in range(Z.shape[0]):
        m = max(Z[p])
        e = [math.exp(z - m) for z in Z[p]]
        total = sum(e)
        for i in range(Z.shape[1]):
            P[p, i] = e[i] / total
    return P


def cross_entropy(Z, Y):
    total = 0.0
    for p in range(Z.shape[0]):
        m = max(Z[p])
        lse = m + math.log(sum(math.exp(z - m) for z in Z[p]))
        total += sum(Y[p, i] * (lse - Z[p, i]) for i in range(Z.shape[1]))
    return total / Z.shape[0]


def backward(X, Y, params, cache):
    N, D = X.shape
    K, H = params["W2"].shape
    grads = {"W1": np.zeros((H, D)), "b1": np.zeros(H), "W2": np.zeros((K, H)), "b2": np.zeros(K)}
    for p in range(N):
        dz2 = (cache["P"][p] - Y[p]) / N
        a1 = cache["A1"][p]
        grads["W2"] += np.outer(dz2, a1)
        grads["b2"] += dz2
        dz1 = (params["W2"].T @ dz2) * a1 * (1 - a1)
        grads["W1"] += np.outer(dz1, X[p])
        grads["b1"] += dz1
    return grads
'''
LOGADDEXP = '''
def cross_entropy(Z, Y):
    # the seed's form: L_p = log sum_j e^{z_j} - sum_i y_i z_i (rows of Y sum to 1)
    lse = np.logaddexp.reduce(Z, axis=1)
    return float(np.mean(lse - np.sum(Y * Z, axis=1)))


def softmax(Z):
    return np.exp(Z - np.logaddexp.reduce(Z, axis=1, keepdims=True))
'''
# float32 inside softmax stays within the 1e-6 tolerance (P <= 1, round-off ~1e-7). The gradient
# keeps float64: dZ = (P - Y)/N cancels to ~(1 - P) on confident rows, where float32 round-off
# would be a relative error of 1e-6 or more, so softmax_ce_grad computes its own float64 P.
FLOAT32 = '''
def softmax(Z):
    shifted = (Z - Z.max(axis=1, keepdims=True)).astype(np.float32)
    E = np.exp(shifted)
    return (E / E.sum(axis=1, keepdims=True)).astype(np.float64)


def softmax_ce_grad(Z, Y):
    return (np.exp(_log_softmax(Z)) - Y) / len(Z)
'''


@pytest.mark.parametrize("alternative", [
    pytest.param(EINSUM, id="einsum_forward_backward"),
    pytest.param(LOOPS, id="explicit_loops"),
    pytest.param(LOGADDEXP, id="logaddexp_reduce"),
    pytest.param(FLOAT32, id="float32_softmax_cast_back"),
])
def test_correct_but_different_keeps_full_marks(grade_source, alternative):
    report = grade_source(A, REF + "\n" + alternative)
    assert report.score == TOTAL, {p.name: (p.score, p.diagnoses) for p in report.parts if p.score < p.max_score}


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
