"""The cells of the corpus notebooks (built by ``python -m tests.corpus.make_notebooks``).

Each notebook imitates a student's real notebook: markdown between code cells, magics, shell
escapes, plots, display(), test prints, redefinitions and stray failing cells. What each one
should score is in manifest.toml.
"""
from __future__ import annotations

import textwrap


def md(text: str):
    return ("md", textwrap.dedent(text).strip("\n"), ())


def code(text: str, *outputs):
    return ("code", textwrap.dedent(text).strip("\n"), outputs)


def out(text: str):
    return ("stdout", text)


def err(ename: str, evalue: str):
    return ("error", (ename, evalue))


FIG = ("figure", "640x480")

NOTEBOOKS: dict[str, list] = {}

# =============================================================================== logistic_regression

NOTEBOOKS["logistic_regression/nb_plots_display.ipynb"] = [
    md("""
    # Homework 2: Logistic regression from scratch
    **Name:** Alex Moreno  
    Implement `sigmoid`, `predict_proba`, `bce_loss`, `grad_logits`, `gradients` below.
    """),
    code("!pip install numpy matplotlib", out("Requirement already satisfied: numpy in /usr/local/lib/python3.11/site-packages (1.26.4)\n")),
    code("""
    %matplotlib inline
    import numpy as np
    import matplotlib.pyplot as plt
    from IPython.display import display

    np.random.seed(42)
    """),
    md("""
    ## 1. Sigmoid
    For large negative $z$, `np.exp(-z)` overflows, so I use $e^{-|z|}$ which is always $\\le 1$:
    $\\sigma(z) = 1/(1+e^{-|z|})$ for $z \\ge 0$ and $e^{-|z|}/(1+e^{-|z|})$ for $z<0$.
    """),
    code("""
    def sigmoid(z):
        z = np.asarray(z, dtype=float)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    """),
    code("""
    zs = np.linspace(-10, 10, 200)
    plt.plot(zs, sigmoid(zs))
    plt.title("sigmoid")
    plt.show()
    print(sigmoid(np.array([-1000., 0., 1000.])))
    """, FIG, out("[0.  0.5 1. ]\n")),
    md("## 2. Probabilities and the loss"),
    code("""
    def predict_proba(X, w, b):
        return sigmoid(X @ w + b)

    def bce_loss(X, y, w, b):
        z = X @ w + b
        # -[y log p + (1-y) log(1-p)] = log(1 + e^z) - y z
        return np.mean(np.logaddexp(0, z) - y * z)
    """),
    code("""
    X = np.random.randn(8, 3)
    y = (np.random.rand(8) > 0.5).astype(float)
    w = np.random.randn(3)
    b = 0.1
    print(X.shape, y.shape, w.shape)
    print("p:", predict_proba(X, w, b).shape, predict_proba(X, w, b).round(3))
    print("loss:", bce_loss(X, y, w, b))
    """, out("(8, 3) (8,) (3,)\np: (8,) [0.61  0.153 0.852 0.402 0.733 0.23  0.518 0.899]\nloss: 0.7712\n")),
    md("## 3. Gradients"),
    code("""
    def grad_logits(X, y, w, b):
        N = X.shape[0]
        return (predict_proba(X, w, b) - y) / N

    def gradients(X, y, w, b):
        dz = grad_logits(X, y, w, b)
        dw = X.T @ dz
        db = dz.sum()
        return dw, db
    """),
    code("""
    # numerical gradient check
    dw, db = gradients(X, y, w, b)
    eps = 1e-6
    num = np.array([(bce_loss(X, y, w + eps * np.eye(3)[j], b) - bce_loss(X, y, w - eps * np.eye(3)[j], b)) / (2 * eps)
                    for j in range(3)])
    print("max diff dw:", np.abs(num - dw).max())
    print("db:", db, (bce_loss(X, y, w, b + eps) - bce_loss(X, y, w, b - eps)) / (2 * eps))
    """, out("max diff dw: 3.1e-11\ndb: 0.0412 0.0412\n")),
    md("## 4. Training on a toy dataset"),
    code("""
    Xtr = np.random.randn(200, 2)
    ytr = (Xtr[:, 0] - Xtr[:, 1] > 0).astype(float)
    w_tr, b_tr = np.zeros(2), 0.0
    losses = []
    for epoch in range(300):
        losses.append(bce_loss(Xtr, ytr, w_tr, b_tr))
        gw, gb = gradients(Xtr, ytr, w_tr, b_tr)
        w_tr = w_tr - 0.5 * gw
        b_tr = b_tr - 0.5 * gb
    plt.plot(losses)
    plt.xlabel("epoch"); plt.ylabel("loss")
    plt.show()
    display({"final loss": losses[-1], "w": w_tr, "b": b_tr})
    """, FIG, ("result", "{'final loss': 0.081, 'w': array([ 3.9, -3.8]), 'b': 0.02}")),
    code("""
    acc = ((predict_proba(Xtr, w_tr, b_tr) > 0.5) == ytr).mean()
    print("train accuracy", acc)
    """, out("train accuracy 0.995\n")),
    code("print(\"test loss:\", test_loss)", err("NameError", "name 'test_loss' is not defined")),
]

