"""A correct submission written differently from the reference: softmax and the loss through
np.logaddexp.reduce (log-sum-exp), the loss in the seed's form log sum_j e^{z_j} - sum_i y_i z_i,
and every product of the network as an einsum."""
import numpy as np


def _log_softmax(Z):
    return Z - np.logaddexp.reduce(Z, axis=1, keepdims=True)


def softmax(Z):
    return np.exp(_log_softmax(Z))


def cross_entropy(Z, Y):
    lse = np.logaddexp.reduce(Z, axis=1)
    return float(np.mean(lse * Y.sum(axis=1) - np.einsum("nk,nk->n", Y, Z)))


def softmax_ce_grad(Z, Y):
    return (softmax(Z) - Y) / len(Z)


def forward(X, params):
    Z1 = np.einsum("nd,hd->nh", X, params["W1"]) + params["b1"]
    A1 = np.exp(-np.logaddexp(0.0, -Z1))  # sigma(Z1) = 1 / (1 + e^{-Z1}), without overflow
    Z2 = np.einsum("nh,kh->nk", A1, params["W2"]) + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}


def backward(X, Y, params, cache):
    A1 = cache["A1"]
    dZ2 = softmax_ce_grad(cache["Z2"], Y)
    dZ1 = np.einsum("nk,kh->nh", dZ2, params["W2"]) * A1 * (1.0 - A1)
    return {
        "W1": np.einsum("nh,nd->hd", dZ1, X), "b1": dZ1.sum(axis=0),
        "W2": np.einsum("nk,nh->kh", dZ2, A1), "b2": dZ2.sum(axis=0),
    }
