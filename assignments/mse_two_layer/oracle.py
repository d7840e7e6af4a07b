"""torch.autograd oracle for the two-layer MSE network (float64): every gradient comes from
autograd (a loss's .backward() or a vector-Jacobian product), never from the formulas the
students are asked to derive."""
import torch


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _forward(X, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = torch.sigmoid(Z1)
    Z2 = A1 @ params["W2"].T + params["b2"]
    return Z1, A1, Z2


def _mse(Y_hat, Y):
    # 1/(2N) sum_p ||y_hat_p - y_p||^2: sum over all entries, divided by 2N (not by N*K)
    return torch.nn.functional.mse_loss(Y_hat, Y, reduction="sum") / (2 * Y.shape[0])


def forward(X, params):
    Z1, A1, Z2 = _forward(_t(X), {k: _t(v) for k, v in params.items()})
    return {"Z1": Z1.numpy(), "A1": A1.numpy(), "Z2": Z2.numpy()}


def mse_loss(Y_hat, Y):
    return _mse(_t(Y_hat), _t(Y)).item()


def output_grad(Y_hat, Y):
    Y_hat = _t(Y_hat, grad=True)
    _mse(Y_hat, _t(Y)).backward()
    return Y_hat.grad.numpy()


def linear_backward(dZ, A_prev, W):
    # Z = A_prev W^T + b; the bias value does not change the gradients, so b = 0.
    A, Wt = _t(A_prev, grad=True), _t(W, grad=True)
    b = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    dA, dW, db = torch.autograd.grad(A @ Wt.T + b, (A, Wt, b), grad_outputs=_t(dZ))
    return dA.numpy(), dW.numpy(), db.numpy()


def sigmoid_backward(dA, Z):
    Z = _t(Z, grad=True)
    (dZ,) = torch.autograd.grad(torch.sigmoid(Z), (Z,), grad_outputs=_t(dA))
    return dZ.numpy()


def backward(X, Y, params, cache):
    # Recomputes the forward pass from X and params (the grader's cache is that same forward).
    p = {k: _t(v, grad=True) for k, v in params.items()}
    _, _, Z2 = _forward(_t(X), p)
    _mse(Z2, _t(Y)).backward()
    return {k: p[k].grad.numpy() for k in ("W1", "b1", "W2", "b2")}
