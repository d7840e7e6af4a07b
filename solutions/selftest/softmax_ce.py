"""Mutation suite for softmax_ce: the reference with one mistake each, and correct variants.

Run with `bpgrade selftest softmax_ce`; tests/test_softmax_ce.py runs the same list.
"""
from autograder.selftest import Correct, Mutant

MUTANTS = [
    # clipping before the log passes on ordinary cases (the tolerance policy); the probes with
    # logits of 1e4 still fail a cross-entropy taken as the log of a probability
    Mutant(
        'ce_log_of_clipped_p',
        edits=[('return float(-np.sum(Y * _log_softmax(Z)) / N)',
                'return float(-np.sum(Y * np.log(np.clip(softmax(Z), 1e-12, 1.0))) / N)')],
        loses=['cross_entropy_stable'],
    ),
    Mutant(
        'unstable_softmax',
        edits=[('shifted = Z - Z.max(axis=1, keepdims=True)',
                'shifted = Z')],
        loses=['softmax_stable'],
        labels={'softmax_stable': 'overflow'},
    ),
    Mutant(
        'softmax_shifts_by_global_max',
        edits=[('shifted = Z - Z.max(axis=1, keepdims=True)',
                'shifted = Z - Z.max()')],
        loses=['softmax_stable'],
        labels={'softmax_stable': 'nonfinite'},
    ),
    Mutant(
        'softmax_over_wrong_axis',
        edits=[('''    E = np.exp(shifted)
    return E / E.sum(axis=1, keepdims=True)''',
                '''    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)''')],
        loses=['forward.P', 'softmax', 'softmax_ce_grad', 'softmax_rows_sum_to_1', 'softmax_stable'],
        labels={'softmax': 'reduced_wrong_axis'},
    ),
    Mutant(
        'softmax_normalised_by_global_sum',
        edits=[('return E / E.sum(axis=1, keepdims=True)',
                'return E / E.sum()')],
        loses=['forward.P', 'softmax', 'softmax_ce_grad', 'softmax_rows_sum_to_1', 'softmax_stable'],
        labels={'softmax_rows_sum_to_1': 'property'},
    ),
    Mutant(
        'log_of_softmax',
        edits=[('return float(-np.sum(Y * _log_softmax(Z)) / N)',
                'return float(-np.sum(Y * np.log(softmax(Z))) / N)')],
        loses=['cross_entropy_stable'],
        labels={'cross_entropy_stable': 'log_of_zero'},
    ),
    Mutant(
        'ce_summed_not_averaged',
        edits=[('return float(-np.sum(Y * _log_softmax(Z)) / N)',
                'return float(-np.sum(Y * _log_softmax(Z)))')],
        loses=['cross_entropy', 'cross_entropy_soft_labels', 'cross_entropy_stable'],
        labels={'cross_entropy': 'scaled_by_N'},
    ),
    Mutant(
        'ce_mean_over_entries',
        edits=[('return float(-np.sum(Y * _log_softmax(Z)) / N)',
                'return float(-np.mean(Y * _log_softmax(Z)))')],
        loses=['cross_entropy', 'cross_entropy_soft_labels', 'cross_entropy_stable'],
        labels={'cross_entropy': 'mean_over_entries', 'cross_entropy_stable': 'mean_over_entries'},
    ),
    Mutant(
        'ce_assumes_one_hot',
        edits=[('return float(-np.sum(Y * _log_softmax(Z)) / N)',
                'return float(-np.mean(_log_softmax(Z)[np.arange(N), Y.argmax(axis=1)]))')],
        loses=['cross_entropy_soft_labels'],
        labels={},
    ),
    Mutant(
        'grad_missing_1_over_N',
        edits=[('return (softmax(Z) - Y) / Z.shape[0]',
                'return softmax(Z) - Y')],
        loses=['softmax_ce_grad'],
        labels={'softmax_ce_grad': 'scaled_by_N'},
    ),
    Mutant(
        'grad_mean_over_entries',
        edits=[('return (softmax(Z) - Y) / Z.shape[0]',
                'return (softmax(Z) - Y) / Z.size')],
        loses=['softmax_ce_grad'],
        labels={'softmax_ce_grad': 'mean_over_entries'},
    ),
    Mutant(
        'backward_mean_over_entries',
        edits=[('dZ2 = (cache["P"] - Y) / N',
                'dZ2 = (cache["P"] - Y) / Y.size')],
        loses=['backward.W1', 'backward.b1', 'backward.W2', 'backward.b2'],
        labels={'backward.W1': 'mean_over_entries', 'backward.b2': 'mean_over_entries'},
    ),
    Mutant(
        'grad_sign_flipped',
        edits=[('return (softmax(Z) - Y) / Z.shape[0]',
                'return (Y - softmax(Z)) / Z.shape[0]')],
        loses=['softmax_ce_grad'],
        labels={'softmax_ce_grad': 'sign_flipped'},
    ),
    Mutant(
        'grad_extra_sigmoid_prime',
        edits=[('return (softmax(Z) - Y) / Z.shape[0]',
                '''s = 1 / (1 + np.exp(-Z))
    return (softmax(Z) - Y) / Z.shape[0] * s * (1 - s)''')],
        loses=['softmax_ce_grad'],
        labels={'softmax_ce_grad': 'extra_sigmoid_prime'},
    ),
    Mutant(
        'backward_missing_1_over_N',
        edits=[('dZ2 = (cache["P"] - Y) / N',
                'dZ2 = cache["P"] - Y')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2'],
        labels={'backward.W2': 'scaled_by_N'},
    ),
    Mutant(
        'transposed_dW2',
        edits=[('dW2 = dZ2.T @ A1',
                'dW2 = A1.T @ dZ2')],
        loses=['backward.W2'],
        labels={'backward.W2': 'transposed'},
    ),
    Mutant(
        'transposed_dW1',
        edits=[('dW1 = dZ1.T @ X',
                'dW1 = X.T @ dZ1')],
        loses=['backward.W1'],
        labels={'backward.W1': 'transposed'},
    ),
    Mutant(
        'per_sample_db2',
        edits=[('db2 = dZ2.sum(axis=0)',
                'db2 = dZ2')],
        loses=['backward.b2'],
        labels={'backward.b2': 'not_reduced'},
    ),
    Mutant(
        'scalar_b1_as_in_the_seed',
        edits=[('db1 = dZ1.sum(axis=0)',
                'db1 = np.sum(dZ1)')],
        loses=['backward.b1'],
        labels={'backward.b1': 'shape_mismatch'},
    ),
    Mutant(
        'b1_summed_over_every_axis',
        edits=[('db1 = dZ1.sum(axis=0)',
                'db1 = np.array([np.sum(dZ1)])')],
        loses=['backward.b1'],
        labels={'backward.b1': 'shape_mismatch'},
    ),
    Mutant(
        'extra_sigmoid_prime_at_softmax_output',
        edits=[('''    dZ2 = (cache["P"] - Y) / N                 # (N, K): softmax + cross-entropy together
''',
                '''    dZ2 = (cache["P"] - Y) / N                 # (N, K): softmax + cross-entropy together
    dZ2 = dZ2 * _sigmoid(cache["Z2"]) * (1 - _sigmoid(cache["Z2"]))
''')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2'],
        labels={'backward.W2': 'extra_sigmoid_prime'},
    ),
    Mutant(
        'missing_activation_grad',
        edits=[('dZ1 = dA1 * A1 * (1.0 - A1)',
                'dZ1 = dA1')],
        loses=['backward.W1', 'backward.b1'],
        labels={'backward.W1': 'missing_activation_grad'},
    ),
    Mutant(
        'sigmoid_prime_on_activation',
        edits=[('dZ1 = dA1 * A1 * (1.0 - A1)',
                'dZ1 = dA1 * _sigmoid(A1) * (1.0 - _sigmoid(A1))')],
        loses=['backward.W1', 'backward.b1'],
        labels={'backward.b1': 'sigmoid_prime_on_activation'},
    ),
]

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

FLOAT32 = '''
def softmax(Z):
    shifted = (Z - Z.max(axis=1, keepdims=True)).astype(np.float32)
    E = np.exp(shifted)
    return (E / E.sum(axis=1, keepdims=True)).astype(np.float64)


def softmax_ce_grad(Z, Y):
    return (np.exp(_log_softmax(Z)) - Y) / len(Z)
'''

FLOAT32_BACKWARD = '''
def backward(X, Y, params, cache):
    f = np.float32
    X, Y, W2, A1, P = X.astype(f), Y.astype(f), params["W2"].astype(f), cache["A1"].astype(f), cache["P"].astype(f)
    dZ2 = (P - Y) / f(len(X))
    dZ1 = (dZ2 @ W2) * A1 * (f(1) - A1)
    grads = {"W1": dZ1.T @ X, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ A1, "b2": dZ2.sum(axis=0)}
    return {k: v.astype(np.float64) for k, v in grads.items()}
'''

CORRECT = [
    Correct("einsum_forward_backward", append=EINSUM),
    Correct("explicit_loops", append=LOOPS),
    Correct("logaddexp_reduce", append=LOGADDEXP),
    Correct("float32_softmax_cast_back", append=FLOAT32),
    Correct("float32_backward_cast_back", append=FLOAT32_BACKWARD),
]
