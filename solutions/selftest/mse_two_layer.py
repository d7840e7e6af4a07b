"""Mutation suite for mse_two_layer: the reference with one mistake each, and correct variants.

Run with `bpgrade selftest mse_two_layer`; tests/test_mse_two_layer.py runs the same list.
"""
from autograder.selftest import Correct, Mutant

MUTANTS = [
    Mutant(
        'transposed_dW',
        edits=[('dW = dZ.T @ A_prev',
                'dW = A_prev.T @ dZ')],
        loses=['backward.W1', 'backward.W2', 'linear_backward.dW'],
        labels={'linear_backward.dW': 'transposed', 'backward.W2': 'transposed'},
    ),
    Mutant(
        'output_grad_missing_1_over_N',
        edits=[('return (Y_hat - Y) / Y.shape[0]',
                'return Y_hat - Y')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2', 'output_grad'],
        labels={'output_grad': 'scaled_by_N', 'backward.W2': 'scaled_by_N', 'backward.b1': 'scaled_by_N'},
    ),
    Mutant(
        'output_grad_sign_flipped',
        edits=[('return (Y_hat - Y) / Y.shape[0]',
                'return (Y - Y_hat) / Y.shape[0]')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2', 'output_grad'],
        labels={'output_grad': 'sign_flipped', 'backward.W1': 'sign_flipped'},
    ),
    Mutant(
        'per_sample_db',
        edits=[('db = dZ.sum(axis=0)',
                'db = dZ')],
        loses=['backward.b1', 'backward.b2', 'linear_backward.db'],
        labels={'linear_backward.db': 'not_reduced', 'backward.b2': 'not_reduced'},
    ),
    Mutant(
        'db_summed_over_wrong_axis',
        edits=[('db = dZ.sum(axis=0)',
                'db = dZ.sum(axis=1)')],
        loses=['backward.b1', 'backward.b2', 'linear_backward.db'],
        labels={'linear_backward.db': 'reduced_wrong_axis', 'backward.b1': 'shape_mismatch'},
    ),
    Mutant(
        'sigmoid_prime_on_activation',
        edits=[('''    s = sigmoid(Z)
''',
                '''    s = sigmoid(sigmoid(Z))
''')],
        loses=['backward.W1', 'backward.b1', 'sigmoid_backward'],
        labels={'sigmoid_backward': 'sigmoid_prime_on_activation', 'backward.W1': 'sigmoid_prime_on_activation'},
    ),
    Mutant(
        'missing_activation_grad',
        edits=[('return dA * s * (1.0 - s)',
                'return dA.copy()')],
        loses=['backward.W1', 'backward.b1', 'sigmoid_backward'],
        labels={'sigmoid_backward': 'missing_activation_grad', 'backward.b1': 'missing_activation_grad'},
    ),
    Mutant(
        'extra_sigmoid_prime_on_linear_output',
        edits=[('dZ2 = output_grad(cache["Z2"], Y)',
                'dZ2 = sigmoid_backward(output_grad(cache["Z2"], Y), cache["Z2"])')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2'],
        labels={'backward.W2': 'extra_sigmoid_prime', 'backward.b2': 'extra_sigmoid_prime', 'backward.W1': 'extra_sigmoid_prime'},
    ),
    Mutant(
        'loss_missing_half',
        edits=[('return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)',
                'return float(np.sum((Y_hat - Y) ** 2) / N)')],
        loses=['mse_loss'],
        labels={'mse_loss': 'scaled_const'},
    ),
    Mutant(
        'loss_mean_over_entries_not_rows',
        edits=[('return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)',
                'return float(0.5 * np.mean((Y_hat - Y) ** 2))')],
        loses=['mse_loss'],
        labels={'mse_loss': 'mean_over_entries'},
    ),
    Mutant(  # the usual MSE: 2/K times this loss, right at K = 2 (random cases avoid it)
        'loss_np_mean',
        edits=[('return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)',
                'return float(np.mean((Y_hat - Y) ** 2))')],
        loses=['mse_loss'],
        labels={'mse_loss': 'mean_over_entries'},
    ),
    Mutant(
        'output_grad_of_np_mean',
        edits=[('return (Y_hat - Y) / Y.shape[0]',
                'return 2 * (Y_hat - Y) / Y.size')],
        loses=['backward.W1', 'backward.W2', 'backward.b1', 'backward.b2', 'output_grad'],
        labels={'output_grad': 'mean_over_entries', 'backward.W1': 'mean_over_entries',
                'backward.b2': 'mean_over_entries'},
    ),
    Mutant(
        'loss_missing_1_over_N',
        edits=[('return float(0.5 * np.sum((Y_hat - Y) ** 2) / N)',
                'return float(0.5 * np.sum((Y_hat - Y) ** 2))')],
        loses=['mse_loss'],
        labels={'mse_loss': 'scaled_by_N'},
    ),
    Mutant(
        'seed001_sigma_times_one_minus_sigma_prime',
        edits=[('return dA * s * (1.0 - s)',
                'return dA * s * (1.0 - s * (1.0 - s))')],
        loses=['backward.W1', 'backward.b1', 'sigmoid_backward'],
        labels={'sigmoid_backward': 'sigmoid_prime_slip'},
    ),
    Mutant(
        'sigmoid_on_linear_output_in_forward',
        edits=[('Z2 = A1 @ params["W2"].T + params["b2"]',
                'Z2 = sigmoid(A1 @ params["W2"].T + params["b2"])')],
        loses=['forward.Z2'],
        labels={'forward.Z2': 'wrong_values'},
    ),
    Mutant(  # a lecture's "network in 20 lines": the derivative of a sum of squares, no mean
        'output_grad_2_times_error_no_mean',
        edits=[('return (Y_hat - Y) / Y.shape[0]', 'return 2 * (Y_hat - Y)')],
        loses=['output_grad', 'backward.W1', 'backward.b1', 'backward.W2', 'backward.b2'],
        labels={'output_grad': 'scaled_by_N', 'backward.W2': 'scaled_by_N'},
    ),
    Mutant(
        'complex_dA_prev',
        edits=[('''dA_prev = dZ @ W
''',
                '''dA_prev = dZ @ W
    dA_prev = dA_prev + 0j
''')],
        loses=['linear_backward.dA_prev', 'backward.W1', 'backward.b1'],  # backward calls linear_backward
        labels={'linear_backward.dA_prev': 'wrong_dtype'},
    ),
]

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

CORRECT = [
    Correct("einsum_tanh_sigmoid", example="correct_einsum.py"),
    Correct("explicit_loops", source=LOOPS),
    Correct("float32_inside_cast_back", source=FLOAT32_INSIDE),
    # representation is not the lesson: a float32 array is converted
    Correct("float32_dA_prev", edits=[("dA_prev = dZ @ W\n", "dA_prev = dZ @ W\n    dA_prev = dA_prev.astype(np.float32)\n")]),
    Correct("sigma_prime_as_A_minus_A_squared", edits=[("return dA * s * (1.0 - s)", "A = sigmoid(Z)\n    return dA * (A - A * A)")]),
]
