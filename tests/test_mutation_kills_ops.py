"""Behaviour of the kernels, printers and optimizer steps that mutation testing found
untested (tools/mutation.py): which path runs where the values alone cannot tell, and the
dtype arithmetic of a step."""

import re

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


@pytest.mark.parametrize("size", [kernels.MASKED_FROM - 1, kernels.MASKED_FROM])
@pytest.mark.parametrize("zero_first", [True, False])
def test_the_compiled_where_prints_the_mask_kernel_from_its_threshold(size, zero_first):
    """The printed `where` with a zero branch: the mask kernel on `MASKED_FROM` elements or
    more, NumPy's `where` below (where the kernel's mask costs more than it saves) and for
    two array branches; NumPy's values either way."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(size), rng.standard_normal(size)

    def zero_branch(v):
        return np.where(v < 0, 0.0, v) if zero_first else np.where(v < 0, v, 0.0)

    def both_arrays(v, w):
        return np.where(v < 0, w, v)

    f, g = symgrad.compile(zero_branch), symgrad.compile(both_arrays)
    np.testing.assert_array_equal(f(x), np.where(x < 0, 0.0, x) if zero_first else np.where(x < 0, x, 0.0))
    np.testing.assert_array_equal(g(x, y), np.where(x < 0, y, x))
    source, both = _code(f.source(x)), _code(g.source(x, y))
    assert ("bitwise_where(" in source) is (size >= kernels.MASKED_FROM)
    assert _numpys_where(source) is (size < kernels.MASKED_FROM)
    assert "bitwise_where(" not in both and _numpys_where(both)


def _numpys_where(code: str) -> bool:
    """Whether `code` calls NumPy's `where` (`np.where(` or an imported `where(`)."""
    return re.search(r"(?<!bitwise_)\bwhere\(", code) is not None


def _code(source: str) -> str:
    """A printed function's statements, without its comments (which quote the user's lines)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("reduce", [np.max, np.min])
def test_compiled_extremes_over_a_middle_or_first_axis_are_numpys(reduce, keepdims):
    """max and min over axis 1 of a 3-D array, and over axis 0 of a matrix with short
    rows, are not the short-row form (the columns of a transpose): NumPy's values, shape."""
    rng = np.random.default_rng(6)
    for shape, axis in (((4, 5, 6), 1), ((3, 2, 40), 1), ((6, 10), 0), ((6, 10), -1)):
        x = rng.standard_normal(shape)
        got = symgrad.compile(lambda v, a=axis: reduce(v, axis=a, keepdims=keepdims))(x)
        want = reduce(x, axis=axis, keepdims=keepdims)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("columns", "transposed"), [(1, True), (32, True), (33, False)])
def test_the_short_row_form_is_printed_up_to_32_columns(columns, transposed):
    """The max of each row is printed as the columns' max of the contiguous transpose for
    rows of up to `reduce.SHORT_ROWS` elements, as NumPy's row max above; NumPy's values."""
    from symgrad.ops import reduce as reduce_module

    assert reduce_module.SHORT_ROWS == 32
    x = np.random.default_rng(7).standard_normal((64, columns))
    f = symgrad.compile(lambda v: np.max(v, axis=1))
    np.testing.assert_array_equal(f(x), np.max(x, axis=1))
    assert ("ascontiguousarray(" in _code(f.source(x))) is transposed


@pytest.mark.parametrize("left", [True, False])
def test_a_transposed_operand_read_for_its_values_gets_its_gradient_without_a_copy(left):
    """`a.t() @ y` and `x @ w.t()` with both operands requiring grad (the transposed one is
    kept with its values, not as a shape): its gradient is still made in its layout, so
    `.grad` keeps the transpose of the product as it is (no copy), C-ordered, torch's values."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    a, b = (rng.standard_normal((5, 4)), rng.standard_normal((5, 3))) if left else \
        (rng.standard_normal((8, 6)), rng.standard_normal((5, 6)))

    def f(u, v):
        return (u.t() @ v if left else u @ v.t()).tanh().sum()

    for _ in range(3):  # traced once, then replayed
        sa, sb = symgrad.tensor(a, requires_grad=True), symgrad.tensor(b, requires_grad=True)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        f(sa, sb).backward()
        f(ta, tb).backward()
        np.testing.assert_allclose(sa.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(sb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)
        transposed = (sa if left else sb).grad._data
        assert transposed.flags.c_contiguous and not transposed.flags.owndata
