"""The catalogue of diagnosis codes: each stable code with its kind, one sentence and a fix hint.

Import-free (plain data and ``str.format``), so :meth:`autograder.spec.Assignment.validate` can
check the codes an assignment declares, on either side of the sandbox. Every part of the engine
that needs a category of codes asks :func:`codes` for a kind instead of keeping its own list.

The kinds, by what a code says about the submission:

- ``MISTAKE``: the call returned, or raised, and the answer is wrong: a known backprop mistake,
  a wrong shape, type or value, a forbidden warning, a modified input, a broken property. Only
  these are shrunk to a smallest failing case (they are a property of the inputs).
- ``UNFINISHED``: nothing to grade yet: the function is missing or raises NotImplementedError.
- ``NOT_RUN``: the code did not run to an answer: it would not load, imported an autograd
  library, hung, crashed or ran out of memory, or the grader itself failed. A batch counts
  these as failures of the submission, not as wrong answers.
- ``RULE``: a grading rule over the part's cases withholds points, whatever one case's values:
  a time budget judged on the widest case, edge cases or probes that count only beside a
  random case passing.
"""
from __future__ import annotations

from dataclasses import dataclass

MISTAKE = "mistake"
UNFINISHED = "unfinished"
NOT_RUN = "not_run"
RULE = "rule"
KINDS = (MISTAKE, UNFINISHED, NOT_RUN, RULE)


@dataclass(frozen=True)
class Mistake:
    code: str
    kind: str  #: one of KINDS
    sentence: str  #: "{out}" is replaced by the output's name
    hint: str
    #: how a summary of the whole submission (Gradescope's top output) opens its list of the
    #: parts with this code, for a failure a student must see before any part's feedback
    headline: str = ""


