"""A two-layer network whose ReLU is a custom autograd Function that saves its mask.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.autograd.Function with ctx.save_for_backward of a boolean tensor, a backward
multiplying by it, `.apply`, the `@` operator, torch.matmul and `w.grad = None`; the data
are random, so only the structure and the falling loss are compared.
"""
import torch


class Rectify(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        keep = z > 0
        ctx.save_for_backward(keep)
        return z * keep

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return grad * keep


n, d_in, d_hidden, d_out = 64, 10, 16, 2
inputs = torch.randn(n, d_in)
targets = torch.randn(n, d_out)
w_in = torch.randn(d_in, d_hidden, requires_grad=True)
w_out = torch.randn(d_hidden, d_out, requires_grad=True)

rate = 1e-4
for i in range(400):
    act = Rectify.apply(inputs @ w_in)
    prediction = torch.matmul(act, w_out)
    loss = (prediction - targets).pow(2).sum()
    if i % 50 == 0:
        print(i, loss.item())
    loss.backward()
    with torch.no_grad():
        for w in (w_in, w_out):
            w -= rate * w.grad
            w.grad = None