NOTEBOOKS["logistic_regression/nb_redefined_later_fix.ipynb"] = [
    md("# Logistic regression (HW 2)\nFirst attempt below, then fixes after running the checker."),
    code("import numpy as np"),
    code("""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def predict_proba(X, w, b):
        return sigmoid(X @ w + b)

    def bce_loss(X, y, w, b):
        p = predict_proba(X, w, b)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    """),
    code("""
    def grad_logits(X, y, w, b):
        return predict_proba(X, w, b) - y

    def gradients(X, y, w, b):
        dz = grad_logits(X, y, w, b)
        return X.T @ dz, np.sum(dz)
    """),
    code("""
    X = np.random.randn(4, 3); y = np.array([0., 1., 1., 0.]); w = np.ones(3)
    print(bce_loss(X, y, w, 0.0))
    print(sigmoid(np.array([-1000.0])))
    """, out("0.93\n[0.]\n"), ("stderr", "RuntimeWarning: overflow encountered in exp\n")),
    md("""
    ### Fixes
    The checker says: *`s`: exp overflowed on large inputs* and *`dz` is off by a factor of the
    batch size N*. I also switched the loss to the log-sum-exp form so it works for saturated
    probabilities. `gradients` does not need changing since it calls `grad_logits`.
    """),
    code("""
    def sigmoid(z):
        z = np.asarray(z, dtype=float)
        return np.exp(-np.logaddexp(0.0, -z))

    def bce_loss(X, y, w, b):
        z = X @ w + b
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    def grad_logits(X, y, w, b):
        return (predict_proba(X, w, b) - y) / X.shape[0]
    """),
    code("""
    %%time
    Xtr = np.random.randn(500, 4)
    ytr = (Xtr @ np.array([1., -2., 0.5, 0.]) > 0).astype(float)
    wt, bt = np.zeros(4), 0.0
    for it in range(500):
        gw, gb = gradients(Xtr, ytr, wt, bt)
        wt -= 1.0 * gw
        bt -= 1.0 * gb
    print("loss after training", bce_loss(Xtr, ytr, wt, bt))
    """, out("loss after training 0.052\nCPU times: user 48.2 ms, sys: 2.1 ms, total: 50.3 ms\nWall time: 49.8 ms\n")),
    code("print(sigmoid(np.array([-1000.0, 0.0, 1000.0])), bce_loss(np.array([[1000.]]), np.array([0.]), np.array([1.]), 0.))",
         out("[0.  0.5 1. ] 1000.0\n")),
]

NOTEBOOKS["logistic_regression/nb_scipy_expit.ipynb"] = [
    md("# Logistic regression\nI use scipy's `expit` for the sigmoid (it is numerically stable)."),
    code("""
    import numpy as np
    from scipy.special import expit
    """),
    code("""
    def sigmoid(z):
        return expit(z)

    def predict_proba(X, w, b):
        return sigmoid(X.dot(w) + b)
    """),
    code("print(sigmoid(np.array([-1e4, 0, 1e4])))", out("[0.  0.5 1. ]\n")),
    md("The loss written with `log1p` so it never takes log(0):"),
    code("""
    def bce_loss(X, y, w, b):
        z = X.dot(w) + b
        return float(np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))
    """),
    code("""
    def grad_logits(X, y, w, b):
        return (predict_proba(X, w, b) - y) / len(y)

    def gradients(X, y, w, b):
        dz = grad_logits(X, y, w, b)
        return X.T.dot(dz), dz.sum()
    """),
    code("""
    X = np.random.randn(10, 3); y = (np.random.rand(10) < 0.5) * 1.0; w = np.random.randn(3)
    print(bce_loss(X, y, w, 0.5))
    print(gradients(X, y, w, 0.5))
    """, out("0.9132\n(array([ 0.12, -0.31,  0.05]), 0.087)\n")),
]

