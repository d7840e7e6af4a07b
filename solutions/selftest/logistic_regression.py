"""Mutation suite for logistic_regression: the reference with one mistake each, and correct variants.

Run with `bpgrade selftest logistic_regression`; tests/test_logistic_regression.py runs the same list.
"""
from autograder.selftest import Correct, Mutant

MUTANTS = [
    Mutant(
        'missing_1_over_N',
        edits=[('return (predict_proba(X, w, b) - y) / X.shape[0]',
                'return predict_proba(X, w, b) - y')],
        loses=['grad_logits', 'gradients.db', 'gradients.dw'],
        labels={'grad_logits': 'scaled_by_N'},
    ),
    Mutant(
        'sign_flip',
        edits=[('return (predict_proba(X, w, b) - y) / X.shape[0]',
                'return (y - predict_proba(X, w, b)) / X.shape[0]')],
        loses=['grad_logits', 'gradients.db', 'gradients.dw'],
        labels={'gradients.dw': 'sign_flipped'},
    ),
    Mutant(
        'per_sample_db',
        edits=[('return X.T @ dz, float(np.sum(dz))',
                'return X.T @ dz, dz')],
        loses=['gradients.db'],
        labels={'gradients.db': 'not_reduced'},
    ),
    Mutant(
        'doubled_dw',
        edits=[('return X.T @ dz, float(np.sum(dz))',
                'return 2 * X.T @ dz, float(np.sum(dz))')],
        loses=['gradients.dw'],
        labels={'gradients.dw': 'scaled_const'},
    ),
    Mutant(
        'unstable_sigmoid',
        edits=[('''    z = np.asarray(z, dtype=np.float64)
''',
                '''    z = np.asarray(z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))
''')],
        loses=['sigmoid_stable'],
        labels={'sigmoid_stable': 'overflow'},
    ),
    Mutant(
        'log_of_sigmoid',
        edits=[('return float(np.mean(np.logaddexp(0.0, z) - y * z))',
                '''p = sigmoid(z)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))''')],
        loses=['bce_loss_stable'],
        labels={'bce_loss_stable': 'log_of_zero'},
    ),
    Mutant(
        'column_vector_proba',
        edits=[('return sigmoid(X @ w + b)',
                'return sigmoid(X @ w + b).reshape(-1, 1)')],
        loses=['grad_logits', 'gradients.db', 'gradients.dw', 'predict_proba'],
        labels={'predict_proba': 'shape_mismatch'},
    ),
    # the usual smoothing of a log passes on ordinary cases (the tolerance policy), but the
    # saturated probes (logits of +-1000) still fail a loss taken as the log of a probability
    Mutant(
        'loss_log_p_plus_eps',
        edits=[('return float(np.mean(np.logaddexp(0.0, z) - y * z))',
                '''p = sigmoid(z)
    return float(-np.mean(y * np.log(p + 1e-8) + (1 - y) * np.log(1 - p + 1e-8)))''')],
        loses=['bce_loss_stable'],
    ),
    Mutant(
        'loss_clipped_p',
        edits=[('return float(np.mean(np.logaddexp(0.0, z) - y * z))',
                '''p = np.clip(sigmoid(z), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))''')],
        loses=['bce_loss_stable'],
    ),
    Mutant(
        'loss_as_text',
        edits=[('return float(np.mean(np.logaddexp(0.0, z) - y * z))',
                'return f"{np.mean(np.logaddexp(0.0, z) - y * z):.17g}"')],
        loses=['bce_loss', 'bce_loss_stable'],
        labels={'bce_loss': 'wrong_type', 'bce_loss_stable': 'wrong_type'},
    ),
]

LOOPS_AND_EINSUM = '''
def gradients(X, y, w, b):
    N, D = X.shape
    dz = [(1.0 / (1.0 + np.exp(-(X[p] @ w + b))) - y[p]) / N for p in range(N)]
    dw = np.zeros(D)
    for p in range(N):
        for j in range(D):
            dw[j] += dz[p] * X[p, j]
    return dw, float(sum(dz))


def grad_logits(X, y, w, b):
    return (predict_proba(X, w, b) - y) / len(y)


def predict_proba(X, w, b):
    return sigmoid(np.einsum("nd,d->n", X, w) + b)
'''

WHERE_SIGMOID = '''
def sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows; both branches are evaluated by np.where
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
'''

CORRECT = [
    # representation is not the lesson: a float32 loss and a list of numbers are converted
    Correct("float32_loss", edits=[("return float(np.mean(np.logaddexp(0.0, z) - y * z))",
                                    "return np.mean(np.logaddexp(0.0, z) - y * z).astype(np.float32)")]),
    Correct("lists_and_numpy_scalars", edits=[("return X.T @ dz, float(np.sum(dz))",
                                               "return list(X.T @ dz), np.sum(dz)"),
                                              ("return sigmoid(X @ w + b)", "return tuple(sigmoid(X @ w + b))")]),
    Correct("tanh_form_and_margin_loss", example="correct_tanh_form.py"),
    Correct("loops_and_einsum", append=LOOPS_AND_EINSUM),
    Correct("sigmoid_via_where_abs", append=WHERE_SIGMOID),
    Correct("loss_via_log1p", edits=[("return float(np.mean(np.logaddexp(0.0, z) - y * z))",
                                      "return float(np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z))")]),
]
