"""mse_two_layer end to end: oracles agree, inputs are reference-correct, reference full marks,
stub zero, each buggy submission loses exactly the parts it breaks (labelled with the right
code), and correct submissions written differently keep full marks."""
import numpy as np
import pytest

from autograder import cases, project
from autograder.oracle import Oracles
from tests.helpers import ROOT, codes_of, lost_parts, mutate, reference_source, stub_source

A = "mse_two_layer"
TOTAL = 20
BACKWARD = {"backward.W1", "backward.b1", "backward.W2", "backward.b2"}
HIDDEN_PATH = {"sigmoid_backward", "backward.W1", "backward.b1"}
EXAMPLES = ROOT / "solutions" / "examples" / A


def test_points_and_parts_are_as_documented():
    spec = project.load_assignment(A)
    points = {p.name: p.points for p in spec.parts}
    assert points == {
        "forward.Z1": 1, "forward.A1": 1, "forward.Z2": 1, "mse_loss": 2, "output_grad": 2,
        "linear_backward.dA_prev": 2, "linear_backward.dW": 2, "linear_backward.db": 1,
        "sigmoid_backward": 2, "backward.W1": 2, "backward.b1": 1, "backward.W2": 2, "backward.b2": 1,
    }
    assert spec.max_score == TOTAL
    assert [f.args for f in spec.functions] == [
        ("X", "params"), ("Y_hat", "Y"), ("Y_hat", "Y"), ("dZ", "A_prev", "W"), ("dA", "Z"),
        ("X", "Y", "params", "cache"),
    ]


def test_reference_and_torch_agree_on_many_seeds():
    spec = project.load_assignment(A)
    torch_oracle, reference = project.load_torch_oracle(spec), project.load_reference(spec)
    checked = 0
    for seed in range(20):
        # one Oracles per seed: its cache is keyed by case id, which does not include the seed
        oracles = Oracles(spec, torch_oracle=torch_oracle, reference=reference)
        for part in spec.parts:
            for case in cases.generate(part, (seed,)):
                oracles.expected(part, case)  # raises OracleDisagreement on any mismatch
                checked += 1
    assert checked == 20 * 13 * 9


def test_cases_are_reference_correct_and_cover_the_edges():
    spec = project.load_assignment(A)
    reference = project.load_reference(spec)
    part = spec.part("backward.W1")
    generated = [c for seed in range(5) for c in cases.generate(part, (seed,))]
    for case in generated:
        cache = reference.forward(case.inputs["X"], case.inputs["params"])
        for key in ("Z1", "A1", "Z2"):
            np.testing.assert_array_equal(case.inputs["cache"][key], cache[key])
        N, D, H, K = (case.dims[k] for k in "NDHK")
        assert case.inputs["Y"].shape == (N, K) and case.inputs["params"]["W1"].shape == (H, D)
    dims = [c.dims for c in generated]
    for letter in "NHK":
        assert any(d[letter] == 1 for d in dims), letter
    random = [d for c, d in zip(generated, dims) if not any(d[k] == 1 for k in "NHK")]
    assert random and all(len({d["D"], d["H"], d["K"]}) == 3 for d in random)


def test_reference_scores_full_marks(grade_source):
    report = grade_source(A, reference_source(A))
    assert report.score == report.max_score == TOTAL
    assert all(p.diagnoses == [] for p in report.parts)