NOTEBOOKS["logistic_regression/nb_sign_flipped.ipynb"] = [
    md("## Logistic regression\nDerivation: $L = -\\frac1N\\sum y\\log\\hat y + (1-y)\\log(1-\\hat y)$, "
       "$\\partial L/\\partial z = (y - \\hat y)/N$."),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt
    """),
    code("""
    def sigmoid(z):
        z = np.asarray(z, dtype=float)
        out = np.empty_like(z)
        big = z >= 0
        out[big] = 1 / (1 + np.exp(-z[big]))
        out[~big] = np.exp(z[~big]) / (1 + np.exp(z[~big]))
        return out

    def predict_proba(X, w, b):
        return sigmoid(X @ w + b)

    def bce_loss(X, y, w, b):
        z = X @ w + b
        return np.mean(np.logaddexp(0, z) - y * z)
    """),
    code("""
    def grad_logits(X, y, w, b):
        y_hat = predict_proba(X, w, b)
        return (y - y_hat) / X.shape[0]

    def gradients(X, y, w, b):
        dz = grad_logits(X, y, w, b)
        return X.T @ dz, dz.sum()
    """),
    md("Training: with `w -= lr*dw` the loss went **up**, so the update is `w += lr*dw`."),
    code("""
    X = np.random.randn(100, 2)
    y = (X[:, 0] > 0).astype(float)
    w, b = np.zeros(2), 0.0
    hist = []
    for _ in range(200):
        hist.append(bce_loss(X, y, w, b))
        dw, db = gradients(X, y, w, b)
        w += 0.5 * dw
        b += 0.5 * db
    plt.plot(hist); plt.title("training loss"); plt.show()
    print(hist[0], hist[-1])
    """, FIG, out("0.6931471805599453 0.1127\n")),
]

# =============================================================================== mse_two_layer

NOTEBOOKS["mse_two_layer/nb_training_loop_plots.ipynb"] = [
    md("""
    # Assignment 3 — two-layer network, MSE
    $Z_1 = XW_1^T + b_1$, $A_1 = \\sigma(Z_1)$, $\\hat Y = Z_2 = A_1 W_2^T + b_2$,
    $L = \\frac{1}{2N}\\sum_p \\lVert \\hat y_p - y_p\\rVert^2$
    """),
    code("""
    %matplotlib inline
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    from IPython.display import display
    """),
    code("""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = sigmoid(Z1)
        Z2 = A1 @ params["W2"].T + params["b2"]
        return {"Z1": Z1, "A1": A1, "Z2": Z2}
    """),
    code("""
    rng = np.random.default_rng(0)
    N, D, H, K = 5, 4, 3, 2
    X = rng.normal(size=(N, D)); Y = rng.normal(size=(N, K))
    params = {"W1": rng.normal(size=(H, D)), "b1": np.zeros(H), "W2": rng.normal(size=(K, H)), "b2": np.zeros(K)}
    cache = forward(X, params)
    for k, v in cache.items():
        print(k, v.shape)
    """, out("Z1 (5, 3)\nA1 (5, 3)\nZ2 (5, 2)\n")),
    md("## Loss and gradients"),
    code("""
    def mse_loss(Y_hat, Y):
        N = Y.shape[0]
        return 0.5 * np.sum((Y_hat - Y) ** 2) / N

    def output_grad(Y_hat, Y):
        return (Y_hat - Y) / Y.shape[0]

    def linear_backward(dZ, A_prev, W):
        dA_prev = dZ @ W
        dW = dZ.T @ A_prev
        db = dZ.sum(axis=0)
        return dA_prev, dW, db

    def sigmoid_backward(dA, Z):
        s = sigmoid(Z)
        return dA * s * (1 - s)
    """),
    code("""
    def backward(X, Y, params, cache):
        dZ2 = output_grad(cache["Z2"], Y)
        dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
        dZ1 = sigmoid_backward(dA1, cache["Z1"])
        _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    code("""
    # gradient check on W1
    grads = backward(X, Y, params, cache)
    eps = 1e-6
    num = np.zeros_like(params["W1"])
    for i in range(H):
        for j in range(D):
            p_plus = {k: v.copy() for k, v in params.items()}; p_plus["W1"][i, j] += eps
            p_minus = {k: v.copy() for k, v in params.items()}; p_minus["W1"][i, j] -= eps
            num[i, j] = (mse_loss(forward(X, p_plus)["Z2"], Y) - mse_loss(forward(X, p_minus)["Z2"], Y)) / (2 * eps)
    print("rel error W1:", np.abs(num - grads["W1"]).max() / np.abs(num).max())
    """, out("rel error W1: 2.7e-10\n")),
    md("## Training"),
    code("""
    lr = 0.5
    losses = []
    for epoch in range(200):
        cache = forward(X, params)
        losses.append(mse_loss(cache["Z2"], Y))
        grads = backward(X, Y, params, cache)
        for name in params:
            params[name] = params[name] - lr * grads[name]
    df = pd.DataFrame({"epoch": np.arange(len(losses)), "loss": losses})
    display(df.tail())
    plt.plot(losses)
    plt.yscale("log")
    plt.show()
    """, ("result", "     epoch      loss\n195    195  0.061\n"), FIG),
    code("""
    assert losses[-1] < 1e-3, "did not converge"
    """, err("AssertionError", "did not converge")),
]

