"""Category: forbidden libraries. Attack: the direct route, `import torch` and let autograd
compute every gradient (refused by the static scan as forbidden_import, and by the import
blocker at run time)."""
import numpy as np
import torch


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def sigmoid(z):
    return torch.sigmoid(torch.tensor(z)).numpy()


def predict_proba(X, w, b):
    return torch.sigmoid(torch.tensor(X) @ torch.tensor(w) + b).numpy()


def bce_loss(X, y, w, b):
    z = torch.tensor(X) @ torch.tensor(w) + b
    return float(torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y)))


def grad_logits(X, y, w, b):
    z = _t(X @ w + b)
    torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y)).backward()
    return z.grad.numpy()


def gradients(X, y, w, b):
    wt, bt = _t(w), _t(np.array(b))
    torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ wt + bt, torch.tensor(y)).backward()
    return wt.grad.numpy(), float(bt.grad)
