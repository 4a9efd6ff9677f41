"""Behaviour of the kernels, printers and optimizer steps that mutation testing found
untested (tools/mutation.py): which path runs where the values alone cannot tell, and the
dtype arithmetic of a step."""

import numpy as np
import pytest

import symgrad
from symgrad.ops import kernels


def _no_numpy_where(monkeypatch) -> list:
    """Calls of `np.where` from here on, in the list returned."""
    calls: list = []
    where = np.where

    def counting(*args, **kwargs):
        calls.append(len(args))
        return where(*args, **kwargs)
    monkeypatch.setattr(np, "where", counting)
    return calls


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8"])
@pytest.mark.parametrize("zero_first", [True, False])
def test_the_mask_kernel_serves_either_zero_branch_without_numpys_where(dtype, zero_first, monkeypatch):
    """`where(c, 0, y)` and `where(c, y, 0)` of 512 elements or more are the bit mask, for
    either branch (NumPy's `where` is not called), with NumPy's bits; fewer elements take
    NumPy's `where`."""
    rng = np.random.default_rng(3)
    cases = (((32, 16), True), ((kernels.MASKED_FROM,), True), ((kernels.MASKED_FROM - 1,), False))
    for shape, masked in cases:
        y = (rng.standard_normal(shape) * 10).astype(dtype)
        if np.dtype(dtype).kind == "f":
            y.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
        c = rng.random(shape) < 0.5
        args = (c, 0, y) if zero_first else (c, y, 0)
        want = np.where(*args)
        calls = _no_numpy_where(monkeypatch)
        got = kernels.bitwise_where(*args)
        monkeypatch.undo()
        assert (calls == []) is masked, (shape, calls)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8))


def test_plain_sgd_casts_a_gradient_of_another_dtype_before_the_step():
    """A float64 (or int) `.grad` assigned to a float32 parameter: the step is float32's
    `p - lr * g32`, the bits the general step (momentum's, with momentum 0 written as the
    Optimizer's) gives, not a float64 product rounded once."""
    rng = np.random.default_rng(4)
    data = rng.standard_normal(4096).astype(np.float32)
    for grad in (rng.standard_normal(4096), np.arange(4096) - 2048):
        p = symgrad.nn.Parameter(symgrad.tensor(data.copy()))
        p.grad = symgrad.tensor(grad)
        symgrad.optim.SGD([p], lr=0.1).step()
        g32 = grad.astype(np.float32)
        want = data - np.float32(0.1) * g32
        assert p.dtype == symgrad.float32
        np.testing.assert_array_equal(p.detach().numpy(), want)
        q = symgrad.nn.Parameter(symgrad.tensor(data.copy()))
        q.grad = symgrad.tensor(grad)
        opt = symgrad.optim.SGD([q], lr=0.1)
        symgrad.optim.Optimizer._update_group(opt, opt.param_groups[0])
        np.testing.assert_array_equal(q.detach().numpy(), want)
