"""A polynomial whose degree is drawn afresh at every forward pass: autograd follows
whatever Python control flow ran, reusing one parameter several times.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises a
custom nn.Module with a Python loop of random length (random.randint), one parameter
reused across iterations, optim.SGD with momentum and nn.MSELoss(reduction='sum'); the
start is random, so only the structure is compared.
"""
import math
import random

import torch


class RandomDegree(torch.nn.Module):
    """a + b x + c x^2 + d x^3 + e (x^4 + ... + x^k) with k drawn from 3..5 per call."""

    def __init__(self):
        super().__init__()
        self.low = torch.nn.Parameter(torch.randn(4))   # a, b, c, d
        self.high = torch.nn.Parameter(torch.randn(()))  # e, shared by every higher power

    def forward(self, x):
        a, b, c, d = self.low
        y = a + b * x + c * x ** 2 + d * x ** 3
        for k in range(4, random.randint(4, 6)):
            y = y + self.high * x ** k
        return y


xs = torch.linspace(-math.pi, math.pi, 2000)
ys = torch.sin(xs)
model = RandomDegree()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1.5e-8, momentum=0.9)
for t in range(2000):
    loss = criterion(model(xs), ys)
    if t % 200 == 0:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
a, b, c, d = model.low.tolist()
print(f"Result: y = {a} + {b} x + {c} x^2 + {d} x^3 + {model.high.item()} (x^4 + x^5)")
