"""Least-squares cubic for sin(x) with plain tensors and a gradient worked out by hand.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.linspace, x.pow(k), torch.stack, Tensor.mm and .t(), .item(), in-place updates
(`-=`); fixed starting values, so the printed losses can be compared with PyTorch's.
"""
import math

import torch

dtype = torch.float32
xs = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
target = torch.sin(xs).unsqueeze(1)               # a column, (2000, 1)
features = torch.stack([xs.pow(k) for k in range(4)], dim=1)  # (2000, 4): 1, x, x^2, x^3

coef = torch.zeros(4, 1, dtype=dtype)             # start from the zero polynomial
step_size = 1e-6
for step in range(2000):
    guess = features.mm(coef)
    residual = guess - target
    sse = residual.pow(2).sum().item()
    if step % 200 == 199:
        print(step, sse)
    # d(sum r^2)/d coef = X^T (2 r)
    coef -= step_size * features.t().mm(2.0 * residual)

c0, c1, c2, c3 = (coef[k, 0].item() for k in range(4))
print(f"Result: y = {c0} + {c1} x + {c2} x^2 + {c3} x^3")
