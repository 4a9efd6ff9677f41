"""A two-layer ReLU network over minibatches stacked in one tensor, the gradient from
autograd.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.bmm against weights broadcast with .expand, .clamp(min=0), requires_grad=True on
leaves made by arithmetic (.requires_grad_()), loss.backward(), `with torch.no_grad():`,
in-place updates and `.grad.zero_()`; the data are random, so only the structure and the
falling loss are compared.
"""
import torch

batches, per_batch, d_in, d_hidden, d_out = 4, 32, 6, 16, 2
x = torch.randn(batches, per_batch, d_in)
y = torch.randn(batches, per_batch, d_out)
w1 = (torch.randn(d_in, d_hidden) * d_in ** -0.5).requires_grad_()
w2 = (torch.randn(d_hidden, d_out) * d_hidden ** -0.5).requires_grad_()

step = 2e-3
for t in range(300):
    hidden = torch.bmm(x, w1.expand(batches, d_in, d_hidden)).clamp(min=0)
    out = hidden.bmm(w2.expand(batches, d_hidden, d_out))
    loss = (out - y).pow(2).sum()
    if t % 30 == 0:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= step * w1.grad
        w2 -= step * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
print("grad_fn of the loss:", type(loss.grad_fn).__name__)
