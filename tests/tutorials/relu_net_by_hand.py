"""A two-layer ReLU network fitted to random data, forward and backward written by hand.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.randn with a dtype, Tensor.mm, .mv, .t(), torch.outer, .clamp(min=0),
masked assignment `grad_h[h < 0] = 0`, .item() and in-place updates; the data are random,
so only the structure and the falling loss are compared.
"""
import torch

dtype = torch.float32
samples, features, hidden = 128, 8, 16
x = torch.randn(samples, features, dtype=dtype)
y = torch.randn(samples, dtype=dtype)
w1 = torch.randn(features, hidden, dtype=dtype) / features ** 0.5
w2 = torch.randn(hidden, dtype=dtype) / hidden ** 0.5

lr = 2e-3
for t in range(400):
    h = x.mm(w1)                      # (samples, hidden)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mv(w2)            # (samples,)
    loss = (y_pred - y).pow(2).sum().item()
    if t % 40 == 0:
        print(t, loss)

    grad_y = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mv(grad_y)
    grad_h = torch.outer(grad_y, w2)  # through h_relu.mv(w2)
    grad_h[h < 0] = 0                 # through the ReLU
    grad_w1 = x.t().mm(grad_h)

    w1 -= lr * grad_w1
    w2 -= lr * grad_w2
print("final", loss)
