"""A two-layer ReLU network from torch.nn trained with torch.optim.Adam.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
nn.Sequential(nn.Linear, nn.ReLU, nn.Linear), nn.MSELoss(reduction='sum'),
optim.Adam(model.parameters(), lr=...), optimizer.zero_grad()/step(), printing the model
and the shapes of its parameters; the data are random, so only the structure and the
falling loss are compared.
"""
import torch
from torch import nn

n, d_in, d_hidden, d_out = 128, 10, 32, 3
x = torch.randn(n, d_in)
y = torch.randn(n, d_out)

model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))
print(model)
print([tuple(p.shape) for p in model.parameters()])
loss_fn = nn.MSELoss(reduction="sum")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(300):
    loss = loss_fn(model(x), y)
    if epoch % 30 == 0:
        print(epoch, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
