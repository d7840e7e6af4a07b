"""Hostile: kills its own worker on every call and at load time half of the functions."""
import os
import numpy as np


def forward(X, params):
    os._exit(0)


def mse_loss(Y_hat, Y):
    os._exit(3)


def output_grad(Y_hat, Y):
    os.kill(os.getpid(), 9)


def linear_backward(dZ, A_prev, W):
    os._exit(1)


def sigmoid_backward(dA, Z):
    os.abort()


def backward(X, Y, params, cache):
    raise SystemExit(0)