CATALOGUE: dict[str, Mistake] = {m.code: m for m in [
    Mistake("transposed", MISTAKE, "{out} is the transpose of the expected result.",
            "Compare the shapes of the factors of each matrix product with the documented shapes: a "
            "product in the wrong order, or a .T in the wrong place, gives the transpose."),
    Mistake("scaled_by_N", MISTAKE, "{out} is off by a factor involving the batch size N{factor}.",
            "The loss averages over the N samples: divide by N exactly once on the way to this result."),
    Mistake("scaled_const", MISTAKE, "{out} has a missing or extra constant factor{factor}.",
            "Compare your formula with the documented one term by term: a constant factor is missing or added."),
    Mistake("sign_flipped", MISTAKE, "{out} has the opposite sign of the expected result{factor}.",
            "Compare each sign in your formula with the documented one (e.g. prediction - target, not target - prediction)."),
    Mistake("not_reduced", MISTAKE, "{out} has one value per sample: it is not summed (or averaged) over the batch.",
            "Reduce over the batch axis 0: a loss averages its N per-sample terms, and a parameter "
            "shared by all N rows (a bias, a weight) gets the sum of their gradients, e.g. db = dZ.sum(axis=0)."),
    Mistake("reduced_wrong_axis", MISTAKE, "{out} is reduced (summed or normalised) over the wrong axis.",
            "Check the axis of each sum, mean, max or normalisation: rows are samples (axis 0 runs over "
            "the batch), columns are units or classes (axis 1)."),
    Mistake("sigmoid_prime_on_activation", MISTAKE, "{out} uses sigma'(A) = sigma(sigma(z))(1 - sigma(sigma(z))) instead of sigma'(Z).",
            "sigma'(z) = sigma(z)(1 - sigma(z)) = A(1 - A): evaluate it on Z, or use A directly, never sigma'(A)."),
    Mistake("sigmoid_prime_slip", MISTAKE, "{out} uses sigma(z)(1 - sigma'(z)) instead of sigma'(z) = sigma(z)(1 - sigma(z)).",
            "The derivative of the sigmoid is sigma(z)(1 - sigma(z)); there is no sigma' inside it."),
    Mistake("extra_sigmoid_prime", MISTAKE, "{out} multiplies by sigma' at a layer that has no sigmoid.",
            "No sigma' at a layer without a sigmoid: a linear output (MSE) or softmax + cross-entropy "
            "gives dZ2 = (prediction - Y)/N."),
    Mistake("mean_over_entries", MISTAKE, "{out} divides by all N*K entries (as np.mean does), where this loss divides by the N samples only.",
            "The loss averages its per-sample terms over the N samples: sum each sample's K terms, then divide "
            "by N. np.mean over an (N, K) array divides by N*K instead, and every gradient through the loss "
            "carries the same factor."),
    Mistake("missing_activation_grad", MISTAKE, "{out} is missing the activation's derivative.",
            "Back through A = sigma(Z): dZ = dA * sigma'(Z), elementwise."),
    Mistake("loss_after_step", MISTAKE, "{out} holds the loss after each step; losses[epoch] is the loss before it.",
            "Record L(w, b) before updating w and b: losses[0] is the loss at the starting point."),
    Mistake("not_symmetrized", MISTAKE, "{out} uses A where the symmetric part (A + A^T)/2 belongs.",
            "For f(x) = x^T A x / 2 - b^T x, grad f = (A + A^T) x / 2 - b, and the curvature is that of (A + A^T)/2."),
    Mistake("stopping_rule", MISTAKE, "{out} stops at a different iteration than the stopping rule says.",
            "Test ||grad f(x)|| < tol before each step, and |f(x_new) - f(x)| < tol or a non-finite f(x_new) after it."),
    Mistake("history_off_by_one", MISTAKE, "{out} has one entry too many or too few.",
            "history[0] is x0 and every step appends exactly one iterate: k steps give k + 1 rows."),
    Mistake("overflow", MISTAKE, "{out}: exp overflowed on large inputs.",
            "Use a stable form: for sigmoid, branch on the sign of z so exp only sees non-positive arguments "
            "(np.where evaluates both branches: use a boolean mask, or np.exp(-np.logaddexp(0, -z))); "
            "for softmax, subtract the row max first."),
    Mistake("log_of_zero", MISTAKE, "{out}: log(0) on saturated inputs.",
            "Compute the loss from the logits, never as the log of a probability that can round to 0: "
            "log-sum-exp (np.logaddexp, or subtract the row max before exp) keeps it finite."),
    Mistake("input_mutated", MISTAKE, "the function modified its input array(s) {names} in place.",
            "Work on copies (e.g. Z = Z - Z.max(...), not Z -= ...); the caller still needs its arrays."),
    Mistake("shape_mismatch", MISTAKE, "{out} has the wrong shape or structure.",
            "Compare your result's .shape with the documented one; keep length-1 axes (no squeeze)."),
    Mistake("wrong_type", MISTAKE, "{out} is not a number or an array of numbers.",
            "Return real numbers: a numpy array (a list also does) or a float; not None, a string or another object."),
    Mistake("wrong_dtype", MISTAKE, "{out} does not hold real numbers.",
            "Return real numbers (floats or ints): not booleans, complex numbers, strings or objects."),
    Mistake("nonfinite", MISTAKE, "{out} contains NaN or inf where the expected result is finite.",
            "Look for overflow in exp, log of 0, or 0/0."),
    Mistake("timeout", NOT_RUN, "the call did not finish within the time limit.",
            "Look for an infinite loop or a stopping rule that never triggers.",
            headline="timed out (the call hung and was stopped)"),
    Mistake("too_slow", RULE, "the call took {seconds}, over {budget} times the reference on the same case.",
            "Compute the gradient analytically (backprop), not by finite differences or one forward pass per parameter."),
    Mistake("memory_limit", NOT_RUN, "the call ran out of memory.",
            "Avoid building N x N (or larger) intermediate arrays."),
    Mistake("crashed", NOT_RUN, "the call crashed the worker process.",
            "Avoid os._exit, sys.exit and native crashes; raise exceptions instead.",
            headline="the process running your code died in"),
    Mistake("error", MISTAKE, "the call raised an exception.", "Read the traceback below."),
    Mistake("not_implemented", UNFINISHED, "{out} is not implemented yet (NotImplementedError).",
            "Replace the `raise NotImplementedError` with your code."),
    Mistake("missing_function", UNFINISHED, "the function is not defined in the submission.",
            "Keep the exact function name and signature from the handout."),
    Mistake("load_error", NOT_RUN, "the file could not be run.", "Fix the error shown; it stops every part."),
    Mistake("forbidden_import", NOT_RUN, "the submission imports an autograd library.",
            "Compute the gradients with numpy only; torch/jax/tensorflow/autograd are refused."),
    Mistake("grader_error", NOT_RUN, "the grader itself failed on this submission.",
            "This is not a mistake of yours: tell the course staff, who can grade it again."),
    Mistake("forbidden_warning", MISTAKE, "{out} raised a floating-point warning this part forbids.",
            "Make the computation numerically stable for large inputs."),
    Mistake("edge_only", RULE, "{out} is right only on edge shapes, where common mistakes are right too.",
            "Edge cases (N = 1, one unit, one class) count once a random-shape case passes: fix those first."),
    Mistake("near_miss", MISTAKE, "{out} is close, but outside the tolerance: relative error {error}, threshold {threshold}.",
            "The formula is probably right: the difference is more than float32 rounding but far less than a "
            "mistake. Look for an epsilon or a clip inside a log, a float16 step, or an approximation "
            "(a finite difference, a truncated series)."),
    Mistake("property", MISTAKE, "{out} violates a required property.", ""),
    Mistake("wrong_values", MISTAKE, "{out} has wrong values.", ""),
    Mistake("no_values_pass", RULE, "{out} passes this case, but no random case of this function has the right values: "
            "probe and property cases count only beside one, since a trivial answer (zeros, a constant, "
            "an input returned unchanged) can pass them too.",
            "Make the function right on the random cases first; its probes and properties then count."),
]}


def codes(*kinds: str) -> frozenset[str]:
    """The codes of the given kinds."""
    return frozenset(m.code for m in CATALOGUE.values() if m.kind in kinds)


class _Fields(dict):
    def __missing__(self, key: str) -> str:  # a field the caller did not measure reads as nothing
        return ""


def sentence(code: str, out: str = "the result", **fmt) -> str:
    mistake = CATALOGUE.get(code)
    if mistake is None:
        return code
    if fmt.get("factor"):  # a factor, when one was measured, follows in parentheses
        fmt["factor"] = f" ({fmt['factor']})"
    text = mistake.sentence.format_map(_Fields(fmt, out=f"`{out}`"))
    return text[0].upper() + text[1:]


def hint(code: str) -> str:
    mistake = CATALOGUE.get(code)
    return mistake.hint if mistake else ""