NOTEBOOKS["mse_two_layer/nb_later_broken_redefinition.ipynb"] = [
    md("# Two-layer MSE network"),
    code("import numpy as np"),
    code("""
    def sigmoid(z):
        return np.exp(-np.logaddexp(0, -z))

    def forward(X, params):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        Z1 = X.dot(W1.T) + b1
        A1 = sigmoid(Z1)
        Z2 = A1.dot(W2.T) + b2
        return {"Z1": Z1, "A1": A1, "Z2": Z2}

    def mse_loss(Y_hat, Y):
        return np.sum((Y_hat - Y) ** 2) / (2 * len(Y))

    def output_grad(Y_hat, Y):
        return (Y_hat - Y) / len(Y)

    def linear_backward(dZ, A_prev, W):
        return dZ.dot(W), dZ.T.dot(A_prev), dZ.sum(axis=0)

    def sigmoid_backward(dA, Z):
        s = sigmoid(Z)
        return dA * s * (1.0 - s)

    def backward(X, Y, params, cache):
        dZ2 = output_grad(cache["Z2"], Y)
        dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
        dZ1 = sigmoid_backward(dA1, cache["Z1"])
        _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    code("""
    %%time
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 3)); Y = np.sin(X[:, :1]) + 0.1 * rng.normal(size=(64, 1))
    params = {"W1": 0.5 * rng.normal(size=(8, 3)), "b1": np.zeros(8), "W2": 0.5 * rng.normal(size=(1, 8)), "b2": np.zeros(1)}
    for epoch in range(300):
        cache = forward(X, params)
        g = backward(X, Y, params, cache)
        params = {k: params[k] - 0.3 * g[k] for k in params}
    print(mse_loss(forward(X, params)["Z2"], Y))
    """, out("0.0213\nCPU times: user 31 ms, sys: 0 ns, total: 31 ms\nWall time: 30.6 ms\n")),
    md("""
    ### Cleanup
    `forward` already stores `A1` in the cache, so there is no need to recompute the sigmoid:
    pass the cached activation to `sigmoid_backward`.
    """),
    code("""
    def backward(X, Y, params, cache):
        dZ2 = output_grad(cache["Z2"], Y)
        dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
        dZ1 = sigmoid_backward(dA1, cache["A1"])
        _, dW1, db1 = linear_backward(dZ1, X, params["W1"])
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    code("""
    g = backward(X, Y, params, forward(X, params))
    print({k: v.shape for k, v in g.items()})
    """, out("{'W1': (8, 3), 'b1': (8,), 'W2': (1, 8), 'b2': (1,)}\n")),
]

NOTEBOOKS["mse_two_layer/nb_sign_flipped.ipynb"] = [
    md("# MSE network — backprop\nThe gradient of the loss w.r.t. the output is $(Y - \\hat Y)/N$."),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt
    """),
    code("""
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = sigmoid(Z1)
        Z2 = A1 @ params["W2"].T + params["b2"]
        return {"Z1": Z1, "A1": A1, "Z2": Z2}

    def mse_loss(Y_hat, Y):
        return ((Y_hat - Y) ** 2).sum() / (2 * Y.shape[0])
    """),
    code("""
    def output_grad(Y_hat, Y):
        return (Y - Y_hat) / Y.shape[0]

    def linear_backward(dZ, A_prev, W):
        dA_prev = dZ @ W
        dW = dZ.T @ A_prev
        db = np.sum(dZ, axis=0)
        return dA_prev, dW, db

    def sigmoid_backward(dA, Z):
        A = sigmoid(Z)
        return dA * A * (1 - A)

    def backward(X, Y, params, cache):
        dZ2 = output_grad(cache["Z2"], Y)
        dA1, dW2, db2 = linear_backward(dZ2, cache["A1"], params["W2"])
        dZ1 = sigmoid_backward(dA1, cache["Z1"])
        dX, dW1, db1 = linear_backward(dZ1, X, params["W1"])
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    md("Gradient descent: the loss only goes down if I **add** the gradient (?)"),
    code("""
    X = np.random.randn(32, 2); Y = X[:, :1] * X[:, 1:]
    params = {"W1": np.random.randn(6, 2), "b1": np.zeros(6), "W2": np.random.randn(1, 6), "b2": np.zeros(1)}
    losses = []
    for i in range(150):
        cache = forward(X, params)
        losses.append(mse_loss(cache["Z2"], Y))
        grads = backward(X, Y, params, cache)
        for k in params:
            params[k] += 0.5 * grads[k]
    plt.plot(losses); plt.show()
    """, FIG),
    code("print(test_loss)", err("NameError", "name 'test_loss' is not defined")),
]

# =============================================================================== softmax_ce

