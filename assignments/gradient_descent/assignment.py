"""Gradient descent with a fixed step on quadratics, and plain GD for logistic regression.

numpy only at module level: this file is also loaded inside the sandboxed worker. matplotlib is
imported inside :func:`seed_paths_figure`, which only ever runs in the grader.

Callables cannot cross into the worker, so cases carry plain arrays (``A``, ``b``, ``x0``...)
and :func:`quadratic_objective` / :func:`logistic_gradient` build ``f``, ``grad`` and
``grad_fn`` from them (``Function.prepare``), once in the worker for the student and once in
the grader for the reference and the torch oracle.
"""
import io

import math

import numpy as np

from autograder.spec import SCALAR, Assignment, Cases, Function, Out, Part, Probes, Returns, Tol

TOL = 1e-8               #: the stopping tolerance every case passes (the API default)
MAX_ITERS = 10_000       #: the API default; no correct run here gets anywhere near it
VALUES = Tol()  #: the tolerance policy (autograder/spec.py, Tol), for every array output and max_stable_lr
# A scalar can cancel to near 0 (1/2 x'Ax against b'x; a bias whose gradient sums to ~0):
# SCALAR scales its error by max(|expected|, 1) instead.
#: The slides' example f(x1, x2) = x1^2 + x1 x2 + 4 x2^2 = 1/2 x'Ax with A = [[2, 1], [1, 8]].
SLIDES_A = np.array([[2.0, 1.0], [1.0, 8.0]])
SLIDES_X0 = np.array([3.0, 3.0])
#: Runs whose stopping quantity comes within this relative distance of tol are redrawn, so the
#: reference and torch.autograd (which round differently) stop at the same iteration.
MARGIN = 1e-3


# ------------------------------------------------------------------ the objective, as callables

def quadratic_objective(A, b):
    """(f, grad) of f(x) = 1/2 x'Ax - b'x: grad f(x) = 1/2 (A + A') x - b.

    ``f`` returns a Python float; once an iterate is huge it is inf or nan, without a numpy
    warning. A and b ride along as ``f.A`` and ``f.b`` so the torch oracle can rebuild f in
    torch and differentiate it with autograd instead of trusting ``grad``.
    """
    S = 0.5 * (A + A.T)

    def f(x):
        with np.errstate(over="ignore", invalid="ignore"):
            return float(0.5 * x @ (A @ x) - b @ x)

    def grad(x):
        with np.errstate(over="ignore", invalid="ignore"):
            return S @ x - b

    f.A, f.b = A, b
    return f, grad


def prepare_descent(inputs):
    f, grad = quadratic_objective(inputs["A"], inputs["b"])
    return {"f": f, "grad": grad, "x0": inputs["x0"], "lr": inputs["lr"],
            "tol": inputs["tol"], "max_iters": inputs["max_iters"]}


def logistic_gradient(X, y, w, b):
    """The grader's grad_fn: (dL/dw, dL/db) of the mean binary cross-entropy of sigma(X w + b)."""
    z = X @ w + b
    dz = (np.exp(-np.logaddexp(0.0, -z)) - y) / X.shape[0]  # (sigma(z) - y) / N, overflow-free
    return X.T @ dz, float(np.sum(dz))


def prepare_fit(inputs):
    return {**inputs, "grad_fn": logistic_gradient}


# ------------------------------------------------------------------ a model of the loop (numpy)

