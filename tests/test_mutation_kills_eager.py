"""Behaviour of the eager fast paths that mutation testing found untested (tools/mutation.py).

Each test pins down what a one-frame path (`symgrad.eager.tensor`'s `_getitem`, `_binary`,
`_unary`...) or the backward walk must do that the general path does, against PyTorch."""

import numpy as np
import pytest

import symgrad

torch = pytest.importorskip("torch")


def test_a_slice_bounded_by_a_tensor_reads_the_bound_at_the_forward():
    """x[t:4] with a 0-d tensor t takes t's value when it runs (index_of's `_bound`), as
    torch does: writing into t afterwards changes neither the result nor the gradient."""
    x = symgrad.arange(6.0).requires_grad_()
    tx = torch.arange(6.0).requires_grad_()
    t, tt = symgrad.tensor(1), torch.tensor(1)
    y, ty = x[t:4], tx[tt:4]
    t.add_(1)
    tt.add_(1)
    y.sum().backward()
    ty.sum().backward()
    assert y.tolist() == ty.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert y.grad_fn.name() == ty.grad_fn.name() == "SliceBackward0"


def _counting_general_paths(monkeypatch) -> list:
    """Every op that reaches `Tensor._apply` or a registered method the shortcuts fall back
    to (`tensor._GENERAL`), by name, in the list returned."""
    from symgrad.eager import tensor as tensor_module
    from symgrad.eager.tensor import Tensor

    seen: list = []
    apply_ = Tensor.__dict__["_apply"].__func__

    def counting(cls, op, args, params, name):
        seen.append(op.name)
        return apply_(cls, op, args, params, name)

    monkeypatch.setattr(Tensor, "_apply", classmethod(counting))
    for key, method in list(tensor_module._GENERAL.items()):
        if isinstance(method, property):
            continue

        def general(*args, _key=key, _method=method, **kwargs):
            seen.append(_key)
            return _method(*args, **kwargs)
        monkeypatch.setitem(tensor_module._GENERAL, key, general)
    return seen


FAST = {  # plain tensors of one dtype and Python numbers that keep it: the one-frame paths
    "x + y": lambda lib, x, y, i: x + y,
    "x * 2.0": lambda lib, x, y, i: x * 2.0,
    "2.0 * x": lambda lib, x, y, i: 2.0 * x,
    "3 * x": lambda lib, x, y, i: 3 * x,
    "i + i": lambda lib, x, y, i: i + i,
    "i * 2": lambda lib, x, y, i: i * 2,
    "2 * i": lambda lib, x, y, i: 2 * i,
    "i.neg()": lambda lib, x, y, i: i.neg(),
    "x.mul(y)": lambda lib, x, y, i: x.mul(y),
    "x.exp()": lambda lib, x, y, i: x.exp(),
    "x.sum()": lambda lib, x, y, i: x.sum(),
    "x.sum(1)": lambda lib, x, y, i: x.sum(1),
    "x.reshape(4, 3)": lambda lib, x, y, i: x.reshape(4, 3),
    "x.view(12)": lambda lib, x, y, i: x.view(12),
    "x.T": lambda lib, x, y, i: x.T,
    "x.t()": lambda lib, x, y, i: x.t(),
    "x.transpose(0, 1)": lambda lib, x, y, i: x.transpose(0, 1),
    "x.transpose(-1, 0)": lambda lib, x, y, i: x.transpose(-1, 0),
    "x.unsqueeze(1)": lambda lib, x, y, i: x.unsqueeze(1),
    "x.unsqueeze(-1)": lambda lib, x, y, i: x.unsqueeze(-1),
    "x.expand(2, 3, 4)": lambda lib, x, y, i: x.expand(2, 3, 4),
    "x[1]": lambda lib, x, y, i: x[1],
    "x[-1]": lambda lib, x, y, i: x[-1],
    "x[0:2]": lambda lib, x, y, i: x[0:2],
    "x[::2]": lambda lib, x, y, i: x[::2],
    "x[1:]": lambda lib, x, y, i: x[1:],
}


@pytest.mark.parametrize("spelling", list(FAST))
def test_plain_tensors_take_the_one_frame_paths_with_torchs_values(spelling, monkeypatch):
    """The fast paths are what plain tensors of one dtype run (none reaches `_apply` or the
    registered method), and give torch's values, dtype and node."""
    rng = np.random.default_rng(1)
    a, b = rng.uniform(1.0, 2.0, (3, 4)), rng.uniform(1.0, 2.0, (3, 4))
    k = np.arange(12).reshape(3, 4)
    fn = FAST[spelling]
    want = fn(torch, torch.tensor(a, requires_grad=True), torch.tensor(b), torch.tensor(k))
    x, y, i = symgrad.tensor(a, requires_grad=True), symgrad.tensor(b), symgrad.tensor(k)
    seen = _counting_general_paths(monkeypatch)
    got = fn(symgrad, x, y, i)
    assert seen == []
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    assert (got.grad_fn is None) == (want.grad_fn is None)
    if want.grad_fn is not None:
        assert got.grad_fn.name() == want.grad_fn.name()


def test_other_operands_reach_the_general_path(monkeypatch):
    """The counter above sees the general path: mixed dtypes, an int tensor with a float,
    keywords, a Parameter's shortcuts."""
    x = symgrad.ones(3, 4, dtype=symgrad.float64)
    seen = _counting_general_paths(monkeypatch)
    x + symgrad.ones(3, 4, dtype=symgrad.float32)
    symgrad.arange(3) * 2.0
    x.transpose(dim0=0, dim1=1)
    symgrad.nn.Parameter(x).transpose(0, 1)
    assert seen == ["add", "mul", "transpose", "transpose", "transpose"]


def test_a_node_that_gets_no_gradient_releases_each_input_once():
    """A custom Function's backward giving None for an input: that input's node gets no
    gradient and is skipped, its own input (x, with two more consumers) waits for exactly
    one consumer less, so x's gradient is the sum of the other two paths, as torch's."""

    def run(lib):
        class NoGradForFirst(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * b

            @staticmethod
            def backward(ctx, g):
                return None, g

        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([4.0, 5.0, 6.0], requires_grad=True)
        h = (x * 2).sin()  # reaches the loss only through the first input: no gradient
        loss = NoGradForFirst.apply(h, y).sum() + x.exp().sum() + (x * 3).sum()
        loss.backward()
        return x.grad.numpy(), y.grad.numpy()

    (gx, gy), (tx, ty) = run(symgrad), run(torch)
    np.testing.assert_allclose(gx, tx, rtol=1e-6)
    np.testing.assert_allclose(gx, np.exp([1.0, 2.0, 3.0]) + 3, rtol=1e-6)
    np.testing.assert_array_equal(gy, ty)