NOTEBOOKS["softmax_ce/nb_full_correct_plots.ipynb"] = [
    md("# Softmax classifier with one hidden layer\n*Jordan Lee — CSE 446*"),
    code("!pip install numpy", out("Requirement already satisfied: numpy in ./venv/lib/python3.11/site-packages (2.1.1)\n")),
    code("""
    %matplotlib inline
    import numpy as np
    import matplotlib.pyplot as plt
    from IPython.display import display
    """),
    md("## Softmax and cross-entropy (with the max trick)"),
    code("""
    def softmax(Z):
        Z = Z - Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    def cross_entropy(Z, Y):
        Zs = Z - Z.max(axis=1, keepdims=True)
        log_P = Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True))
        return -np.sum(Y * log_P) / Z.shape[0]

    def softmax_ce_grad(Z, Y):
        return (softmax(Z) - Y) / Z.shape[0]
    """),
    code("""
    Z = np.array([[1., 2., 3.], [1000., 0., -1000.]])
    Y = np.array([[0., 0., 1.], [1., 0., 0.]])
    print(softmax(Z).round(4))
    print(softmax(Z).sum(axis=1))
    print(cross_entropy(Z, Y))
    """, out("[[0.09   0.2447 0.6652]\n [1.     0.     0.    ]]\n[1. 1.]\n0.2038\n")),
    md("## Network"),
    code("""
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = sigmoid(Z1)
        Z2 = A1 @ params["W2"].T + params["b2"]
        P = softmax(Z2)
        return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": P}

    def backward(X, Y, params, cache):
        N = X.shape[0]
        dZ2 = (cache["P"] - Y) / N
        dW2 = dZ2.T @ cache["A1"]
        db2 = dZ2.sum(axis=0)
        dA1 = dZ2 @ params["W2"]
        dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
        dW1 = dZ1.T @ X
        db1 = dZ1.sum(axis=0)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    code("""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(150, 2))
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    Y = np.eye(3)[labels]
    params = {"W1": 0.5 * rng.normal(size=(10, 2)), "b1": np.zeros(10),
              "W2": 0.5 * rng.normal(size=(3, 10)), "b2": np.zeros(3)}
    losses, accs = [], []
    for epoch in range(300):
        cache = forward(X, params)
        losses.append(cross_entropy(cache["Z2"], Y))
        accs.append((cache["P"].argmax(1) == labels).mean())
        grads = backward(X, Y, params, cache)
        for k in params:
            params[k] -= 1.0 * grads[k]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3))
    ax[0].plot(losses); ax[0].set_title("loss")
    ax[1].plot(accs); ax[1].set_title("accuracy")
    plt.show()
    display(cache["P"][:5].round(3))
    """, FIG, ("result", "array([[0.01 , 0.21 , 0.78 ], ...])")),
    code("print(\"test accuracy:\", test_acc)", err("NameError", "name 'test_acc' is not defined")),
]

NOTEBOOKS["softmax_ce/nb_redefined_fix.ipynb"] = [
    md("# Softmax + CE\nFirst version (straight from the formula)."),
    code("import numpy as np"),
    code("""
    def softmax(Z):
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    def cross_entropy(Z, Y):
        return -np.sum(Y * np.log(softmax(Z))) / Z.shape[0]

    def softmax_ce_grad(Z, Y):
        return (softmax(Z) - Y) / Z.shape[0]
    """),
    code("print(softmax(np.array([[1000., 0.]])))",
         out("[[nan  0.]]\n"), ("stderr", "RuntimeWarning: overflow encountered in exp\n")),
    md("""
    That gives `nan` for big logits. Fix: subtract the row max (softmax is shift invariant), and
    compute the log-probabilities with log-sum-exp instead of `log(softmax)`.
    """),
    code("""
    def softmax(Z):
        shifted = Z - np.max(Z, axis=1, keepdims=True)
        E = np.exp(shifted)
        return E / np.sum(E, axis=1, keepdims=True)

    def cross_entropy(Z, Y):
        lse = np.logaddexp.reduce(Z, axis=1)          # log sum_j exp(Z_pj), stable
        return -np.sum(Y * (Z - lse[:, None])) / Z.shape[0]
    """),
    code("print(softmax(np.array([[1000., 0.]])), cross_entropy(np.array([[1000., 0.]]), np.array([[0., 1.]])))",
         out("[[1. 0.]] 1000.0\n")),
    code("""
    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = 1 / (1 + np.exp(-Z1))
        Z2 = A1 @ params["W2"].T + params["b2"]
        return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}
    """),
    code("""
    %%time
    def backward(X, Y, params, cache):
        dZ2 = softmax_ce_grad(cache["Z2"], Y)
        dA1 = dZ2 @ params["W2"]
        dZ1 = dA1 * cache["A1"] * (1 - cache["A1"])
        return {"W1": dZ1.T @ X, "b1": dZ1.sum(0), "W2": dZ2.T @ cache["A1"], "b2": dZ2.sum(0)}

    X = np.random.randn(20, 4); Y = np.eye(3)[np.random.randint(0, 3, 20)]
    params = {"W1": np.random.randn(5, 4), "b1": np.zeros(5), "W2": np.random.randn(3, 5), "b2": np.zeros(3)}
    for _ in range(100):
        g = backward(X, Y, params, forward(X, params))
        params = {k: params[k] - 0.5 * g[k] for k in params}
    print(cross_entropy(forward(X, params)["Z2"], Y))
    """, out("0.4417\nCPU times: user 9.1 ms, sys: 0 ns, total: 9.1 ms\nWall time: 8.8 ms\n")),
]

NOTEBOOKS["softmax_ce/nb_clip_float32.ipynb"] = [
    md("# HW4: softmax classifier\nNotes: I clip probabilities before the log, and do the backward pass in float32."),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt
    from IPython.display import display
    """),
    code("""
    def softmax(Z):
        m = np.max(Z, axis=1, keepdims=True)
        ex = np.exp(Z - m)
        return ex / ex.sum(axis=1, keepdims=True)

    def cross_entropy(Z, Y):
        P = softmax(Z)
        P = np.clip(P, 1e-12, 1.0)
        return -np.sum(Y * np.log(P)) / len(Z)

    def softmax_ce_grad(Z, Y):
        return (softmax(Z) - Y) / len(Z)
    """),
    code("""
    Z = np.random.randn(4, 3) * 3
    Y = np.eye(3)[[0, 2, 1, 1]]
    display(softmax(Z))
    print(cross_entropy(Z, Y), softmax_ce_grad(Z, Y).shape)
    """, ("result", "array([[0.1, 0.7, 0.2], ...])"), out("1.842 (4, 3)\n")),
    code("""
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = sigmoid(Z1)
        Z2 = A1 @ params["W2"].T + params["b2"]
        return dict(Z1=Z1, A1=A1, Z2=Z2, P=softmax(Z2))
    """),
    md("Backward in float32 (half the memory; the network is tiny but this is what we'd do on a GPU)."),
    code("""
    def backward(X, Y, params, cache):
        f32 = np.float32
        X_, Y_ = X.astype(f32), Y.astype(f32)
        A1, P = cache["A1"].astype(f32), cache["P"].astype(f32)
        W2 = params["W2"].astype(f32)
        N = f32(X.shape[0])
        dZ2 = (P - Y_) / N
        dW2 = dZ2.T @ A1
        db2 = dZ2.sum(axis=0)
        dZ1 = (dZ2 @ W2) * A1 * (1 - A1)
        dW1 = dZ1.T @ X_
        db1 = dZ1.sum(axis=0)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    """),
    code("""
    %%time
    X = np.random.randn(300, 5); Y = np.eye(4)[np.random.randint(0, 4, 300)]
    params = {"W1": np.random.randn(16, 5) * 0.3, "b1": np.zeros(16), "W2": np.random.randn(4, 16) * 0.3, "b2": np.zeros(4)}
    hist = []
    for _ in range(100):
        c = forward(X, params)
        hist.append(cross_entropy(c["Z2"], Y))
        g = backward(X, Y, params, c)
        for k in params:
            params[k] = params[k] - 0.5 * g[k]
    plt.plot(hist); plt.show()
    """, FIG, out("CPU times: user 40 ms, sys: 1 ms, total: 41 ms\nWall time: 40.5 ms\n")),
]

