"""Least-squares cubic for sin(x), the gradient from autograd.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises scalar
tensors with requires_grad=True, loss.backward(), `with torch.no_grad():`, in-place
`p -= lr * p.grad`, clearing gradients with `p.grad = None`; fixed starting values, so the
printed losses can be compared with PyTorch's.
"""
import math

import torch

xs = torch.linspace(-math.pi, math.pi, 2000)
ys = torch.sin(xs)

# four coefficients, each a leaf of its own
params = [torch.tensor(v, requires_grad=True) for v in (0.5, -0.5, 0.25, -0.25)]
lr = 2e-6
for it in range(2000):
    c0, c1, c2, c3 = params
    fit = c0 + c1 * xs + c2 * xs ** 2 + c3 * xs ** 3
    loss = (fit - ys).pow(2).sum()
    if it % 250 == 249:
        print(it, loss.item())
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None

print("Result: y = {} + {} x + {} x^2 + {} x^3".format(*(p.item() for p in params)))
