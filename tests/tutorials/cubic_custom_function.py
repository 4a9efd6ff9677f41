"""Least-squares cubic for sin(x) through a custom autograd Function that evaluates a
polynomial by Horner's rule and writes its own backward.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.autograd.Function (staticmethod forward/backward, ctx.save_for_backward,
ctx.saved_tensors, returning None for an input, .apply) and `p.grad.zero_()`; fixed
starting values, so the printed losses can be compared with PyTorch's.
"""
import math

import torch


class Horner(torch.autograd.Function):
    """p(x) = coeffs[0] + coeffs[1] x + ... evaluated from the highest power down."""

    @staticmethod
    def forward(ctx, x, coeffs):
        ctx.save_for_backward(x, coeffs)
        out = torch.zeros_like(x)
        for k in range(coeffs.shape[0] - 1, -1, -1):
            out = out * x + coeffs[k]
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, coeffs = ctx.saved_tensors
        # dp/dcoeffs[k] = x^k; x is data here, so it gets no gradient
        grad_coeffs = torch.stack([(grad_out * x.pow(k)).sum() for k in range(coeffs.shape[0])])
        return None, grad_coeffs


xs = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float32)
ys = torch.sin(xs)
coeffs = torch.tensor([0.0, 0.5, 0.0, -0.05], requires_grad=True)
evaluate = Horner.apply

learning_rate = 1e-6
for n in range(2000):
    pred = evaluate(xs, coeffs)
    loss = ((pred - ys) ** 2).sum()
    if n % 100 == 99:
        print(n, loss.item())
    loss.backward()
    with torch.no_grad():
        coeffs -= learning_rate * coeffs.grad
        coeffs.grad.zero_()

print("Result: y = {:.6g} + {:.6g} x + {:.6g} x^2 + {:.6g} x^3".format(*coeffs.tolist()))
