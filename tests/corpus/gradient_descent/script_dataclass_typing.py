"""Gradient descent assignment -- Sam W.

I track the optimizer state in a small dataclass; gradient_descent returns its history list.
"""
from dataclasses import dataclass, field
from typing import Callable, List, Tuple

import numpy as np

Vector = np.ndarray


@dataclass
class DescentState:
    x: Vector
    fx: float
    steps: int = 0
    history: List[Vector] = field(default_factory=list)


def quadratic(x: Vector, A: np.ndarray, b: Vector) -> float:
    return float(x.dot(A).dot(x) / 2 - b.dot(x))


def quadratic_grad(x: Vector, A: np.ndarray, b: Vector) -> Vector:
    return (A + A.T).dot(x) / 2 - b


def gradient_descent(f: Callable[[Vector], float], grad: Callable[[Vector], Vector], x0: Vector,
                     lr: float, tol: float = 1e-8, max_iters: int = 10_000) -> List[Vector]:
    state = DescentState(x=np.copy(x0), fx=f(x0))
    state.history.append(np.copy(x0))
    while state.steps < max_iters:
        g = grad(state.x)
        if np.linalg.norm(g) < tol:
            break
        x_new = state.x - lr * g
        state.history.append(x_new)
        f_new = f(x_new)
        state.steps += 1
        if not np.isfinite(f_new) or abs(f_new - state.fx) < tol:
            break
        state.x, state.fx = x_new, f_new
    return state.history


def max_stable_lr(A: np.ndarray) -> float:
    S = (A + A.T) / 2
    lam_max = np.linalg.eigvals(S).real.max()
    return 2 / lam_max


def fit_logistic_regression(X: np.ndarray, y: Vector, lr: float, epochs: int,
                            grad_fn: Callable) -> Tuple[Vector, float, Vector]:
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = np.zeros(epochs)
    for epoch in range(epochs):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        losses[epoch] = -np.mean(y * np.log(p + 1e-8) + (1 - y) * np.log(1 - p + 1e-8))
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses


if __name__ == "__main__":
    A = np.array([[2.0, 1.0], [1.0, 8.0]])
    b = np.zeros(2)
    for lr in (0.1, 0.2):
        hist = gradient_descent(lambda x: quadratic(x, A, b), lambda x: quadratic_grad(x, A, b),
                                np.array([3.0, 3.0]), lr)
        print(f"lr={lr}: {len(hist) - 1} steps, last iterate {hist[-1]}")
    print("max stable lr:", max_stable_lr(A))