def descend(f, grad, x0, lr, tol, max_iters, *, ignore=(), signed=False, ascent=False, extra_steps=0):
    """The loop of the assignment, with switches that model known mistakes.

    Returns (history, why, margins): why is "grad", "delta_f", "nonfinite" or "max_iters";
    margins lists |log(value / tol)| for every stopping quantity compared with tol.
    ``ignore`` drops criteria by name, ``signed`` tests f(x) - f(x_new) < tol (no abs),
    ``ascent`` steps uphill, ``extra_steps`` raises the iteration cap.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # an uphill run overflows on purpose
        return _descend(f, grad, x0, lr, tol, max_iters, ignore, signed, ascent, extra_steps)


def _descend(f, grad, x0, lr, tol, max_iters, ignore, signed, ascent, extra_steps):
    x = np.array(x0, dtype=np.float64)
    fx = f(x)
    history, margins = [x], []
    for _ in range(max_iters + extra_steps):
        g = grad(x)
        gnorm = math.hypot(*g)
        if gnorm > 0:
            margins.append(abs(np.log(gnorm / tol)))
        if "grad" not in ignore and gnorm < tol:
            return np.array(history), "grad", margins
        x_new = x + lr * g if ascent else x - lr * g
        history.append(x_new)
        f_new = f(x_new)
        if not np.isfinite(f_new):
            if "nonfinite" not in ignore:
                return np.array(history), "nonfinite", margins
        else:
            change = fx - f_new if signed else abs(f_new - fx)
            if change > 0:
                margins.append(abs(np.log(change / tol)))
            if "delta_f" not in ignore and change < tol:
                return np.array(history), "delta_f", margins
        x, fx = x_new, f_new
    return np.array(history), "max_iters", margins


def _run(inputs, **mistake):
    A, b = inputs["A"], inputs["b"]
    S = 0.5 * (A + A.T)
    # f and grad without the errstate of quadratic_objective's: descend holds one for the run
    return descend(lambda x: float(0.5 * x @ (A @ x) - b @ x), lambda x: S @ x - b, inputs["x0"], inputs["lr"], inputs["tol"], inputs["max_iters"], **mistake)


def _wrong_rule(inputs, expected):
    """The loop with the wrong rule most likely to change where *this* run stops: drop the
    criterion that stopped it (gradient-only or recap-style |delta f|-only students), test a
    signed decrease where f blew up (no abs), or run one step past max_iters (<= vs <)."""
    _, why, _ = _run(inputs)
    mistake = {"grad": {"ignore": ("grad",)}, "delta_f": {"ignore": ("delta_f",)},
               "nonfinite": {"signed": True}, "max_iters": {"extra_steps": 1}}[why]
    return {"history": _run(inputs, **mistake)[0]}


def _without_x0(inputs, expected):
    return {"history": expected["history"][1:]}


def _uphill(inputs, expected):
    return {"history": _run(inputs, ascent=True)[0]}


DESCENT_VARIANTS = {"stopping_rule": _wrong_rule, "history_off_by_one": _without_x0, "sign_flipped": _uphill}

# Trivial answers only this assignment knows (the engine adds zeros, ones, a constant and an
# input echoed): a descent that returns x0 alone, or x0 as often as the run has rows (it never
# moves), and a fit that never trains (w = 0, b = 0, the loss of predicting 1/2 every epoch).
DESCENT_TRIVIAL = {
    "x0_only": lambda inputs, expected: {"history": inputs["x0"][None, :]},
    "never_moves": lambda inputs, expected: {"history": np.repeat(inputs["x0"][None, :], len(expected["history"]), axis=0)},
}
FIT_TRIVIAL = {"never_trains": lambda inputs, expected: {
    "w": np.zeros(inputs["X"].shape[1]), "b": 0.0, "losses": np.full(inputs["epochs"], np.log(2.0))}}


# ------------------------------------------------------------------ case makers

def spd_sym_part(rng, D, low=1.0, high=10.0, skew=1.0):
    """A (D, D) non-symmetric matrix whose symmetric part 1/2 (A + A') is S = Q diag(lam) Q'
    with eigenvalues in [low, high]: A = S + K, K skew (exactly antisymmetric), entries ~ skew."""
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    lam = rng.uniform(low, high, size=D)
    S = (Q * lam) @ Q.T
    S = 0.5 * (S + S.T)
    M = skew * rng.normal(size=(D, D))
    return S + (M - M.T), lam


def point(rng, D):
    """x, A and b for f(x) = 1/2 x'Ax - b'x, A's symmetric part positive definite."""
    A, _ = spd_sym_part(rng, D)
    return {"x": rng.normal(scale=2.0, size=D), "A": A, "b": rng.normal(size=D)}


def descent_inputs(A, b, x0, lr, tol=TOL, max_iters=MAX_ITERS):
    return {"A": A, "b": b, "x0": x0, "lr": float(lr), "tol": float(tol), "max_iters": int(max_iters)}


def clear_of_thresholds(inputs):
    """True when no stopping quantity of the run lies within MARGIN of tol."""
    _, _, margins = _run(inputs)
    return min(margins, default=1.0) > MARGIN


def random_quadratic(rng, D):
    """A random quadratic (SPD symmetric part, non-symmetric A) and a step 0.2..0.95 x 2/lam_max."""
    while True:
        A, lam = spd_sym_part(rng, D)
        inputs = descent_inputs(A, rng.normal(size=D), rng.normal(scale=3.0, size=D),
                                rng.uniform(0.2, 0.95) * 2.0 / lam.max())
        if clear_of_thresholds(inputs):
            return inputs


def _near_slides_x0(rng):
    """A start near the slides' x0 = (3, 3): each coordinate 2.5 to 3.5 in size, either sign."""
    return rng.choice([-1.0, 1.0], size=2) * rng.uniform(2.5, 3.5, size=2)


def _clear(make):
    """``make(rng)`` drawn again until no stopping quantity of its run lies within MARGIN of
    tol, so the reference and torch.autograd stop at the same iteration."""
    def drawn(rng):
        while True:
            inputs = make(rng)
            if clear_of_thresholds(inputs):
                return inputs
    drawn.__doc__ = make.__doc__
    return drawn


def slides(lr):
    """The slides' f at step ``lr`` from a start near their x0 (varies with the seed)."""
    return _clear(lambda rng: descent_inputs(SLIDES_A.copy(), np.zeros(2), _near_slides_x0(rng), lr))


@_clear
def diverging_slides(rng):
    """The slides' f / 20 at lr = 6: the very iterates of the slides' f at lr = 0.3 (lr A is the
    same), |1 - lr lam_max| = 1.45, so f overflows after ~950 steps. The scale keeps lam_max < 1/2,
    so ||grad f||^2 stays finite while f does: a student's norm does not overflow first. The
    start is near the slides' x0."""
    return descent_inputs(SLIDES_A / 20.0, np.zeros(2), _near_slides_x0(rng), 6.0)


@_clear
def diverging_random(rng):
    """D = 8, eigenvalues of the symmetric part in [0.05, 0.4], lr = 1.1 x 2/lam_max:
    |1 - lr lam_max| = 1.2, so f overflows after ~2000 steps. The skew part is small: big
    cancelling terms in x'Ax would overflow first, at a step that depends on summation order
    (numpy and torch would then disagree on the row count)."""
    A, lam = spd_sym_part(rng, 8, low=0.05, high=0.4, skew=0.01)
    return descent_inputs(A, rng.normal(size=8), rng.normal(scale=3.0, size=8), 1.1 * 2.0 / lam.max())


@_clear
def one_exact_step(rng):
    """Symmetric part 2 I (d from 2 to 5) and lr = 1/2: one step lands on the minimum b/2, whose
    gradient is rounding noise (~1e-16), so the run stops by the gradient norm with two rows."""
    D = int(rng.integers(2, 6))
    M = rng.normal(size=(D, D))
    return descent_inputs(2.0 * np.eye(D) + (M - M.T), rng.normal(size=D), rng.normal(scale=3.0, size=D), 0.5)


@_clear
def starts_at_minimum(rng):
    """x0 is the minimum (d from 2 to 5): the gradient is rounding noise (~1e-15) before the
    first step, so history is (1, d), x0 alone. The minimum lies on a grid of 1/8 (b is made
    from it), so x0 is the same number in float32: a student computing in float32 starts at
    the very minimum too."""
    D = int(rng.integers(2, 6))
    A, _ = spd_sym_part(rng, D)
    x_min = np.zeros(D)
    while not x_min.any():
        x_min = rng.integers(-24, 25, size=D) / 8.0
    return descent_inputs(A, 0.5 * (A + A.T) @ x_min, x_min, 0.05)


@_clear
def capped(rng):
    """The slides' f at a small step lr = 0.01 with max_iters = 25, from a start near their x0:
    25 steps, 26 rows."""
    return descent_inputs(SLIDES_A.copy(), np.zeros(2), _near_slides_x0(rng), 0.01, max_iters=25)


def stable_lr_matrix(rng, D):
    A, _ = spd_sym_part(rng, D, low=0.1, high=10.0)
    return {"A": A}


def logistic_data(rng, N, D, E):
    """X (N, D), labels y, a step lr in [0.05, 1] and E epochs."""
    return {"X": rng.normal(size=(N, D)), "y": (rng.random(N) < 0.5).astype(np.float64),
            "lr": float(rng.uniform(0.05, 1.0)), "epochs": int(E)}


# ------------------------------------------------------------------ model mistakes (grader side)

def _quadratic_without_half(inputs, expected):
    x, A, b = inputs["x"], inputs["A"], inputs["b"]
    return {"f": float(x @ A @ x - b @ x)}


def _inverse_lam_max(inputs, expected):
    return {"lr": 0.5 * float(expected["lr"])}


def _grad_with_A(inputs, expected):
    """A x - b: the gradient of 1/2 x'Ax - b'x only when A is symmetric."""
    return {"grad": inputs["A"] @ inputs["x"] - inputs["b"]}


def _eigvalsh_of_A(inputs, expected):
    """np.linalg.eigvalsh(A) on a non-symmetric A silently reads only its lower triangle."""
    return {"lr": 2.0 / float(np.linalg.eigvalsh(inputs["A"]).max())}


def _losses_after_step(inputs, expected):
    X, y, lr = inputs["X"], inputs["y"], inputs["lr"]
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(inputs["epochs"]):
        dw, db = logistic_gradient(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
        z = X @ w + b
        losses.append(float(np.mean(np.logaddexp(0.0, z) - y * z)))
    return {"losses": np.array(losses)}


# ------------------------------------------------------------------ feedback figure

def seed_paths_figure(items):
    """Your path and the reference path over the contours of the slides' f, one panel per step
    size (the probes lr = 0.1 and 0.2). Returns PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    items = sorted(items, key=lambda item: item[0].inputs["lr"])
    fig = Figure(figsize=(5.2 * len(items), 4.8), dpi=100)
    FigureCanvasAgg(fig)
    for k, (case, got, expected) in enumerate(items, start=1):
        ax = fig.add_subplot(1, len(items), k)
        A, b, lr = case.inputs["A"], case.inputs["b"], case.inputs["lr"]
        ref = expected["history"]
        g1, g2 = np.meshgrid(np.linspace(-4, 4, 241), np.linspace(-4, 4, 241))
        pts = np.stack([g1.ravel(), g2.ravel()], axis=1)
        fvals = (0.5 * np.einsum("pi,ij,pj->p", pts, A, pts) - pts @ b).reshape(g1.shape)
        ax.contour(g1, g2, fvals, levels=np.geomspace(0.05, 120, 14), colors="0.75", linewidths=0.8)
        ax.plot(ref[:, 0], ref[:, 1], "-o", color="tab:blue", ms=7, lw=3, alpha=0.45, label=f"reference ({len(ref) - 1} steps)")
        mine = got.get("history")
        if mine is not None and mine.ndim == 2 and mine.shape[1] == 2 and len(mine):
            shown = np.where(np.isfinite(mine), np.clip(mine, -1e3, 1e3), np.nan)
            ax.plot(shown[:, 0], shown[:, 1], "--x", color="tab:orange", ms=6, lw=1.2,
                    label=f"yours ({len(mine) - 1} steps)")
        else:
            ax.text(0.02, 0.02, "your history is not a (k+1, 2) array", transform=ax.transAxes, color="tab:red")
        ax.plot([0], [0], "k*", ms=10)
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
               title=f"$\\eta$ = {lr:g} from $x^0$ = ({case.inputs['x0'][0]:.3g}, {case.inputs['x0'][1]:.3g})")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("$f(x_1, x_2) = x_1^2 + x_1 x_2 + 4 x_2^2$: gradient descent paths", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ------------------------------------------------------------------ the assignment

FIT_CASES = Cases(logistic_data, dims={"N": (1, 30), "D": (1, 6), "E": (1, 40)}, random=6,
                  edges=({"N": 1}, {"D": 1}, {"E": 1}))

ASSIGNMENT = Assignment(
    id="gradient_descent",
    title="Gradient descent: fixed step, stopping rules, the largest stable step",
    summary="quadratic, quadratic_grad, gradient_descent, max_stable_lr and fit_logistic_regression",
    functions=[
        Function("quadratic", args=("x", "A", "b"), returns=Returns.scalar("f")),
        Function("quadratic_grad", args=("x", "A", "b"), returns=Returns.array("grad")),
        Function("gradient_descent", args=("f", "grad", "x0", "lr", "tol", "max_iters"),
                 returns=Returns.array("history"), prepare=prepare_descent, trivial=DESCENT_TRIVIAL),
        Function("max_stable_lr", args=("A",), returns=Returns.scalar("lr")),
        Function("fit_logistic_regression", args=("X", "y", "lr", "epochs", "grad_fn"),
                 returns=Returns.tuple(Out("w"), Out("b", scalar=True), Out("losses")), prepare=prepare_fit,
                 trivial=FIT_TRIVIAL),
    ],
    parts=[
        Part("quadratic", points=2, function="quadratic", tol=SCALAR,
             variants={"scaled_const": _quadratic_without_half},
             hints={"scaled_const": "f(x) = 1/2 x^T A x - b^T x: keep the 1/2 in front of the quadratic term."},
             cases=Cases(point, dims={"D": (1, 20)}, random=6, edges=({"D": 1}, {"D": 2}))),
        # no CPU budget here: finite differences of a vectorised f cost D^3 flops, the formula
        # written as Python double loops D^2 interpreted steps; at any D a grader can send (A is
        # D x D) the two overlap (D = 2000: loops 2.2 s, finite differences 4.4 s), so a budget
        # would fail correct loops
        Part("quadratic_grad", points=3, function="quadratic_grad", tol=VALUES,
             variants={"not_symmetrized": _grad_with_A},
             cases=Cases(point, dims={"D": (1, 20)}, random=7, edges=({"D": 1}, {"D": 2}))),
        Part("gradient_descent.slides", points=2, function="gradient_descent", tol=VALUES,
             variants=DESCENT_VARIANTS, figure=seed_paths_figure,
             cases=Probes({"lr_0.1": slides(0.1), "lr_0.2": slides(0.2)})),
        Part("gradient_descent.random", points=4, function="gradient_descent", tol=VALUES,
             variants=DESCENT_VARIANTS,
             cases=Cases(random_quadratic, dims={"D": (2, 20)}, random=7, edges=({"D": 2},))),
        Part("gradient_descent.stopping", points=3, function="gradient_descent", tol=VALUES,
             variants=DESCENT_VARIANTS,
             cases=Probes({  # the diverging runs last: once a call times out, the rest are not run
                 "one_exact_step": one_exact_step,
                 "starts_at_minimum": starts_at_minimum,
                 "max_iters_25": capped,
                 "diverges_slides_x20": diverging_slides,
                 "diverges_D8": diverging_random,
             })),
        Part("max_stable_lr", points=2, function="max_stable_lr", tol=VALUES,
             variants={"scaled_const": _inverse_lam_max, "not_symmetrized": _eigvalsh_of_A},
             hints={"scaled_const": "A fixed step converges while |1 - lr lam| < 1 for every eigenvalue lam of "
                                    "(A + A^T)/2: lr < 2/lam_max, not 1/lam_max."},
             cases=Cases(stable_lr_matrix, dims={"D": (1, 20)}, random=6, edges=({"D": 1}, {"D": 2}))),
        Part("fit_logistic_regression.losses", points=2, function="fit_logistic_regression",
             group="fit_logistic_regression", outputs=("losses",), tol=VALUES,
             variants={"loss_after_step": _losses_after_step}, cases=FIT_CASES),
        Part("fit_logistic_regression.params", points=2, function="fit_logistic_regression",
             group="fit_logistic_regression", outputs=("w", "b"), tol=VALUES,
             tols={"b": SCALAR}, cases=FIT_CASES),
    ],
)
