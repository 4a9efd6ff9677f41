"""PyTorch's "Automatic Differentiation with torch.autograd" tutorial, run on symgrad.

Every snippet is the tutorial's, unchanged but for `import symgrad as torch`. Run it with
`python examples/autograd_tutorial.py`; inspect the compiled gradient of `loss` with

    symgrad inspect examples/autograd_tutorial.py:loss \
        --arg x=f32[5] --arg y=f32[3] --arg w=f32[5,3] --arg b=f32[3] --wrt w,b
"""

import symgrad as torch


def loss(x, y, w, b):
    """The tutorial's one-layer network and its binary cross-entropy loss."""
    z = torch.matmul(x, w) + b
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def main():
    # Tensors, Functions and Computational graph
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    # Computing Gradients
    loss.backward()
    print(w.grad)
    print(b.grad)

    # Disabling Gradient Tracking
    z = torch.matmul(x, w) + b
    print(z.requires_grad)

    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)

    z = torch.matmul(x, w) + b
    z_det = z.detach()
    print(z_det.requires_grad)

    # Optional Reading: Tensor Gradients and Jacobian Products
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")


if __name__ == "__main__":
    main()