def test_stub_scores_zero_with_not_implemented_per_part(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.score == 0
    for part in report.parts:
        assert part.diagnoses == ["not_implemented"], part.name
        assert "not implemented" in part.feedback


REF = reference_source(A)
LOSS = "return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)"
DZ2 = "return (Y_hat - Y) / Y.shape[0]"
DB = "db = dZ.sum(axis=0)"
SIG = "return dA * s * (1.0 - s)"
# (anchor in the reference, replacement, parts that must lose points, {part: first code it must show})
MUTANTS = [
    pytest.param("dW = dZ.T @ A_prev", "dW = A_prev.T @ dZ",
                 {"linear_backward.dW", "backward.W1", "backward.W2"},
                 {"linear_backward.dW": "transposed", "backward.W2": "transposed"}, id="transposed_dW"),
    pytest.param(DZ2, "return Y_hat - Y", {"output_grad"} | BACKWARD,
                 {"output_grad": "scaled_by_N", "backward.W2": "scaled_by_N", "backward.b1": "scaled_by_N"},
                 id="output_grad_missing_1_over_N"),
    pytest.param(DZ2, "return (Y - Y_hat) / Y.shape[0]", {"output_grad"} | BACKWARD,
                 {"output_grad": "sign_flipped", "backward.W1": "sign_flipped"}, id="output_grad_sign_flipped"),
    pytest.param(DB, "db = dZ", {"linear_backward.db", "backward.b1", "backward.b2"},
                 {"linear_backward.db": "bias_not_reduced", "backward.b2": "bias_not_reduced"}, id="per_sample_db"),
    # reduced_wrong_axis cannot be declared as a variant: its shape (N,) differs from db's (out,)
    pytest.param(DB, "db = dZ.sum(axis=1)", {"linear_backward.db", "backward.b1", "backward.b2"},
                 {"linear_backward.db": "shape_mismatch", "backward.b1": "shape_mismatch"}, id="db_summed_over_wrong_axis"),
    pytest.param("    s = sigmoid(Z)\n", "    s = sigmoid(sigmoid(Z))\n", HIDDEN_PATH,
                 {"sigmoid_backward": "sigmoid_prime_on_activation", "backward.W1": "sigmoid_prime_on_activation"},
                 id="sigmoid_prime_on_activation"),
    pytest.param(SIG, "return dA.copy()", HIDDEN_PATH,
                 {"sigmoid_backward": "missing_activation_grad", "backward.b1": "missing_activation_grad"},
                 id="missing_activation_grad"),
    pytest.param('dZ2 = output_grad(cache["Z2"], Y)', 'dZ2 = sigmoid_backward(output_grad(cache["Z2"], Y), cache["Z2"])',
                 BACKWARD, {"backward.W2": "extra_sigmoid_prime", "backward.b2": "extra_sigmoid_prime",
                            "backward.W1": "extra_sigmoid_prime"}, id="extra_sigmoid_prime_on_linear_output"),
    pytest.param(LOSS, "return float(np.sum((Y_hat - Y) ** 2) / N)", {"mse_loss"},
                 {"mse_loss": "scaled_const"}, id="loss_missing_half"),
    pytest.param(LOSS, "return float(0.5 * np.mean((Y_hat - Y) ** 2))", {"mse_loss"},
                 {"mse_loss": "scaled_const"}, id="loss_mean_over_entries_not_rows"),
    pytest.param(LOSS, "return float(0.5 * np.sum((Y_hat - Y) ** 2))", {"mse_loss"},
                 {"mse_loss": "scaled_by_N"}, id="loss_missing_1_over_N"),
    # seed 001's slip sigma(z)(1 - sigma'(z)): caught, but the catalogue has no code for it
    pytest.param(SIG, "return dA * s * (1.0 - s * (1.0 - s))", HIDDEN_PATH,
                 {"sigmoid_backward": "wrong_values"}, id="seed001_sigma_times_one_minus_sigma_prime"),
    pytest.param('Z2 = A1 @ params["W2"].T + params["b2"]', 'Z2 = sigmoid(A1 @ params["W2"].T + params["b2"])',
                 {"forward.Z2"}, {"forward.Z2": "wrong_values"}, id="sigmoid_on_linear_output_in_forward"),
    pytest.param("dA_prev = dZ @ W\n", "dA_prev = dZ @ W\n    dA_prev = dA_prev.astype(np.float32)\n",
                 {"linear_backward.dA_prev"}, {"linear_backward.dA_prev": "wrong_dtype"}, id="float32_dA_prev"),
]


@pytest.mark.parametrize("old, new, broken, labelled", MUTANTS)
def test_buggy_submission_loses_exactly_its_parts(grade_source, old, new, broken, labelled):
    report = grade_source(A, mutate(REF, old, new))
    assert lost_parts(report) == broken
    for part, code in labelled.items():
        assert codes_of(report, part)[0] == code, (part, codes_of(report, part))


LOOPS = '''
import math
import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def forward(X, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    (N, D), H, K = X.shape, W1.shape[0], W2.shape[0]
    Z1, A1, Z2 = np.zeros((N, H)), np.zeros((N, H)), np.zeros((N, K))
    for p in range(N):
        for j in range(H):
            Z1[p, j] = b1[j] + sum(X[p, i] * W1[j, i] for i in range(D))
            A1[p, j] = _sigmoid(Z1[p, j])
        for k in range(K):
            Z2[p, k] = b2[k] + sum(A1[p, j] * W2[k, j] for j in range(H))
    return {"Z1": Z1, "A1": A1, "Z2": Z2}


def mse_loss(Y_hat, Y):
    N, K = Y.shape
    return sum((Y_hat[p, k] - Y[p, k]) ** 2 for p in range(N) for k in range(K)) / (2 * N)


def output_grad(Y_hat, Y):
    N, K = Y.shape
    out = np.empty((N, K))
    for p in range(N):
        for k in range(K):
            out[p, k] = (Y_hat[p, k] - Y[p, k]) / N
    return out


def linear_backward(dZ, A_prev, W):
    (N, O), I = dZ.shape, W.shape[1]
    dA, dW, db = np.zeros((N, I)), np.zeros((O, I)), np.zeros(O)
    for p in range(N):
        for o in range(O):
            db[o] += dZ[p, o]
            for i in range(I):
                dA[p, i] += dZ[p, o] * W[o, i]
                dW[o, i] += dZ[p, o] * A_prev[p, i]
    return dA, dW, db


def sigmoid_backward(dA, Z):
    out = np.empty(Z.shape)
    for idx in np.ndindex(*Z.shape):
        s = _sigmoid(Z[idx])
        out[idx] = dA[idx] * s * (1 - s)
    return out


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
'''

FLOAT32_INSIDE = '''
import numpy as np


def _f(a):
    return np.asarray(a, dtype=np.float32)


def _sigmoid(z):
    return np.float32(1) / (np.float32(1) + np.exp(-z))


def forward(X, params):
    X, W1, b1, W2, b2 = _f(X), *(_f(params[k]) for k in ("W1", "b1", "W2", "b2"))
    Z1 = X @ W1.T + b1
    A1 = _sigmoid(Z1)
    Z2 = A1 @ W2.T + b2
    return {"Z1": Z1.astype(np.float64), "A1": A1.astype(np.float64), "Z2": Z2.astype(np.float64)}


def mse_loss(Y_hat, Y):
    d = _f(Y_hat) - _f(Y)
    return float(np.float32(0.5) * np.sum(d * d) / np.float32(len(Y)))


def output_grad(Y_hat, Y):
    return ((_f(Y_hat) - _f(Y)) / np.float32(len(Y))).astype(np.float64)


def linear_backward(dZ, A_prev, W):
    dZ, A_prev, W = _f(dZ), _f(A_prev), _f(W)
    return (dZ @ W).astype(np.float64), (dZ.T @ A_prev).astype(np.float64), dZ.sum(axis=0).astype(np.float64)


def sigmoid_backward(dA, Z):
    s = _sigmoid(_f(Z))
    return (_f(dA) * s * (np.float32(1) - s)).astype(np.float64)


def backward(X, Y, params, cache):
    dZ2 = output_grad(cache["Z2"], Y)
    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
    dZ1 = sigmoid_backward(dA1, cache["Z1"])
    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
'''


@pytest.mark.parametrize("mode", ["grade", "check"])
@pytest.mark.parametrize("source", [
    pytest.param((EXAMPLES / "correct_einsum.py").read_text(), id="einsum_tanh_sigmoid"),
    pytest.param(LOOPS, id="explicit_loops"),
    pytest.param(FLOAT32_INSIDE, id="float32_inside_cast_back"),
    pytest.param(mutate(REF, SIG, "A = sigmoid(Z)\n    return dA * (A - A * A)"), id="sigma_prime_as_A_minus_A_squared"),
])
def test_correct_but_different_keeps_full_marks(grade_source, source, mode):
    report = grade_source(A, source, mode=mode)
    assert report.score == TOTAL, {p.name: p.diagnoses for p in report.parts if p.diagnoses}


# Bundled examples (graded by `bpgrade demo`): each must show what its docstring says.
EXAMPLE_VERDICTS = [
    pytest.param("correct_einsum.py", set(), {}, id="correct_einsum"),
    pytest.param("slides_both_sigmoid.py", BACKWARD, {"backward.W2": "extra_sigmoid_prime"}, id="slides_both_sigmoid"),
    pytest.param("sigma_prime_of_activation.py", {"mse_loss"} | HIDDEN_PATH,
                 {"sigmoid_backward": "sigmoid_prime_on_activation", "mse_loss": "scaled_const"},
                 id="sigma_prime_of_activation"),
    pytest.param("slides_transposes.py",
                 {"output_grad", "linear_backward.dW", "linear_backward.db"} | BACKWARD,
                 {"output_grad": "scaled_by_N", "linear_backward.dW": "transposed",
                  "linear_backward.db": "bias_not_reduced"}, id="slides_transposes"),
    pytest.param("half_done.py",
                 {"output_grad", "linear_backward.dA_prev", "linear_backward.dW", "linear_backward.db",
                  "backward.W1", "backward.b1"} | {"sigmoid_backward"},
                 {"output_grad": "not_implemented", "backward.W1": "missing_activation_grad"}, id="half_done"),
]


@pytest.mark.parametrize("name, broken, labelled", EXAMPLE_VERDICTS)
def test_bundled_examples_grade_as_described(grade_source, name, broken, labelled):
    report = grade_source(A, (EXAMPLES / name).read_text())
    assert lost_parts(report) == broken
    for part, code in labelled.items():
        assert codes_of(report, part)[0] == code, (part, codes_of(report, part))
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(p.values[0] for p in EXAMPLE_VERDICTS)


def test_backward_calling_the_students_own_helpers_is_graded_on_its_own_output(grade_source):
    """backward may reuse linear_backward; a broken helper then costs backward too, but a stubbed
    helper that backward does not use costs nothing in backward."""
    src = mutate(REF, "    dA_prev = dZ @ W\n", "    raise NotImplementedError\n")
    src = mutate(src, '    dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])\n',
                 '    dA1, dW2, db2 = dZ2 @ params["W2"], dZ2.T @ cache["A1"], dZ2.sum(axis=0)\n')
    src = mutate(src, '    _, dW1, db1 = linear_backward(dZ1, X, params["W1"])\n',
                 '    dW1, db1 = dZ1.T @ X, dZ1.sum(axis=0)\n')
    report = grade_source(A, src)
    assert lost_parts(report) == {"linear_backward.dA_prev", "linear_backward.dW", "linear_backward.db"}
    assert report.score == TOTAL - 5
