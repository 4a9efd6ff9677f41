"""Least-squares cubic for sin(x) as a custom nn.Module holding four nn.Parameters.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
subclassing nn.Module (super().__init__(), nn.Parameter(torch.randn(())), forward called
through model(x)), a method of one's own, optim.SGD over model.parameters(), and
nn.MSELoss(reduction='sum'); the start is random, so only the structure is compared.
"""
import math

import torch


class Cubic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = torch.nn.Parameter(torch.randn(()))
        self.c1 = torch.nn.Parameter(torch.randn(()))
        self.c2 = torch.nn.Parameter(torch.randn(()))
        self.c3 = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.c0 + x * (self.c1 + x * (self.c2 + x * self.c3))

    def describe(self):
        return f"y = {self.c0.item()} + {self.c1.item()} x + {self.c2.item()} x^2 + {self.c3.item()} x^3"


xs = torch.linspace(-math.pi, math.pi, 2000)
ys = torch.sin(xs)
model = Cubic()
mse = torch.nn.MSELoss(reduction="sum")
opt = torch.optim.SGD(model.parameters(), lr=2e-6)
for t in range(2000):
    loss = mse(model(xs), ys)
    if t % 200 == 199:
        print(t, loss.item())
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"Result: {model.describe()}")
