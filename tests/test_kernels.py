"""The run-time kernels generated code imports (`sincos`, `erf`, `index_add`, `setitem`) and the
small rules around them: how index and sigmoid code is printed, reduction grad_fn names, the
gradients of max/min at ties and of prod at zeros, and the shapes of argmax, cat and permute.

Kernels are checked directly against NumPy and `math`, and through the two faces that reach
them: eager (against PyTorch with the `lib` fixture) and compiled (against closed forms,
finite differences and the generated source that shows which path ran).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numeric import differences

import symgrad
from symgrad.ops import OPS, apply, kernels

FLOATS = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _np(t) -> np.ndarray:
    """A symgrad or torch tensor (or array) as a NumPy array."""
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in units in the last place of b (float64)."""
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(b), np.finfo(np.float64).tiny))


# ---------------------------------------------------------------- erf

@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_kernel_keeps_a_float_dtype_and_matches_math_erf(dtype):
    """erf of a float array keeps its dtype; the values are math.erf's, rounded once."""
    x = np.array([-3.0, -0.5, 0.0, 1e-8, 0.75, 2.5, 6.0], dtype)
    out = kernels.erf(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, np.array([math.erf(v) for v in x.tolist()], dtype))


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_erf_kernel_of_integers_is_float64(dtype):
    """Integer and bool inputs promote to float64, as NumPy's ufuncs do: erf(1) is not 0 or 1."""
    x = np.array([0, 1, 2], dtype) if dtype is np.int64 else np.array([False, True])
    out = kernels.erf(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [math.erf(v) for v in x.astype(float).tolist()])


