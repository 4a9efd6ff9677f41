"""Train a small classifier in eager mode: PyTorch code, run on symgrad.

Three interleaved spirals in the plane (300 points, 3 classes) are separated by a
two-hidden-layer MLP, 2-64-64-3 with ReLU, trained full-batch with cross-entropy and
`torch.optim.Adam`. It shows the eager face of symgrad doing the whole PyTorch training
loop: leaf parameters with `requires_grad=True`, a forward pass through
`torch.nn.functional`, `optimizer.zero_grad(); loss.backward(); optimizer.step()`, and
evaluation under `torch.no_grad()`. The loss printed every 50 epochs falls from about
1.1 (chance, ln 3) and the final training accuracy is printed at the end.

The data and the initial weights come from a seeded NumPy generator rather than
`torch.manual_seed`, so that the script is bit-for-bit the same starting point whichever
library `torch` names: replace the import with `import torch` and it runs on PyTorch
(tests/test_examples.py does exactly that to check the first steps agree).

    python examples/train_mlp.py
"""

import math

import numpy as np

import symgrad as torch

F = torch.nn.functional


def make_spirals(points_per_class=100, classes=3, seed=0):
    """`classes` interleaved spiral arms in 2-D: features (N, 2) float32, labels (N,) int64."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for k in range(classes):
        radius = np.linspace(0.0, 1.0, points_per_class)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), points_per_class)
        angle = angle + 0.2 * rng.standard_normal(points_per_class)
        features.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(points_per_class, k))
    return np.concatenate(features).astype(np.float32), np.concatenate(labels).astype(np.int64)


def init_linear(fan_in, fan_out, rng):
    """Weight (fan_out, fan_in) and bias (fan_out,), as nn.Linear initialises them:
    uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)]."""
    bound = 1.0 / math.sqrt(fan_in)
    weight = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
    bias = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    return [torch.tensor(weight, requires_grad=True), torch.tensor(bias, requires_grad=True)]


def init_mlp(sizes=(2, 64, 64, 3), seed=1):
    """The parameters [w1, b1, w2, b2, ...] of an MLP with the given layer sizes."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params += init_linear(fan_in, fan_out, rng)
    return params


def mlp(x, params):
    """Linear layers with ReLU between them; returns the logits."""
    *hidden, w_out, b_out = params
    for w, b in zip(hidden[::2], hidden[1::2]):
        x = F.relu(F.linear(x, w, b))
    return F.linear(x, w_out, b_out)


def main(epochs=500, lr=0.01, log_every=50, seed=0):
    """Train for `epochs` full-batch steps; return (losses, final training accuracy).

    `losses[i]` is the loss computed before step i + 1. `log_every=0` prints nothing.
    """
    features, labels = make_spirals(seed=seed)
    x, y = torch.tensor(features), torch.tensor(labels)
    params = init_mlp(seed=seed + 1)
    optimizer = torch.optim.Adam(params, lr=lr)

    losses = []
    for epoch in range(1, epochs + 1):
        loss = F.cross_entropy(mlp(x, params), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log_every and (epoch == 1 or epoch % log_every == 0):
            print(f"epoch {epoch:5d}  loss {loss.item():.4f}")

    with torch.no_grad():
        predicted = mlp(x, params).argmax(dim=1)
        accuracy = (predicted == y).float().mean().item()
    if log_every:
        print(f"training accuracy: {accuracy:.1%} ({len(labels)} points, chance {1 / 3:.1%})")
    return losses, accuracy


if __name__ == "__main__":
    main()
