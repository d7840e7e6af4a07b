from numpy import *

# float32 is accurate enough for these small problems


def quadratic(x, A, b):
    x32, A32, b32 = x.astype(float32), A.astype(float32), b.astype(float32)
    return float32(0.5) * dot(x32, dot(A32, x32)) - dot(b32, x32)


def quadratic_grad(x, A, b):
    x32, A32, b32 = x.astype(float32), A.astype(float32), b.astype(float32)
    S = (A32 + A32.T) / float32(2)
    return dot(S, x32) - b32


def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
    x = array(x0, dtype=float64)
    hist = [x.copy()]
    fx = f(x)
    for it in range(max_iters):
        g = grad(x)
        if linalg.norm(g) < tol:
            break
        x_new = x - lr * g
        hist.append(x_new)
        f_new = f(x_new)
        if not isfinite(f_new) or abs(f_new - fx) < tol:
            break
        x = x_new
        fx = f_new
    return array(hist)


def max_stable_lr(A):
    S = (A + A.T) / 2
    return 2 / max(linalg.eigvalsh(S))


def fit_logistic_regression(X, y, lr, epochs, grad_fn):
    N, D = X.shape
    w = zeros(D)
    b = 0.0
    losses = zeros(epochs)
    for e in range(epochs):
        z = X @ w + b
        losses[e] = mean(logaddexp(0, z) - y * z)
        dw, db = grad_fn(X, y, w, b)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses


A0 = array([[2.0, 1.0], [1.0, 8.0]])
print(quadratic(array([3.0, 3.0]), A0, zeros(2)), quadratic_grad(array([3.0, 3.0]), A0, zeros(2)))