def test_erf_kernel_of_an_empty_and_a_0d_array():
    assert kernels.erf(np.zeros((0, 3), np.float32)).shape == (0, 3)
    assert kernels.erf(np.zeros((0, 3), np.float32)).dtype == np.float32
    assert float(kernels.erf(np.array(0.5))) == math.erf(0.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erf_eager_matches_torch(lib, dtype):
    """torch.erf and Tensor.erf: values, dtype and gradient 2/sqrt(pi) exp(-x^2)."""
    data = np.linspace(-2.5, 2.5, 11)
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    y = lib.erf(x)
    assert str(y.dtype).endswith(dtype)
    x.erf().sum().backward()
    want = np.array([math.erf(v) for v in data])
    tol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(_np(y), want, **tol)
    np.testing.assert_allclose(_np(x.grad), 2 / math.sqrt(math.pi) * np.exp(-data ** 2), **tol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_compiled_matches_math_erf_and_differences(dtype):
    def f(x):
        return symgrad.erf(x * 0.5)

    x = np.linspace(-3.0, 3.0, 13).astype(dtype)
    out = symgrad.compile(f)(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [math.erf(v * 0.5) for v in x.astype(float).tolist()], **TOL[dtype])
    x64 = x.astype(np.float64)
    (fd,) = differences(lambda v: np.sum(kernels.erf(v * 0.5)), [x64], [0])
    grad = symgrad.grad(lambda v: np.sum(f(v)))(x64)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


# ---------------------------------------------------------------- sincos

def test_sincos_within_4_ulp_in_every_quadrant():
    """Points all around the circle, next to multiples of pi/2, and up to the 2**19 limit."""
    rng = np.random.default_rng(0)
    k = np.arange(-40, 41)
    x = np.concatenate([
        rng.uniform(-10.0, 10.0, 2000), rng.uniform(-2.0**19, 2.0**19, 500),
        k * (np.pi / 2), np.nextafter(k * (np.pi / 2), np.inf), [2.0**19, -2.0**19, 1e-300, 5e-324],
    ])
    s, c = kernels.sincos(x)
    assert s.dtype == c.dtype == np.float64 and s.shape == c.shape == x.shape
    assert not np.shares_memory(s, c) and not np.shares_memory(s, x) and not np.shares_memory(c, x)
    assert _ulps(s, np.sin(x)).max() <= 4
    assert _ulps(c, np.cos(x)).max() <= 4


def test_sincos_keeps_the_sign_of_zero_and_the_shape():
    x = np.array([[0.0, -0.0], [np.pi, -np.pi]])
    s, c = kernels.sincos(x)
    assert s.shape == (2, 2)
    assert np.signbit(s[0, 1]) and not np.signbit(s[0, 0])
    np.testing.assert_array_equal(c[0], [1.0, 1.0])


def test_sincos_of_empty():
    s, c = kernels.sincos(np.zeros((0, 4)))
    assert s.shape == c.shape == (0, 4)


def test_sincos_far_and_nan_inputs_match_numpy_without_floating_point_warnings():
    """nan and |x| > 2**19 go to np.sin/np.cos; the fast path's casts of them raise nothing."""
    x = np.array([np.nan, 1e300, -1e300, -1e20, 2.0**19 + 1, 1e10, 0.5])
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s, c = kernels.sincos(x)
    np.testing.assert_array_equal(s[:-1], np.sin(x[:-1]))
    np.testing.assert_array_equal(c[:-1], np.cos(x[:-1]))
    with np.errstate(invalid="ignore"):
        s, c = kernels.sincos(np.array([np.inf, -np.inf, 1.0]))
    assert np.isnan(s[:2]).all() and np.isnan(c[:2]).all()
    assert _ulps(s[2:], np.sin([1.0])).max() <= 4


def test_compiled_sin_and_cos_of_one_big_float64_value_use_sincos():
    def f(x):
        return np.sum(np.sin(x) * np.cos(x) + np.sin(x))

    x = np.linspace(-7.0, 7.0, 5000)
    fn, df = symgrad.compile(f), symgrad.grad(f)
    assert "sincos(" in fn.source(x) and "sincos(" in df.source(x)
    np.testing.assert_allclose(fn(x), np.sum(np.sin(x) * np.cos(x) + np.sin(x)), atol=1e-11)
    np.testing.assert_allclose(fn(x + 1.0), np.sum(np.sin(x + 1) * np.cos(x + 1) + np.sin(x + 1)),
                               rtol=1e-12)
    np.testing.assert_allclose(df(x), np.cos(2 * x) + np.cos(x), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- index_add, setitem

def test_index_add_kernels_accumulate_repeated_indices():
    base = np.arange(5.0)
    ct = np.array([1.0, 10.0, 100.0, 1000.0])
    idx = np.array([0, 3, 3, -1])
    out = kernels.index_add(base, ct, (idx,))
    np.testing.assert_array_equal(out, [1.0, 1.0, 2.0, 113.0, 1004.0])
    np.testing.assert_array_equal(base, np.arange(5.0))  # index_add copies
    same = kernels.index_add_(base, ct, (idx,))
    assert same is base  # index_add_ writes into its argument
    np.testing.assert_array_equal(base, out)


def test_index_add_kernels_with_basic_keys():
    base = np.zeros((3, 4), np.float32)
    out = kernels.index_add(base, np.ones((3, 1), np.float32), (Ellipsis, slice(1, 2, None)))
    assert out.dtype == np.float32 and not base.any()
    np.testing.assert_array_equal(out[:, 1], 1.0)
    assert out.sum() == 3.0
    kernels.index_add_(base, np.array([1.0, 2.0, 3.0, 4.0], np.float32), (None, -1))
    np.testing.assert_array_equal(base[-1], [1.0, 2.0, 3.0, 4.0])
    assert base[:-1].sum() == 0.0
    zero_d = np.array(1.5)
    assert kernels.index_add_(zero_d, 2.0, ()) is zero_d and float(zero_d) == 3.5


@pytest.mark.parametrize("key, basic", [
    ((), True), ((1,), True), ((slice(None), -2), True), ((None, Ellipsis, slice(1, 3, 2)), True),
    ((np.int64(1),), False), ((np.array([0, 0]),), False), ((slice(None), [1, 1]), False),
    ((Ellipsis, np.array([True, False, False, True])), False),
])
def test_a_basic_key_is_told_apart_from_an_advanced_one(key, basic):
    """Ints, slices, None and Ellipsis never reach an element twice, so the scatter kernels
    write there; anything else (an array, a list, a NumPy integer) takes np.add.at."""
    assert kernels._basic(key) is basic
    ct = np.ones(np.zeros((2, 3, 4))[key].shape)
    out = kernels.scatter_add(ct, (2, 3, 4), key)
    want = np.zeros((2, 3, 4))
    np.add.at(want, key, ct)
    np.testing.assert_array_equal(out, want)


def test_setitem_kernel_writes_a_copy():
    x = np.arange(6.0).reshape(2, 3)
    out = kernels.setitem(x, 0.0, (Ellipsis, np.array([0, -1])))
    np.testing.assert_array_equal(out, [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]])
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_gradient_of_repeated_indices_adds_into_another_argument(dtype):
    """y[idx] with repeated and negative idx plus a term of y's shape: index_add of a copy of x."""
    idx = np.array([0, 1, 1, -1, 1])

    def f(x, y):
        return np.sum(y[idx] ** 2) + np.sum(y * x)

    x, y = np.linspace(-1.0, 1.0, 5).astype(dtype), np.arange(1.0, 6.0).astype(dtype)
    x0 = x.copy()
    df = symgrad.grad(f, argnums=1)
    assert "index_add(" in df.source(x, y)
    counts = np.bincount(idx % 5, minlength=5)
    got = df(x, y)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, x + 2 * counts * y, **TOL[dtype])
    np.testing.assert_array_equal(x, x0)  # the argument the gradient was added into is intact


@pytest.mark.parametrize("dtype", FLOATS)
def test_gradient_of_basic_keys_adds_in_place_into_a_temporary(lib, dtype):
    """A key of Ellipsis, None, a negative int and a slice: index_add_ into y**3's gradient."""
    data = np.arange(24.0).reshape(2, 3, 4) / 10

    def f(y):
        return (y[..., None, -1, 1:3] ** 2).sum() + (y ** 3).sum()

    want = 3 * data ** 2
    want[:, -1, 1:3] += 2 * data[:, -1, 1:3]
    y = lib.tensor(data, dtype=getattr(lib, np.dtype(dtype).name), requires_grad=True)
    f(y).backward()
    np.testing.assert_allclose(_np(y.grad), want, **TOL[dtype])
    df = symgrad.grad(f)
    arg = data.astype(dtype)
    assert "index_add_(" in df.source(arg)
    np.testing.assert_allclose(df(arg), want, **TOL[dtype])


def test_gradient_of_two_index_arrays_and_a_slice_matches_differences():
    rows, cols = np.array([0, 2, 2, -3]), np.array([1, 1, 1, 0])

    def f(x, y):
        return np.sum(np.sin(y[rows, 1:, cols])) + np.sum(x * y)

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    df = symgrad.grad(f, argnums=1)
    assert "index_add(" in df.source(x, y)
    np.testing.assert_allclose(df(x, y), differences(f, [x, y], [1])[0], rtol=1e-7, atol=1e-8)
    t = symgrad.tensor(y, requires_grad=True)
    f(symgrad.tensor(x), t).backward()
    np.testing.assert_allclose(df(x, y), _np(t.grad), rtol=1e-12)


def test_empty_index_in_generated_code():
    """`y[()]` and its adjoint print an empty key: `y[()]` and `scatter_add(..., ())`."""
    for shape in [(), (2, 3)]:
        y = np.arange(math.prod(shape), dtype=float).reshape(shape) + 1.0
        out = symgrad.compile(lambda v: v[()] * 2.0)(y)
        np.testing.assert_array_equal(out, y * 2.0)
        grad = symgrad.grad(lambda v: np.sum(v[()] ** 2))(y)
        np.testing.assert_array_equal(grad, 2 * y)


# ---------------------------------------------------------------- sigmoid printing

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("size, kernel", [(1, False), (127, False), (128, True), (3000, True)])
def test_compiled_sigmoid_switches_to_the_kernel_at_128_elements(dtype, size, kernel):
    """Below 128 elements sigmoid prints as exp(-logaddexp(0, -x)); from 128 the kernel runs."""
    def f(x):
        return symgrad.sigmoid(x)

    x = np.linspace(-800.0, 800.0, size).astype(dtype)
    fn = symgrad.compile(f)
    src = fn.source(x)
    assert ("logaddexp" not in src) is kernel
    assert ("import sigmoid" in src) is kernel
    with np.errstate(over="raise"):
        out = fn(x)
    assert out.dtype == dtype and out.shape == x.shape
    x64 = x.astype(np.float64)
    e = np.exp(-np.abs(x64))
    want = np.where(x64 >= 0, 1 / (1 + e), e / (1 + e))
    np.testing.assert_allclose(out, want, rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("size", [1, 127, 128, 3000])
def test_eager_sigmoid_equals_the_compiled_one_on_each_side_of_128(dtype, size):
    """The kernel eager mode runs computes as the printed code does: exp(-logaddexp(0, -x))
    below 128 elements (no errstate to pay), 1 / (1 + exp(-x)) from 128; the same bits."""
    x = np.linspace(-800.0, 800.0, size).astype(dtype)
    with np.errstate(over="raise"):
        eager = symgrad.tensor(x).sigmoid().numpy()
    compiled = symgrad.compile(symgrad.sigmoid)(x)
    np.testing.assert_array_equal(eager, compiled)
    assert eager.dtype == dtype


def test_the_sigmoid_kernel_of_integers_is_float64():
    for data in (np.arange(-3, 4), np.arange(300), np.array([True, False])):
        out = kernels.sigmoid(data)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, 1 / (1 + np.exp(-data.astype(np.float64))), rtol=1e-15)


def test_compiled_sigmoid_of_a_scalar():
    out = symgrad.compile(symgrad.sigmoid)(np.float64(0.25))
    np.testing.assert_allclose(out, 1 / (1 + math.exp(-0.25)), rtol=1e-15)


# ---------------------------------------------------------------- reductions: grad_fn names

@pytest.mark.parametrize("call, name", [
    (lambda x: x.sum(), "SumBackward0"),
    (lambda x: x.sum(0), "SumBackward1"),
    (lambda x: x.sum(-1, keepdim=True), "SumBackward1"),
    (lambda x: x.sum((0, 1), keepdim=True), "SumBackward1"),
    (lambda x: x.sum(dim=1), "SumBackward1"),
    (lambda x: x.prod(), "ProdBackward0"),
    (lambda x: x.prod(1), "ProdBackward1"),
    (lambda x: x.prod(0, keepdim=True), "ProdBackward1"),
])
def test_reduction_grad_fn_names_match_torch(lib, call, name):
    x = lib.ones(2, 3, requires_grad=True)
    assert call(x).grad_fn.name() == name
    assert call(x).grad_fn.__class__.__name__ == name


@pytest.mark.xfail(strict=True, reason="_name picks SumBackward0/ProdBackward0 whenever the dims "
                   "cover every axis; PyTorch says Backward1 whenever a dim is given")
@pytest.mark.parametrize("call, name", [
    (lambda x: x.sum(0), "SumBackward1"),
    (lambda x: x.prod(0), "ProdBackward1"),
])
def test_reduction_over_the_only_dim_given_by_dim_is_backward1(call, name):
    x = symgrad.ones(3, requires_grad=True)
    assert call(x).grad_fn.name() == name


# ---------------------------------------------------------------- max/min ties, prod zeros

TIES = np.array([[3.0, 1.0, 3.0, 3.0], [2.0, 2.0, 0.0, -1.0], [-1.0, -1.0, -1.0, -1.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", [
    lambda x: x.amax(1).sum(),
    lambda x: (x.amax(1, keepdim=True) * x).sum(),
    lambda x: x.amin(0).sum(),
    lambda x: x.amin((0, 1), keepdim=True).sum(),
    lambda x: x.amax(),
    lambda x: x.max(),
    lambda x: x.min(),
])
def test_max_min_share_the_gradient_among_ties_like_torch(lib, dtype, call):
    x = lib.tensor(TIES, dtype=getattr(lib, dtype), requires_grad=True)
    call(x).backward()
    torch = pytest.importorskip("torch")  # the reference, for the symgrad case too
    ref = torch.tensor(TIES, dtype=getattr(torch, dtype), requires_grad=True)
    call(ref).backward()
    np.testing.assert_allclose(_np(x.grad), ref.grad.numpy(), rtol=1e-6)


def test_compiled_max_min_ties_split_the_gradient():
    df = symgrad.grad(lambda x: np.sum(np.max(x, axis=1)) + np.min(x))
    want = np.array([[1 / 3, 0, 1 / 3, 1 / 3], [0.5, 0.5, 0.0, 0.0], [0.25] * 4])
    want[TIES == -1.0] += 0.2  # the global min -1 is shared by five entries
    np.testing.assert_allclose(df(TIES), want, rtol=1e-15)
    dk = symgrad.grad(lambda x: np.sum(np.amax(x, axis=0, keepdims=True) ** 2))
    col = TIES.max(axis=0)
    hits = TIES == col
    np.testing.assert_allclose(dk(TIES), np.where(hits, 2 * col / hits.sum(0), 0.0), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (1, True), (0, True)])
def test_prod_gradient_with_zeros_like_torch(lib, dtype, dim, keepdim):
    """Rows without zeros, with one zero and with two: d prod / d x_i = prod of the others."""
    data = np.array([[2.0, 3.0, 0.5], [0.0, 4.0, -2.0], [0.0, 5.0, 0.0]])
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    y = x.prod() if dim is None else x.prod(dim, keepdim=keepdim)
    (y * lib.tensor([1.5], dtype=getattr(lib, dtype))).sum().backward()
    others = np.array([[np.prod(np.delete(r, j)) for j in range(3)] for r in data])
    if dim is None:
        want = 1.5 * np.array([[np.prod(np.delete(data.ravel(), 3 * i + j)) for j in range(3)]
                               for i in range(3)])
    elif dim == 1:
        want = 1.5 * others
    else:
        want = 1.5 * np.array([[np.prod(np.delete(data[:, j], i)) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(_np(x.grad), want, rtol=1e-6)
    df = symgrad.grad(lambda v: np.sum(np.prod(v, axis=dim, keepdims=keepdim) * 1.5))
    np.testing.assert_allclose(df(data.astype(dtype)), want, rtol=1e-6)


# ---------------------------------------------------------------- argmax / argmin

ARG = np.array([[1.0, 5.0, 2.0], [5.0, 0.0, 3.0]])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": -1}, {"dim": 1, "keepdim": True},
                                    {"dim": 0, "keepdim": True}])
def test_arg_reductions_like_torch(lib, name, kwargs):
    out = getattr(lib.tensor(ARG), name)(**kwargs)
    np_kwargs = {"axis": kwargs.get("dim"), "keepdims": kwargs.get("keepdim", False)}
    want = getattr(np, name)(ARG, **np_kwargs)
    assert tuple(out.shape) == want.shape
    assert str(out.dtype).endswith("int64")
    np.testing.assert_array_equal(_np(out), want)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
def test_arg_shape_rule_matches_numpy(name, axis, keepdims):
    """The registry's shape and dtype rules agree with what NumPy's forward returns."""
    op = OPS[name]
    x = np.zeros((2, 3, 4))
    ax = None if axis is None else axis % 3
    want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert op.out_shape((x.shape,), {"axis": ax, "keepdims": keepdims}) == want.shape
    ax = None if axis is None else 1
    out = apply(op, symgrad.tensor(ARG), axis=ax, keepdims=keepdims)
    assert tuple(out.shape) == getattr(np, name)(ARG, axis=ax, keepdims=keepdims).shape
    assert out.dtype == symgrad.int64
    for dtype in FLOATS:
        assert op.out_dtype((np.zeros(3, dtype),), {"axis": 0, "keepdims": keepdims}) == np.int64


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_compiled_arg_reductions_match_numpy(name, axis):
    f = symgrad.compile(lambda x: getattr(np, name)(x, axis=axis))
    out = f(ARG)
    want = getattr(np, name)(ARG, axis=axis)
    assert out.dtype == np.int64 and np.shape(out) == want.shape
    np.testing.assert_array_equal(out, want)
    traced = str(symgrad.trace(lambda x: getattr(np, name)(x, axis=axis), ARG))
    assert f"i64[{want.shape[0] if want.shape else ''}] = {name}[" in traced


@pytest.mark.parametrize("dtype", FLOATS)
def test_compiled_gradient_through_an_argmax_index(dtype):
    """argmax's result is an int64 index: x[argmax(x)] routes the gradient to one element."""
    x = np.array([0.5, -1.0, 4.0, 2.0, 4.0], dtype)
    df = symgrad.grad(lambda v: v[np.argmax(v)] * 3.0 + v[np.argmin(v, axis=0)])
    np.testing.assert_array_equal(df(x), np.array([0.0, 1.0, 3.0, 0.0, 0.0], dtype))
    assert df(x).dtype == dtype


@pytest.mark.parametrize("face", ["eager", "numpy", "compiled"])
def test_arg_reduction_of_everything_keeps_dims(face):
    """With no dim, keepdim keeps every dim as 1, in NumPy and in PyTorch 2."""
    if face == "eager":
        out = symgrad.tensor(ARG).argmax(keepdim=True)
    elif face == "numpy":
        out = np.argmax(symgrad.tensor(ARG), keepdims=True)
    else:
        out = symgrad.compile(lambda x: np.argmin(x, keepdims=True))(ARG)
    assert tuple(np.shape(out)) == (1, 1)


# ---------------------------------------------------------------- cat, stack, permute

@pytest.mark.parametrize("shapes, dim", [
    ([(2, 3)], 1), ([(2, 3)], 0), ([(0, 3), (2, 3)], 0), ([(2, 1), (2, 0), (2, 4)], -1),
    ([(1,), (3,), (2,)], 0), ([(2, 3, 1), (2, 3, 2)], 2),
])
def test_cat_shapes_and_gradient_like_torch(lib, shapes, dim):
    rng = np.random.default_rng(2)
    datas = [rng.normal(size=s) for s in shapes]
    xs = [lib.tensor(d, requires_grad=True) for d in datas]
    out = lib.cat(xs, dim)
    want = np.concatenate(datas, axis=dim)
    assert tuple(out.shape) == want.shape
    np.testing.assert_array_equal(_np(out), want)
    w = rng.normal(size=want.shape)
    (out * lib.tensor(w)).sum().backward()
    bounds = np.cumsum([0] + [s[dim] for s in shapes])
    for x, lo, hi in zip(xs, bounds, bounds[1:]):
        np.testing.assert_array_equal(_np(x.grad), np.take(w, np.arange(lo, hi), axis=dim))


@pytest.mark.parametrize("shapes, dim", [
    ([(2, 3), (2, 4)], 0), ([(3, 3), (2, 4)], 1), ([(3, 3), (3, 3), (2, 3)], 1),
    ([(2, 4), (2, 3), (2, 3)], 0),
])
def test_cat_of_mismatched_sizes_raises_like_torch(lib, shapes, dim):
    xs = [lib.ones(*s) for s in shapes]
    with pytest.raises(RuntimeError, match=f"(?i)sizes of tensors must match except in dimension {dim}"):
        lib.cat(xs, dim)


@pytest.mark.parametrize("shapes", [[(2,), (2, 3)], [(2, 3), (2, 3, 1)], [(2, 3, 1), (2, 3)]])
def test_cat_of_different_ranks_raises(lib, shapes):
    with pytest.raises(RuntimeError):
        lib.cat([lib.ones(*s) for s in shapes], 0)


def test_compiled_cat_of_mismatched_sizes_raises_when_traced():
    with pytest.raises(ValueError, match="must match except in dimension 1"):
        symgrad.compile(lambda a, b: np.concatenate([a, b], axis=1))(np.ones((3, 2)), np.ones((2, 2)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_compiled_stack_and_concatenate_gradients(dtype, axis):
    def f(a, b, c):
        s = np.stack([a, b, c], axis=axis)
        return np.sum(np.sin(np.concatenate([s, s * 2.0], axis=axis)))

    rng = np.random.default_rng(3)
    args = [rng.normal(size=(2, 3)).astype(dtype) for _ in range(3)]
    s = np.stack(args, axis=axis)
    assert symgrad.compile(lambda a, b, c: np.stack([a, b, c], axis=axis))(*args).shape == s.shape
    np.testing.assert_allclose(symgrad.compile(f)(*args), f(*args), **TOL[dtype])
    grads = symgrad.grad(f, argnums=(0, 1, 2))(*args)
    fd = differences(f, [a.astype(np.float64) for a in args], [0, 1, 2])
    for g, d in zip(grads, fd):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, d, rtol=1e-4 if dtype is np.float32 else 1e-7, atol=1e-5)


def test_stack_shapes_like_torch(lib):
    xs = [lib.ones(2, 3) * k for k in range(4)]
    assert tuple(lib.stack(xs, 0).shape) == (4, 2, 3)
    assert tuple(lib.stack(xs, -1).shape) == (2, 3, 4)
    assert tuple(lib.stack(xs[:1], 1).shape) == (2, 1, 3)
    np.testing.assert_array_equal(_np(lib.stack(xs, 1))[:, 2], np.full((2, 3), 2.0))


@pytest.mark.parametrize("dims", [(0, 0), (1, 1), (0,)])
def test_permute_rejects_what_is_not_a_permutation(lib, dims):
    with pytest.raises(RuntimeError) as info:
        lib.ones(2, 3).permute(*dims)
    if lib is symgrad and len(dims) == 2:
        assert "not a permutation" in str(info.value) and "(2, 3)" in str(info.value)


def test_permute_with_too_many_dims_raises_runtime_error():
    with pytest.raises(RuntimeError):
        symgrad.ones(2, 3).permute(1, 0, 2)


def test_permute_shapes_and_gradient_like_torch(lib):
    data = np.arange(24.0).reshape(2, 3, 4)
    x = lib.tensor(data, requires_grad=True)
    y = x.permute(2, 0, 1)
    assert tuple(y.shape) == (4, 2, 3)
    w = np.arange(24.0).reshape(4, 2, 3)
    (y * lib.tensor(w)).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), w.transpose(1, 2, 0))


def test_compiled_transpose_with_bad_axes_raises():
    with pytest.raises(ValueError, match=r"axes \(1, 1\) are not a permutation"):
        symgrad.compile(lambda x: np.transpose(x, (1, 1)))(np.ones((2, 3)))


# ---------------------------------------------------------------- pow's exponent gradient

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_of_pow_in_its_exponent_like_torch(lib, dtype):
    """d x**y / dy = x**y log x, with x a tensor or a plain number."""
    dt = getattr(lib, dtype)
    x = lib.tensor([0.5, 2.0, 3.0], dtype=dt, requires_grad=True)
    y = lib.tensor([1.5, -1.0, 2.0], dtype=dt, requires_grad=True)
    (x ** y + 2.0 ** y).sum().backward()
    xs, ys = np.array([0.5, 2.0, 3.0]), np.array([1.5, -1.0, 2.0])
    tol = {"rtol": 1e-6} if dtype == "float32" else {"rtol": 1e-12}
    np.testing.assert_allclose(_np(y.grad), xs ** ys * np.log(xs) + 2.0 ** ys * np.log(2.0), **tol)
    np.testing.assert_allclose(_np(x.grad), ys * xs ** (ys - 1), **tol)
    df = symgrad.grad(lambda a, b: np.sum(a ** b + 2.0 ** b), argnums=1)
    np.testing.assert_allclose(df(xs, ys), _np(y.grad), **tol)