NOTEBOOKS["softmax_ce/nb_transposed_weights.ipynb"] = [
    md("# Softmax classifier — backprop\n$dW = A^T dZ$ (like in the lecture's column convention)."),
    code("import numpy as np"),
    code("""
    def softmax(Z):
        e = np.exp(Z - Z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def cross_entropy(Z, Y):
        m = Z.max(1, keepdims=True)
        logsumexp = m + np.log(np.exp(Z - m).sum(1, keepdims=True))
        return float(-(Y * (Z - logsumexp)).sum() / Z.shape[0])

    def softmax_ce_grad(Z, Y):
        return (softmax(Z) - Y) / Z.shape[0]
    """),
    code("""
    def forward(X, params):
        Z1 = X @ params['W1'].T + params['b1']
        A1 = 1 / (1 + np.exp(-Z1))
        Z2 = A1 @ params['W2'].T + params['b2']
        return {'Z1': Z1, 'A1': A1, 'Z2': Z2, 'P': softmax(Z2)}

    def backward(X, Y, params, cache):
        A1 = cache['A1']
        dZ2 = (cache['P'] - Y) / X.shape[0]
        dW2 = A1.T @ dZ2
        db2 = dZ2.sum(0)
        dA1 = dZ2 @ params['W2']
        dZ1 = dA1 * A1 * (1 - A1)
        dW1 = X.T @ dZ1
        db1 = dZ1.sum(0)
        return {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}
    """),
    code("""
    X = np.random.randn(6, 4); Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    params = {'W1': np.random.randn(5, 4), 'b1': np.zeros(5), 'W2': np.random.randn(3, 5), 'b2': np.zeros(3)}
    grads = backward(X, Y, params, forward(X, params))
    for k in grads:
        print(k, grads[k].shape, params[k].shape)
    """, out("W1 (4, 5) (5, 4)\nb1 (5,) (5,)\nW2 (5, 3) (3, 5)\nb2 (3,) (3,)\n")),
    code("assert grads['W1'].shape == params['W1'].shape", err("AssertionError", "")),
]

