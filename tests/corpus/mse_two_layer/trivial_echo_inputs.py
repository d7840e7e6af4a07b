import numpy as np

# placeholder versions that just hand back something of the right shape


def forward(X, params):
    N = X.shape[0]
    H = params["W1"].shape[0]
    K = params["W2"].shape[0]
    return {"Z1": np.zeros((N, H)), "A1": np.zeros((N, H)), "Z2": np.zeros((N, K))}


def mse_loss(Y_hat, Y):
    return 0.0


def output_grad(Y_hat, Y):
    return Y_hat


def linear_backward(dZ, A_prev, W):
    return A_prev, W, np.zeros(W.shape[0])


def sigmoid_backward(dA, Z):
    return dA


def backward(X, Y, params, cache):
    return {k: v.copy() for k, v in params.items()}
