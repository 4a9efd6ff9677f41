"""A tour of autograd: leaves that need gradients, the graph's grad_fn nodes, backward,
retain_graph, accumulation, detach, no_grad and vector-Jacobian products.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
requires_grad=True, printing type(t.grad_fn).__name__ and next_functions, loss.backward(),
.grad, backward(retain_graph=True) accumulating, .detach(), torch.no_grad(), .requires_grad,
backward(gradient=...) on a non-scalar output. Everything after the first "True" line
prints no random number.
"""
import torch

# a one-layer linear model on a random input
inputs = torch.rand(4, 3)
targets = torch.tensor([0.5, -1.0, 2.0, 0.0])
weight = torch.randn(3, requires_grad=True)
bias = torch.zeros(1, requires_grad=True)
scores = inputs @ weight + bias
loss = ((scores - targets) ** 2).mean()
print(f"scores grad_fn: {type(scores.grad_fn).__name__}")
print(f"loss grad_fn: {type(loss.grad_fn).__name__}")
loss.backward()
print(f"weight.grad: {weight.grad}")
print(f"bias.grad: {bias.grad}")
print(weight.grad.shape == weight.shape)

# from here on every number is fixed
w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
x = torch.tensor([2.0, 1.0, 4.0])
f = (w * x).sum() ** 2
print(f"f = {f.item()}, grad_fn {type(f.grad_fn).__name__}")
f.backward(retain_graph=True)
print(f"df/dw: {w.grad}")
f.backward()                      # the graph was kept: the gradient accumulates
print(f"twice: {w.grad}")
w.grad = None

# detach and no_grad: results outside the graph
z = w * 3
print(z.requires_grad, z.is_leaf)
z_alone = z.detach()
print(z_alone.requires_grad, z_alone.is_leaf)
with torch.no_grad():
    quiet = w * 3
print(quiet.requires_grad)

# a non-scalar output: backward takes the vector v of v^T J
v_in = torch.eye(3, requires_grad=True)
out = (v_in + 2).pow(2).t()
print(f"out grad_fn: {type(out.grad_fn).__name__}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"v^T J:\n{v_in.grad}")
out.backward(torch.full_like(out, 0.5), retain_graph=True)
print(f"accumulated:\n{v_in.grad}")
v_in.grad.zero_()
out.backward(gradient=torch.ones_like(out))
print(f"after zero_():\n{v_in.grad}")