NOTEBOOKS["softmax_ce/nb_scipy_softmax.ipynb"] = [
    md("# Softmax CE with scipy helpers"),
    code("""
    import numpy as np
    from scipy.special import softmax as sp_softmax, logsumexp
    """),
    code("""
    def softmax(Z):
        return sp_softmax(Z, axis=1)

    def cross_entropy(Z, Y):
        return float(np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)))

    def softmax_ce_grad(Z, Y):
        return (softmax(Z) - Y) / Z.shape[0]
    """),
    code("""
    def forward(X, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = 1.0 / (1.0 + np.exp(-Z1))
        Z2 = A1 @ params["W2"].T + params["b2"]
        return {"Z1": Z1, "A1": A1, "Z2": Z2, "P": softmax(Z2)}
    """),
    md("Backward uses the cached probabilities."),
    code("""
    def backward(X, Y, params, cache):
        n = X.shape[0]
        dZ2 = (cache["P"] - Y) / n
        grads = {"W2": dZ2.T @ cache["A1"], "b2": dZ2.sum(axis=0)}
        dZ1 = (dZ2 @ params["W2"]) * cache["A1"] * (1 - cache["A1"])
        grads["W1"] = dZ1.T @ X
        grads["b1"] = dZ1.sum(axis=0)
        return grads
    """),
    code("""
    Z = np.array([[2.0, 1.0, 0.1]])
    print(softmax(Z), cross_entropy(Z, np.array([[1.0, 0, 0]])))
    """, out("[[0.659 0.2424 0.0986]] 0.417\n")),
]

# =============================================================================== gradient_descent

NOTEBOOKS["gradient_descent/nb_slides_example_plots.ipynb"] = [
    md("""
    # Gradient descent
    The lecture example $f(x_1, x_2) = x_1^2 + x_1x_2 + 4x_2^2$ from $x^0 = (3, 3)$.
    """),
    code("""
    %matplotlib inline
    import numpy as np
    import matplotlib.pyplot as plt
    from IPython.display import display
    """),
    code("""
    def quadratic(x, A, b):
        return 0.5 * x @ A @ x - b @ x

    def quadratic_grad(x, A, b):
        return 0.5 * (A + A.T) @ x - b
    """),
    code("""
    def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
        x = x0.copy()
        history = [x.copy()]
        for k in range(max_iters):
            g = grad(x)
            if np.linalg.norm(g) < tol:
                break
            x_new = x - lr * g
            history.append(x_new)
            f_old, f_new = f(x), f(x_new)
            if not np.isfinite(f_new) or abs(f_new - f_old) < tol:
                break
            x = x_new
        return np.array(history)
    """),
    code("""
    A = np.array([[2., 1.], [1., 8.]])
    b = np.zeros(2)
    f = lambda x: quadratic(x, A, b)
    g = lambda x: quadratic_grad(x, A, b)
    x0 = np.array([3., 3.])
    h1 = gradient_descent(f, g, x0, 0.1)
    h2 = gradient_descent(f, g, x0, 0.2)
    print(h1.shape, h2.shape)
    """, out("(49, 2) (26, 2)\n")),
    code("""
    xs = np.linspace(-4, 4, 200)
    G1, G2 = np.meshgrid(xs, xs)
    F = G1**2 + G1 * G2 + 4 * G2**2
    plt.contour(G1, G2, F, levels=20)
    plt.plot(h1[:, 0], h1[:, 1], "o-", label="lr=0.1")
    plt.plot(h2[:, 0], h2[:, 1], "x-", label="lr=0.2")
    plt.legend(); plt.gca().set_aspect("equal")
    plt.show()
    """, FIG),
    md("## Largest stable step and lr = 0.3"),
    code("""
    def max_stable_lr(A):
        S = (A + A.T) / 2
        return 2 / np.max(np.linalg.eigvalsh(S))

    print(max_stable_lr(A))
    """, out("0.24504\n")),
    code("""
    %%time
    h3 = gradient_descent(f, g, x0, 0.3)
    print(len(h3), h3[-1])
    display(h3[:4])
    """, out("949 [-1.3e+154  4.1e+154]\nCPU times: user 12 ms\n")),
    md("## Logistic regression with GD"),
    code("""
    def fit_logistic_regression(X, y, lr, epochs, grad_fn):
        N, D = X.shape
        w = np.zeros(D)
        b = 0.0
        losses = []
        for epoch in range(epochs):
            z = X @ w + b
            losses.append(np.mean(np.logaddexp(0, z) - y * z))
            dw, db = grad_fn(X, y, w, b)
            w = w - lr * dw
            b = b - lr * db
        return w, b, np.array(losses)
    """),
    code("""
    def my_grad(X, y, w, b):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        return X.T @ (p - y) / len(y), np.mean(p - y)

    Xl = np.random.randn(100, 2); yl = (Xl.sum(1) > 0).astype(float)
    w, b_, L = fit_logistic_regression(Xl, yl, 0.5, 50, my_grad)
    plt.plot(L); plt.show()
    """, FIG),
    code("print(history_03.shape)", err("NameError", "name 'history_03' is not defined")),
]

