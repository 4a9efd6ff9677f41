"""`windows` and its adjoint `unwindows`: the primitive pair that unfold, sliding_window_view,
convolution and pooling read their windows through.

The kernels are checked against an integer-array gather and `np.add.at` (what the windows
were before), as each other's adjoints, on every layout; the op's gradients against central
finite differences in float64, eager against compiled, first and second order, and against
PyTorch where it is installed; the batching rule through `jacobian`. The bit mask `where`
that a max's gradient now reaches with a broadcast branch gives NumPy's `where` bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad.ops import kernels

RNG = np.random.default_rng(7)
FD = {"rtol": 1e-6, "atol": 1e-8}


def _gather(x: np.ndarray, axis: int, width: int, step: int, dilation: int) -> np.ndarray:
    count = (x.shape[axis] - dilation * (width - 1) - 1) // step + 1
    return np.take(x, np.arange(count)[:, None] * step + np.arange(width) * dilation, axis=axis)


def _scatter(ct: np.ndarray, axis: int, length: int, step: int, dilation: int) -> np.ndarray:
    count, width = ct.shape[axis], ct.shape[axis + 1]
    out = np.zeros(ct.shape[:axis] + (length,) + ct.shape[axis + 2:], ct.dtype)
    where = np.arange(count)[:, None] * step + np.arange(width) * dilation
    np.add.at(np.moveaxis(out, axis, 0), where, np.moveaxis(ct, (axis, axis + 1), (0, 1)))
    return out


CASES = [  # shape, axis, width, step, dilation
    ((10,), 0, 3, 1, 1), ((10,), 0, 3, 2, 1), ((10,), 0, 2, 2, 1), ((11,), 0, 3, 3, 2),
    ((4, 9), 1, 4, 1, 2), ((9, 4), 0, 2, 3, 1), ((2, 3, 8), 2, 8, 1, 1), ((2, 7, 3), 1, 1, 2, 1),
    ((3, 12, 2), 1, 3, 4, 3), ((5, 6), 1, 2, 2, 1),
]


@pytest.mark.parametrize("layout", ["C", "F", "reversed", "sliced"])
@pytest.mark.parametrize("shape, axis, width, step, dilation", CASES)
def test_windows_are_the_gather_as_a_read_only_view(shape, axis, width, step, dilation, layout):
    base = RNG.standard_normal(tuple(2 * n for n in shape))
    x = base[tuple(slice(None, None, 2) for _ in shape)] if layout == "sliced" else base[
        tuple(slice(n) for n in shape)].copy()
    x = np.asfortranarray(x) if layout == "F" else x[..., ::-1] if layout == "reversed" else x
    got = kernels.windows(x, axis, width, step, dilation)
    want = _gather(x, axis, width, step, dilation)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert np.shares_memory(got, x) and not got.flags.writeable


@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("shape, axis, width, step, dilation", CASES)
def test_unwindows_is_the_scatter_add_and_the_adjoint(shape, axis, width, step, dilation, contiguous):
    x = RNG.standard_normal(shape)
    win = kernels.windows(x, axis, width, step, dilation)
    ct = RNG.standard_normal(win.shape)
    if not contiguous:  # the same values through a transposed buffer (a gradient's layout)
        ct = np.ascontiguousarray(ct.T).T
    got = kernels.unwindows(ct, axis, shape[axis], step, dilation)
    np.testing.assert_allclose(got, _scatter(ct, axis, shape[axis], step, dilation), rtol=1e-13, atol=1e-13)
    y = RNG.standard_normal(shape)
    assert np.isclose(np.sum(kernels.windows(y, axis, width, step, dilation) * ct), np.sum(y * got))
    # windows side by side, in a contiguous buffer: the adjoint is the same elements, a view
    side_by_side = dilation == 1 and step == width and win.shape[axis] * width == shape[axis]
    assert np.shares_memory(got, ct) == (side_by_side and contiguous)
    small = kernels.unwindows(ct.astype(np.float32), axis, shape[axis], step, dilation)
    assert small.dtype == np.float32 and np.allclose(small, got, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("width, step, dilation", [(0, 1, 1), (2, 0, 1), (2, 1, 0), (3, 1, 3)])
def test_the_kernel_refuses_windows_that_do_not_fit(width, step, dilation):
    with pytest.raises(ValueError, match=rf"windows of {width} elements {dilation} apart \(span -?\d+\) "
                                         rf"every {step} do not fit axis 1 of shape \(2, 6\)"):
        kernels.windows(np.zeros((2, 6)), 1, width, step, dilation)


def test_windows_that_do_not_fit_name_the_axis_and_shape():
    x = symgrad.tensor(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"windows of 3 elements 2 apart \(span 5\) every 1 do not fit "
                                         r"axis 0 of shape \(2, 5\)"):
        x._windows(0, 3, 1, 2)
    with pytest.raises(ValueError, match="do not fit"):
        x._windows(1, 2, 0, 1)


def _differences(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


SPELLINGS = {  # the same windows, as different people reach them
    "unfold": lambda t: (t.unfold(1, 3, 2) ** 2 * t.unfold(1, 3, 2).sin()).sum(),
    "windows": lambda t: (t._windows(1, 3, 2, 1) ** 2 * t._windows(1, 3, 2, 1).sin()).sum(),
    "sliding_window_view": lambda t: (np.lib.stride_tricks.sliding_window_view(t, 3, axis=1)[:, ::2] ** 2
                                      * np.lib.stride_tricks.sliding_window_view(t, 3, axis=1)[:, ::2].sin()
                                      ).sum(),
}


def _closed(x: np.ndarray) -> float:
    w = _gather(x, 1, 3, 2, 1)
    return float((w ** 2 * np.sin(w)).sum())


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_eager_gradient_of_every_spelling_matches_finite_differences(spelling):
    x = RNG.standard_normal((3, 9))
    t = symgrad.tensor(x, requires_grad=True)
    y = SPELLINGS[spelling](t)
    y.backward()
    np.testing.assert_allclose(y.item(), _closed(x), rtol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), _differences(_closed, x), **FD)


def test_compiled_gradient_matches_eager_and_finite_differences():
    def f(x):
        w = np.lib.stride_tricks.sliding_window_view(x, (2, 3))
        return (w.sum(axis=(2, 3)) ** 2 * np.cos(w[..., 0, 0])).sum()
    x = RNG.standard_normal((5, 7))
    got = symgrad.grad(f)(x)
    t = symgrad.tensor(x, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-12)

    def value(v):
        w = _gather(_gather(v, 0, 2, 1, 1), 2, 3, 1, 1)  # (4, 2, 5, 3): axes (0, 1) and (2, 3) windows
        return float((w.sum(axis=(1, 3)) ** 2 * np.cos(w[:, 0, :, 0])).sum())
    np.testing.assert_allclose(got, _differences(value, x), **FD)


def test_second_order_through_windows_and_their_adjoint():
    x = RNG.standard_normal((2, 8))
    t = symgrad.tensor(x, requires_grad=True)
    y = (t.unfold(1, 3, 1).prod(dim=-1)).sum()
    (g,) = symgrad.autograd.grad(y, t, create_graph=True)
    v = RNG.standard_normal(x.shape)
    (hv,) = symgrad.autograd.grad((g * symgrad.tensor(v)).sum(), t)

    def grad_at(z):
        s = symgrad.tensor(z, requires_grad=True)
        (s.unfold(1, 3, 1).prod(dim=-1)).sum().backward()
        return s.grad.numpy()
    eps = 1e-6
    np.testing.assert_allclose(hv.numpy(), (grad_at(x + eps * v) - grad_at(x - eps * v)) / (2 * eps), **FD)


def test_jacobian_batches_windows_and_their_adjoint():
    def f(x):
        return (np.lib.stride_tricks.sliding_window_view(x, 3, axis=-1) ** 2).sum(axis=-1)
    x = RNG.standard_normal((2, 6))
    jac = symgrad.jacobian(f)(x)
    eps = 1e-6
    want = np.stack([(f(x + eps * e.reshape(x.shape)) - f(x - eps * e.reshape(x.shape))) / (2 * eps)
                     for e in np.eye(x.size)], axis=-1).reshape(f(x).shape + x.shape)
    np.testing.assert_allclose(jac, want, **FD)
    hess = symgrad.hessian(lambda x: f(x).sum())(x)
    assert hess.shape == x.shape * 2 and np.allclose(hess, hess.reshape(x.size, x.size).T.reshape(hess.shape))


@pytest.mark.parametrize("shape, kernel, options", [
    ((2, 3, 9, 8), 3, {"stride": 2}),  # overlapping windows: the adjoint adds
    ((2, 3, 8, 8), 2, {}),  # side by side: the adjoint is a reshape
    ((1, 2, 9, 9), (2, 3), {"stride": (3, 1), "dilation": (2, 1), "padding": 1}),
])
def test_conv_and_pools_input_gradients_as_torch(shape, kernel, options):
    torch = pytest.importorskip("torch")
    x = RNG.permutation(int(np.prod(shape))).reshape(shape).astype(float)  # no ties in a window
    w = RNG.standard_normal((4, shape[1]) + ((kernel,) * 2 if isinstance(kernel, int) else kernel))
    conv_options = {k: v for k, v in options.items()}
    results = []
    for ns in (symgrad, torch):
        t, k = ns.tensor(x, requires_grad=True), ns.tensor(w, requires_grad=True)
        F = ns.nn.functional
        y = (F.conv2d(t, k, **conv_options).tanh().sum() + F.max_pool2d(t, kernel, **options).sin().sum()
             + F.avg_pool2d(t, kernel, stride=options.get("stride")).cos().sum())
        y.backward()
        results.append((y.item(), t.grad.numpy(), k.grad.numpy()))
    (y, gx, gw), (ty, tgx, tgw) = results
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(gx, tgx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gw, tgw, rtol=1e-9, atol=1e-12)


def test_max_pool_gradient_eager_compiled_and_finite_differences():
    F = symgrad.nn.functional
    x = RNG.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0

    def f(v):
        return (F.max_pool2d(v, 3, stride=2) ** 2).sum()
    t = symgrad.tensor(x, requires_grad=True)
    f(t).backward()
    compiled = symgrad.grad(f)(x)
    np.testing.assert_allclose(compiled, t.grad.numpy(), rtol=1e-12)

    def value(v):
        w = _gather(_gather(v, 2, 3, 2, 1), 4, 3, 2, 1)
        return float((w.max(axis=(3, 5)) ** 2).sum())
    np.testing.assert_allclose(t.grad.numpy(), _differences(value, x), **FD)


@pytest.mark.parametrize("branch", [(4, 1, 5), (1, 5), (5,), (2, 1, 4, 8, 5), ()])
@pytest.mark.parametrize("zero_first", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_bit_mask_where_with_a_broadcast_branch_is_numpys_where(branch, zero_first, dtype):
    for cond in (RNG.random((3, 4, 8, 5)) < 0.5, RNG.random((4, 8, 5)) < 0.5):  # above and below the size
        b = (100 * RNG.standard_normal(branch)).astype(dtype)
        if b.dtype.kind == "f" and b.ndim:
            b.flat[0], b.flat[-1] = np.nan, -0.0
        zero = 0.0 if b.dtype.kind == "f" else 0
        args = (cond, zero, b) if zero_first else (cond, b, zero)
        want, got = np.where(*args), kernels.bitwise_where(*args)
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def test_a_max_gradient_takes_the_bit_mask_and_stays_numpys():
    def f(x):
        return (x.max(axis=1, keepdims=True) * np.arange(1.0, 5.0)[:, None]).sum()
    x = RNG.integers(0, 3, (4, 300)).astype(float)  # ties: the gradient splits among them
    source = symgrad.grad(f).source(x)
    assert "bitwise_where" in source and "np.where" not in source and "where(" not in source.replace(
        "bitwise_where(", "")
    want = (x == x.max(axis=1, keepdims=True)) * (np.arange(1.0, 5.0)[:, None]
                                                  / (x == x.max(axis=1, keepdims=True)).sum(1, keepdims=True))
    np.testing.assert_allclose(symgrad.grad(f)(x), want, rtol=1e-15)


def test_windows_on_the_array_api_back_end_equal_numpy():
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")

    def f(w, x):
        windows = np.lib.stride_tricks.sliding_window_view(x, 3, axis=1)[:, ::2]  # (rows, 3, 3)
        return (np.tanh(windows @ w) ** 2).sum()
    w, x = RNG.standard_normal(3), RNG.standard_normal((8, 7))
    want = symgrad.grad(f, argnums=(0, 1))(w, x)
    got = symgrad.grad(f, argnums=(0, 1), compute=True)(w, da.from_array(x, chunks=(4, 7)))
    for g, v in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), v, rtol=1e-12, atol=1e-14)
    source = symgrad.grad(f, argnums=(0, 1), backend="array_api").source(w, x)
    assert "windows(" in source and "unwindows(" in source
