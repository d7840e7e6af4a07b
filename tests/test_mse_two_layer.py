"""mse_two_layer end to end: oracles agree, inputs are reference-correct, reference full marks,
stub zero, each buggy submission loses exactly the parts it breaks (labelled with the right
code), and correct submissions written differently keep full marks."""
import numpy as np
import pytest

from autograder import cases, project
from tests.helpers import ROOT, codes_of, lost_parts, mutate, part_of, reference_source

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


REF = reference_source(A)


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
                  "linear_backward.db": "not_reduced"}, id="slides_transposes"),
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


SHRUNK = [  # (edit, part, the smallest shape that still shows the mistake)
    pytest.param(("return (Y_hat - Y) / Y.shape[0]", "return (Y_hat - Y)"), "output_grad",
                 {"N": 2, "K": 1}, id="scaled_by_N_needs_two_rows"),
    pytest.param(("db = dZ.sum(axis=0)", "db = dZ"), "linear_backward.db",
                 {"N": 1, "H": 1, "K": 1}, id="not_reduced_shows_everywhere"),
    pytest.param(("dW = dZ.T @ A_prev", "dW = A_prev.T @ dZ"), "linear_backward.dW",
                 None, id="transposed_needs_a_non_square_dW"),
]


@pytest.mark.parametrize("edit, part, smallest", SHRUNK)
@pytest.mark.parametrize("mode", ["grade", "check"])
def test_feedback_names_the_smallest_failing_shape(grade_source, edit, part, smallest, mode):
    report = grade_source(A, mutate(REF, *edit), mode=mode)
    result = part_of(report, part)
    shape = result.smallest_failing.split(" (")[0]
    dims = {k: int(v) for k, v in (item.split("=") for item in shape.split(", "))}
    if smallest is None:  # dW is (K, H): a transpose only shows when H != K, so N=1 and {H, K} = {1, 2}
        assert dims["N"] == 1 and sorted((dims["H"], dims["K"])) == [1, 2], result.smallest_failing
    else:
        assert dims == smallest, result.smallest_failing
    assert f"{part.split('.')[0]}[{shape.replace(' ', '')}," in result.smallest_failing


NP_MEAN = {  # the usual MSE and its gradient: 2/K times this assignment's, so right at K = 2
    "mse_loss": ("return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)", "return float(np.mean((Y_hat - Y) ** 2))"),
    "output_grad": ("return (Y_hat - Y) / Y.shape[0]", "return 2 * (Y_hat - Y) / Y.size"),
}


@pytest.mark.parametrize("mode", ["grade", "check"])
def test_np_mean_for_the_mse_is_named_and_earns_nothing(grade_source, mode):
    """No random case is drawn at K = 2, where np.mean's answer is right; before, the hidden
    seed gave its gradient 3 of output_grad's 9 cases (and backward's through it)."""
    for part, edit in NP_MEAN.items():
        report = grade_source(A, mutate(REF, *edit), mode=mode)
        broken = {part} | (BACKWARD if part == "output_grad" else set())
        assert lost_parts(report) == broken
        for result in report.parts:
            if result.name in broken:
                assert result.score == 0 and codes_of(report, result.name)[0] == "mean_over_entries", result


@pytest.mark.parametrize("mode, seed", [("grade", None), ("grade", 7), ("check", None)])
def test_no_random_case_of_the_loss_path_is_drawn_at_two_outputs(mode, seed):
    from autograder.grade import Grader

    grader = Grader(A, mode=mode, seed=seed, shared=mode == "grade")
    for key, parts in cases.groups(grader.spec).items():
        if key in ("mse_loss", "output_grad", "backward"):
            random = grader.cases(key)[:parts[0].cases.random]
            assert random and all(case.dims["K"] != 2 for case in random), key


@pytest.mark.parametrize("mode", ["grade", "check"])
def test_dividing_by_n_twice_is_not_taken_for_np_mean(grade_source, mode):
    """At K = 2N np.mean's factor 2/K is 1/N: the model steps aside for scaled_by_N there."""
    report = grade_source(A, mutate(REF, "return (Y_hat - Y) / Y.shape[0]", "return (Y_hat - Y) / Y.shape[0] ** 2"),
                          mode=mode)
    for part in ["output_grad", *BACKWARD]:
        assert "mean_over_entries" not in codes_of(report, part), (part, codes_of(report, part))
    assert codes_of(report, "output_grad")[0] == "scaled_by_N"


def test_selftest_reports_a_random_case_on_which_a_modelled_mistake_is_right():
    from dataclasses import replace

    from autograder.grade import Grader

    grader = Grader(A, mode="check")
    assert grader.untelling() == []
    always_right = {"scaled_const": lambda inputs, expected: {"loss": expected["loss"]}}
    grader = Grader(A, mode="check")
    grader.spec = replace(grader.spec, parts=[replace(p, variants=always_right) if p.name == "mse_loss" else p
                                              for p in grader.spec.parts])
    found = grader.untelling()
    assert len(found) == grader.spec.part("mse_loss").cases.random
    assert all(case_id.startswith("mse_loss[") and case_id.endswith("case=%d]" % i) for i, case_id in enumerate(found))