NOTEBOOKS["gradient_descent/nb_redefined_loop.ipynb"] = [
    md("# GD assignment"),
    code("!pip install numpy matplotlib --quiet"),
    code("import numpy as np"),
    code("""
    def quadratic(x, A, b):
        return float(0.5 * np.dot(x, np.dot(A, x)) - np.dot(b, x))

    def quadratic_grad(x, A, b):
        return 0.5 * np.dot(A + A.T, x) - b

    def max_stable_lr(A):
        lam = np.linalg.eigvalsh(0.5 * (A + A.T))
        return float(2.0 / lam[-1])
    """),
    md("First try: the loop from the recap slide."),
    code("""
    def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
        x = x0
        history = [x0]
        x_new = x - lr * grad(x)
        history.append(x_new)
        while abs(f(x_new) - f(x)) > tol:
            x = x_new
            x_new = x - lr * grad(x)
            history.append(x_new)
        return np.array(history)
    """),
    code("""
    A = np.array([[2., 1.], [1., 8.]]); b = np.zeros(2)
    hist = gradient_descent(lambda x: quadratic(x, A, b), lambda x: quadratic_grad(x, A, b), np.array([3., 3.]), 0.1)
    print(len(hist) - 1, "steps")
    """, out("48 steps\n")),
    md("""
    The recap loop has no cap on the iterations and always takes a first step, even at the
    minimum. Rewritten to follow the rule in the instructions exactly (gradient test before the
    step, change of f and non-finite f after it, at most `max_iters` steps):
    """),
    code("""
    def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
        x = np.array(x0, dtype=float)
        history = [x.copy()]
        fx = f(x)
        it = 0
        while it < max_iters:
            g = grad(x)
            if np.linalg.norm(g) < tol:
                break
            x_new = x - lr * g
            history.append(x_new.copy())
            f_new = f(x_new)
            if not np.isfinite(f_new) or abs(f_new - fx) < tol:
                break
            x, fx = x_new, f_new
            it += 1
        return np.array(history)
    """),
    code("""
    def fit_logistic_regression(X, y, lr, epochs, grad_fn):
        w = np.zeros(X.shape[1]); b = 0.0
        losses = np.zeros(epochs)
        for e in range(epochs):
            z = X.dot(w) + b
            losses[e] = np.mean(np.logaddexp(0, z) - y * z)
            dw, db = grad_fn(X, y, w, b)
            w -= lr * dw
            b -= lr * db
        return w, b, losses
    """),
    code("""
    for lr in (0.1, 0.2):
        h = gradient_descent(lambda x: quadratic(x, A, b), lambda x: quadratic_grad(x, A, b), np.array([3., 3.]), lr)
        print(lr, h.shape)
    """, out("0.1 (49, 2)\n0.2 (26, 2)\n")),
]

NOTEBOOKS["gradient_descent/nb_later_broken_redefinition.ipynb"] = [
    md("# Gradient descent"),
    code("""
    import numpy as np
    import matplotlib.pyplot as plt
    """),
    code("""
    def quadratic(x, A, b):
        return 0.5 * x.dot(A).dot(x) - b.dot(x)

    def quadratic_grad(x, A, b):
        S = (A + A.T) / 2
        return S.dot(x) - b

    def max_stable_lr(A):
        return 2.0 / np.linalg.eigvalsh((A + A.T) / 2).max()

    def fit_logistic_regression(X, y, lr, epochs, grad_fn):
        w, b, losses = np.zeros(X.shape[1]), 0.0, []
        for _ in range(epochs):
            z = X @ w + b
            losses.append(np.mean(np.logaddexp(0.0, z) - y * z))
            dw, db = grad_fn(X, y, w, b)
            w, b = w - lr * dw, b - lr * db
        return w, b, np.array(losses)
    """),
    code("""
    def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
        x = x0.copy()
        hist = [x0.copy()]
        for _ in range(max_iters):
            g = grad(x)
            if np.linalg.norm(g) < tol:
                break
            x_new = x - lr * g
            hist.append(x_new)
            if not np.isfinite(f(x_new)) or abs(f(x_new) - f(x)) < tol:
                break
            x = x_new
        return np.array(hist)
    """),
    code("""
    A = np.array([[2., 1.], [1., 8.]]); b0 = np.zeros(2)
    h = gradient_descent(lambda x: quadratic(x, A, b0), lambda x: quadratic_grad(x, A, b0), np.array([3., 3.]), 0.1)
    plt.plot(h[:, 0], h[:, 1], ".-"); plt.show()
    print(len(h))
    """, FIG, out("49\n")),
    md("""
    Simpler version: convergence means the gradient is (almost) zero, so that is the only test I
    need; I keep the check for blowing up.
    """),
    code("""
    def gradient_descent(f, grad, x0, lr, tol=1e-8, max_iters=10_000):
        x = x0.copy()
        hist = [x0.copy()]
        for _ in range(max_iters):
            g = grad(x)
            if np.linalg.norm(g) < tol:
                break
            x = x - lr * g
            hist.append(x)
            if not np.isfinite(f(x)):
                break
        return np.array(hist)
    """),
    code("""
    h = gradient_descent(lambda x: quadratic(x, A, b0), lambda x: quadratic_grad(x, A, b0), np.array([3., 3.]), 0.1)
    print(len(h))
    """, out("90\n")),
]
