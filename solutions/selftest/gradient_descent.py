"""Mutation suite for gradient_descent: the reference with one mistake each, and correct variants.

Run with `bpgrade selftest gradient_descent`; tests/test_gradient_descent.py runs the same list.
"""
from autograder.selftest import Correct, Mutant

MUTANTS = [
    Mutant(
        'quadratic_missing_half',
        edits=[('return float(0.5 * x @ (A @ x) - b @ x)',
                'return float(x @ (A @ x) - b @ x)')],
        loses=['quadratic'],
        labels={'quadratic': 'scaled_const'},
    ),
    Mutant(
        'grad_uses_A_not_its_symmetric_part',
        edits=[('return 0.5 * (A + A.T) @ x - b',
                'return A @ x - b')],
        loses=['quadratic_grad'],
        labels={'quadratic_grad': 'not_symmetrized'},
    ),
    Mutant(
        'stops_only_on_gradient_norm',
        edits=[('''            if not np.isfinite(f_new) or abs(f_new - fx) < tol:
''',
                '''            if not np.isfinite(f_new):
''')],
        # wrong on every random run: its right stopping probes count only beside a right random run
        loses=['gradient_descent.random', 'gradient_descent.slides', 'gradient_descent.stopping'],
        labels={'gradient_descent.random': 'stopping_rule', 'gradient_descent.stopping': 'no_values_pass'},
    ),
    Mutant(
        'recap_loop_only_delta_f',
        edits=[('''            if np.linalg.norm(g) < tol:
                break
''',
                '')],
        loses=['gradient_descent.stopping'],
        labels={'gradient_descent.stopping': 'stopping_rule'},
    ),
    Mutant(
        'decrease_without_abs',
        edits=[('abs(f_new - fx) < tol',
                'fx - f_new < tol')],
        loses=['gradient_descent.stopping'],
        labels={'gradient_descent.stopping': 'stopping_rule'},
    ),
    Mutant(
        'one_step_past_max_iters',
        edits=[('''    for _ in range(max_iters):
''',
                '''    for _ in range(max_iters + 1):
''')],
        loses=['gradient_descent.stopping'],
        labels={'gradient_descent.stopping': 'stopping_rule'},
    ),
    Mutant(
        'history_without_x0',
        edits=[('''    history = [x]
''',
                '''    history = []
''')],
        loses=['gradient_descent.random', 'gradient_descent.slides', 'gradient_descent.stopping'],
        labels={'gradient_descent.random': 'history_off_by_one'},
    ),
    Mutant(
        'last_row_twice',
        edits=[('    return np.array(history)',
                '    return np.array(history + history[-1:])')],
        loses=['gradient_descent.random', 'gradient_descent.slides', 'gradient_descent.stopping'],
        labels={'gradient_descent.random': 'shape_mismatch'},
    ),
    Mutant(
        'gradient_ascent',
        edits=[('x_new = x - lr * g',
                'x_new = x + lr * g')],
        loses=['gradient_descent.random', 'gradient_descent.slides', 'gradient_descent.stopping'],
        labels={'gradient_descent.random': 'sign_flipped'},
    ),
    Mutant(
        'one_over_lambda_max',
        edits=[('return 2.0 / float(',
                'return 1.0 / float(')],
        loses=['max_stable_lr'],
        labels={'max_stable_lr': 'scaled_const'},
    ),
    Mutant(
        'eigvalsh_of_nonsymmetric_A',
        edits=[('np.linalg.eigvalsh(0.5 * (A + A.T))',
                'np.linalg.eigvalsh(A)')],
        loses=['max_stable_lr'],
        labels={'max_stable_lr': 'not_symmetrized'},
    ),
    Mutant(
        'loss_recorded_after_the_step',
        edits=[('''        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)
        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
''',
                '''        dw, db = grad_fn(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
        z = X @ w + b
        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)
''')],
        loses=['fit_logistic_regression.losses'],
        labels={'fit_logistic_regression.losses': 'loss_after_step'},
    ),
    Mutant(
        'fit_not_from_zeros',
        edits=[('w, b = np.zeros(X.shape[1]), 0.0',
                'w, b = np.ones(X.shape[1]), 0.0')],
        loses=['fit_logistic_regression.losses', 'fit_logistic_regression.params'],
        labels={'fit_logistic_regression.losses': 'wrong_values'},
    ),
]

CORRECT = [
    Correct("example_while_loop", example="correct_while_loop.py"),
    Correct("vstack_xA_eigvals", edits=[
        ("    return np.array(history)", "    return np.vstack(history)"),
        ("return 0.5 * (A + A.T) @ x - b", "return (A @ x + x @ A) / 2 - b"),
        ("return 2.0 / float(np.linalg.eigvalsh(0.5 * (A + A.T)).max())",
         "return float(2 / np.max(np.linalg.eigvals((A + A.T) / 2).real))"),
    ]),
    # representation is not the lesson: losses as a Python list, history as a list of rows
    Correct("lists_for_losses_and_history", edits=[
        ("    losses = np.empty(epochs)\n", "    losses = []\n"),
        ("        losses[epoch] = np.mean(np.logaddexp(0.0, z) - y * z)\n",
         "        losses.append(float(np.mean(np.logaddexp(0.0, z) - y * z)))\n"),
        ("    return np.array(history)", "    return [list(row) for row in history]"),
    ]),
]
