"""Eager programs as other people write them: the third table of `benchmarks.eager_overhead`.

The programs table times issue 13's own programs. These are written the way users of
PyTorch write theirs, each in its own style, to show the cost of what our own programs
do not exercise: `nn` modules and their losses, an optimizer's step, a Python loop over
time steps, views, slices, broadcasting and `expand`, a convolution and pooling. Each is
built once per library (`lib` is `torch` or `symgrad`, and the same code runs on both); a
step returns what is checked (the loss and the gradients, or parameters after an update).
With no NumPy reference written by hand, symgrad's first step is checked against
PyTorch's, so the table needs PyTorch; it has no targets: its ratios say where eager mode
stands.

    python -m benchmarks.eager_overhead --only others [--quick]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Thunk = Callable[[], Any]


def _f32(lib: Any, a: np.ndarray, requires_grad: bool = False) -> Any:
    return lib.tensor(np.asarray(a, np.float32), requires_grad=requires_grad)


def logistic_regression(lib: Any) -> Thunk:
    """`nn.Linear`, `BCEWithLogitsLoss`, SGD: a training step on 128 rows of 20 features."""
    g = np.random.default_rng(0)
    X, y = _f32(lib, g.standard_normal((128, 20))), _f32(lib, g.random(128) > 0.5)
    model = lib.nn.Linear(20, 1)
    with lib.no_grad():
        model.weight.copy_(_f32(lib, 0.1 * g.standard_normal((1, 20))))
        model.bias.zero_()
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = lib.nn.BCEWithLogitsLoss()

    def step() -> tuple:
        opt.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        return loss, model.weight.grad, model.bias.grad
    return step


def rnn_loop(lib: Any) -> Thunk:
    """An Elman RNN unrolled by a Python loop: 20 steps of `tanh(h @ W + x_t @ U)`."""
    g = np.random.default_rng(1)
    W = _f32(lib, 0.2 * g.standard_normal((16, 16)), True)
    U = _f32(lib, 0.2 * g.standard_normal((8, 16)), True)
    xs = _f32(lib, g.standard_normal((20, 4, 8)))

    def step() -> tuple:
        W.grad = U.grad = None
        h = lib.zeros(4, 16)
        for t in range(xs.shape[0]):
            h = lib.tanh(h @ W + xs[t] @ U)
        loss = (h ** 2).mean()
        loss.backward()
        return loss, W.grad, U.grad
    return step


def attention(lib: Any) -> Thunk:
    """Scaled dot-product attention on (2, 8, 16) with a `LayerNorm` after it."""
    g = np.random.default_rng(2)
    q, k, v = (_f32(lib, g.standard_normal((2, 8, 16)), True) for _ in range(3))
    norm = lib.nn.LayerNorm(16)

    def step() -> tuple:
        q.grad = k.grad = v.grad = None
        scores = q @ k.transpose(-2, -1) / 4.0
        out = norm(lib.softmax(scores, dim=-1) @ v)
        loss = (out.tanh() * q).sum()  # not |out|^2: LayerNorm makes that a constant
        loss.backward()
        return loss, q.grad, k.grad, v.grad
    return step


def elementwise_and_views(lib: Any) -> Thunk:
    """Elementwise functions on 100 float64 values, a `view`, a reduction over a dim, `max`."""
    x = lib.tensor(np.random.default_rng(3).standard_normal(100), requires_grad=True)

    def step() -> tuple:
        x.grad = None
        y = x.sin() * x.cos() + lib.exp(-x * x) - lib.sigmoid(x) * 2
        z = y.view(10, 10).sum(dim=0).abs().max()
        z.backward()
        return z, x.grad
    return step


def sequential_adam(lib: Any) -> Thunk:
    """`nn.Sequential` of Linear, ReLU, Linear; `cross_entropy`; Adam's step."""
    g = np.random.default_rng(4)
    net = lib.nn.Sequential(lib.nn.Linear(32, 64), lib.nn.ReLU(), lib.nn.Linear(64, 10))
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(_f32(lib, 0.2 * g.standard_normal(tuple(p.shape))))
    X, labels = _f32(lib, g.standard_normal((32, 32))), lib.tensor(g.integers(0, 10, 32))
    opt = lib.optim.Adam(net.parameters(), lr=1e-3)

    def step() -> tuple:
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(net(X), labels)
        loss.backward()
        opt.step()
        return (loss, *(p.grad for p in net.parameters()))
    return step


