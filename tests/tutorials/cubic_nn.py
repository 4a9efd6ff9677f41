"""Least-squares cubic for sin(x) as a torch.nn model trained by hand-written SGD.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
nn.Sequential, nn.Linear (its random initialisation), nn.Flatten(0, 1),
nn.MSELoss(reduction='sum'), model.zero_grad(), model.parameters(), indexing a Sequential
and the weight/bias of a Linear; the start is random, so only the structure is compared.
"""
import math

import torch
from torch import nn

xs = torch.linspace(-math.pi, math.pi, 2000)
ys = torch.sin(xs)
powers = torch.tensor([1, 2, 3])
inputs = xs.unsqueeze(-1).pow(powers)             # (2000, 3) by broadcasting

net = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
criterion = nn.MSELoss(reduction="sum")

rate = 2e-6
for epoch in range(2000):
    loss = criterion(net(inputs), ys)
    if epoch % 250 == 0:
        print(epoch, loss.item())
    net.zero_grad()
    loss.backward()
    with torch.no_grad():
        for weight in net.parameters():
            weight -= rate * weight.grad

linear = net[0]
w = linear.weight[:, 0].item(), linear.weight[:, 1].item(), linear.weight[:, 2].item()
print(f"Result: y = {linear.bias.item()} + {w[0]} x + {w[1]} x^2 + {w[2]} x^3")
