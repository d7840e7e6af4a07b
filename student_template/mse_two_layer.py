"""Two-layer network with MSE loss: backpropagation by hand.

Fill in each function with numpy. The math is in the assignment text
(assignments/mse_two_layer/instructions.md). Check your work locally with

    bpgrade check mse_two_layer mse_two_layer.py

Conventions: X has shape (N, D), one example per row. Weights are stored like torch.nn.Linear,
(out, in): params = {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}. Targets Y have shape
(N, K). The network is

    Z1 = X W1^T + b1,   A1 = sigmoid(Z1),   Z2 = A1 W2^T + b2,   Y_hat = Z2   (linear output)

and the loss is L = 1/(2N) sum_p ||y_hat_p - y_p||^2 (averaged over the batch, with the 1/2).
Return float64 numpy arrays of exactly the documented shapes (keep length-1 axes) and do not
modify the inputs. numpy only: torch, jax, tensorflow and autograd are refused.
"""
import numpy as np


def forward(X, params):
    """The forward pass.

    X: (N, D); params: dict with W1 (H, D), b1 (H,), W2 (K, H), b2 (K,).
    Returns a dict {"Z1": (N, H), "A1": (N, H), "Z2": (N, K)}; Z2 is the prediction Y_hat.
    """
    raise NotImplementedError


def mse_loss(Y_hat, Y):
    """L = 1/(2N) sum_p ||y_hat_p - y_p||^2.

    Y_hat, Y: (N, K). Returns a float.
    """
    raise NotImplementedError


def output_grad(Y_hat, Y):
    """dL/dZ2 = (Y_hat - Y) / N (the output layer is linear: Y_hat = Z2).

    Y_hat, Y: (N, K). Returns dZ2 with shape (N, K).
    """
    raise NotImplementedError


def linear_backward(dZ, A_prev, W):
    """Back through Z = A_prev W^T + b, given dZ = dL/dZ.

    dZ: (N, out), A_prev: (N, in), W: (out, in).
    Returns a tuple (dA_prev, dW, db) with shapes (N, in), (out, in), (out,).
    """
    raise NotImplementedError


def sigmoid_backward(dA, Z):
    """Back through A = sigmoid(Z), given dA = dL/dA: dZ = dA * sigma'(Z).

    dA, Z: (N, H). Returns dZ with shape (N, H).
    """
    raise NotImplementedError


def backward(X, Y, params, cache):
    """Gradients of L with respect to every parameter.

    X: (N, D), Y: (N, K), params as in forward, cache: the dict forward(X, params) returned.
    Returns a dict {"W1": (H, D), "b1": (H,), "W2": (K, H), "b2": (K,)}.
    """
    raise NotImplementedError
