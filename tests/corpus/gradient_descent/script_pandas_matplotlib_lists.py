# gradient_descent.py  (Homework 5)
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt


def quadratic(x, A, b):
    return np.asarray(0.5 * np.dot(x, np.dot(A, x)) - np.dot(b, x))


def quadratic_grad(x, A, b):
    g = 0.5 * np.dot(A + A.T, x) - b
    return g.tolist()


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = np.array(x0, dtype=float)
    history = [x]
    f_x = f(x)
    for i in range(max_iters):
        g = np.asarray(grad(x))
        if np.sqrt(np.sum(g ** 2)) < tol:
            break
        x_next = x - lr * g
        history.append(x_next)
        f_next = f(x_next)
        if np.isnan(f_next) or np.isinf(f_next) or np.abs(f_next - f_x) < tol:
            break
        x, f_x = x_next, f_next
    return np.vstack(history)


def max_stable_lr(A):
    eigenvalues, _ = np.linalg.eigh((A + A.T) / 2)
    return 2.0 / eigenvalues[-1]


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = []
    for _ in range(epochs):
        z = X @ w + b
        losses.append(float(np.mean(np.logaddexp(0, z) - y * z)))
        dw, db = grad_fn(X, y, w, b)
        w -= lr * dw
        b -= lr * db
    return w, b, losses


# ---------------------------------------------------------------- experiments for the report
A = np.array([[2.0, 1.0], [1.0, 8.0]])
b = np.zeros(2)
f = lambda x: float(quadratic(x, A, b))
g = lambda x: np.array(quadratic_grad(x, A, b))

rows = []
for lr in [0.05, 0.1, 0.2, 0.24]:
    hist = gradient_descent(f, g, np.array([3.0, 3.0]), lr)
    rows.append({"lr": lr, "steps": len(hist) - 1, "final f": f(hist[-1])})
    plt.semilogy([f(x) + 1e-16 for x in hist], label=f"lr={lr}")
plt.xlabel("iteration")
plt.ylabel("f(x)")
plt.legend()
plt.show()

results = pd.DataFrame(rows)
print(results.to_string(index=False))
print("largest stable step:", max_stable_lr(A))