def slices_and_broadcasts(lib: Any) -> Thunk:
    """Finite differences by slicing, a row times a column, `reshape(-1)[::3]`, `expand`."""
    x = _f32(lib, np.random.default_rng(5).standard_normal((10, 10)), True)

    def step() -> tuple:
        x.grad = None
        diffs = x[1:, :] - x[:-1, :]
        cross = x[:, 2] * x[3]
        loss = diffs.reshape(-1)[::3].sum() + cross.unsqueeze(0).expand(4, 10).mean()
        loss.backward()
        return loss, x.grad
    return step


def small_cnn(lib: Any) -> Thunk:
    """`nn.Conv2d`, ReLU, `max_pool2d`, `nn.Linear`, cross-entropy, SGD: an MNIST-sized step
    on 16 images of 28x28 (the windows the convolution and the pooling read, and their
    adjoints, on arrays of 100,000 values)."""
    g = np.random.default_rng(6)
    conv, fc = lib.nn.Conv2d(1, 8, 3, padding=1), lib.nn.Linear(8 * 14 * 14, 10)
    with lib.no_grad():
        for p in (*conv.parameters(), *fc.parameters()):
            p.copy_(_f32(lib, 0.1 * g.standard_normal(tuple(p.shape))))
    X, labels = _f32(lib, g.standard_normal((16, 1, 28, 28))), lib.tensor(g.integers(0, 10, 16))
    opt = lib.optim.SGD([*conv.parameters(), *fc.parameters()], lr=0.01)
    F = lib.nn.functional

    def step() -> tuple:
        opt.zero_grad()
        h = F.max_pool2d(F.relu(conv(X)), 2)
        loss = F.cross_entropy(fc(h.flatten(1)), labels)
        loss.backward()
        opt.step()
        return loss, conv.weight.grad, fc.weight.grad
    return step


def lstm_cell_loop(lib: Any) -> Thunk:
    """An LSTM cell written by hand, 10 steps: one matmul pair per step, its gates by `chunk`."""
    g = np.random.default_rng(7)
    Wx = _f32(lib, 0.1 * g.standard_normal((16, 64)), True)
    Wh = _f32(lib, 0.1 * g.standard_normal((16, 64)), True)
    xs = _f32(lib, g.standard_normal((10, 8, 16)))

    def step() -> tuple:
        Wx.grad = Wh.grad = None
        h = c = lib.zeros(8, 16)
        for t in range(xs.shape[0]):
            i, f, cell, o = (xs[t] @ Wx + h @ Wh).chunk(4, dim=1)
            c = f.sigmoid() * c + i.sigmoid() * cell.tanh()
            h = o.sigmoid() * c.tanh()
        loss = h.pow(2).sum()
        loss.backward()
        return loss, Wx.grad, Wh.grad
    return step


OTHERS: dict[str, Callable[[Any], Thunk]] = {
    "logistic regression: nn.Linear, BCEWithLogitsLoss, SGD": logistic_regression,
    "RNN, 20 steps in a Python loop": rnn_loop,
    "attention + LayerNorm, (2, 8, 16)": attention,
    "elementwise, view, sum(dim), max on 100 f64": elementwise_and_views,
    "nn.Sequential MLP, cross_entropy, Adam": sequential_adam,
    "slices, broadcasting, expand on (10, 10)": slices_and_broadcasts,
    "CNN: Conv2d, ReLU, max_pool2d, Linear on 16x1x28x28, SGD": small_cnn,
    "LSTM cell by hand, 10 steps, gates by chunk": lstm_cell_loop,
}
