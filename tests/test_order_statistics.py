"""Cumulative functions, sorting, order statistics, NaN-aware reductions and ufunc methods.

Traced values follow NumPy (`np.sort`, `x.cumsum()` flattening, `np.median` averaging the
middle two); eager tensors follow PyTorch (`x.sort()` giving (values, indices), `x.median()`
the lower middle). Each function is written several ways; values are checked against NumPy
(compiled, and eager through the NumPy binding), gradients against central differences in
float64, second derivatives (`symgrad.hessian`) against differences of `symgrad.grad`, and the
eager face against PyTorch (values, indices, gradients and grad_fn names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import difference_columns, differences

import symgrad

RNG = np.random.default_rng(20261206)
X = RNG.normal(size=(3, 5))  # no ties: the order statistics are smooth here
W = RNG.normal(size=(3, 5))
XZ = X.copy()  # zeros: none in row 0, one in row 1, three in row 2
XZ[1, 2] = 0.0
XZ[2, [0, 2, 3]] = 0.0
FD = {"rtol": 1e-6, "atol": 1e-7}


def fd_grad(f: Callable, x: np.ndarray) -> np.ndarray:
    return differences(lambda a: float(f(a)), [x], [0])[0]


def weighted(f: Callable) -> Callable:
    """A scalar of f(x): its output weighted by fixed, distinct numbers."""
    def loss(a: Any) -> Any:
        out = f(a)
        return (out * np.cos(np.arange(np.size(out), dtype=float) + 0.5).reshape(np.shape(out))).sum()
    return loss


# ---------------------------------------------------------------- values against NumPy

# (function, whether an eager Tensor takes the same spelling: np.* functions do, ndarray methods not)
NUMPY_PROGRAMS: dict[str, tuple[Callable, bool]] = {
    "np.cumsum": (lambda a: np.cumsum(a), True),
    "np.cumsum-axis": (lambda a: np.cumsum(a, axis=-1), True),
    "x.cumsum()": (lambda a: a.cumsum(), False),
    "x.cumsum(0)": (lambda a: a.cumsum(0), False),
    "x.cumsum(axis=1)": (lambda a: a.cumsum(axis=1), False),
    "np.cumprod-axis": (lambda a: np.cumprod(a, 1), True),
    "x.cumprod()": (lambda a: a.cumprod(), False),
    "np.cumsum-dtype": (lambda a: np.cumsum(a, 0, dtype=np.float32), True),
    "np.sort": (lambda a: np.sort(a), True),
    "np.sort-axis0": (lambda a: np.sort(a, axis=0), True),
    "np.sort-None": (lambda a: np.sort(a, axis=None, kind="stable"), True),
    "np.argsort": (lambda a: np.argsort(a, axis=0), True),
    "x.argsort()": (lambda a: a.argsort(), False),
    "x.argsort(axis=None)": (lambda a: a.argsort(axis=None), False),
    "np.median": (lambda a: np.median(a), True),
    "np.median-axis-keepdims": (lambda a: np.median(a, axis=1, keepdims=True), True),
    "np.median-even": (lambda a: np.median(a[:, :4], -1), True),
    "np.median-axis0": (lambda a: np.median(a, 0), True),
    "np.quantile": (lambda a: np.quantile(a, 0.3), True),
    "np.quantile-q-array": (lambda a: np.quantile(a, [0.1, 0.5, 0.9], axis=1), True),
    "np.quantile-q-2d-keepdims": (lambda a: np.quantile(a, [[0.1], [0.7]], axis=0, keepdims=True), True),
    "np.quantile-None-keepdims": (lambda a: np.quantile(a, np.array([0.2, 0.6]), keepdims=True), True),
    "np.quantile-method": (lambda a: np.quantile(a, 1.0, axis=-1, method="linear"), True),
    "np.percentile": (lambda a: np.percentile(a, 40, axis=-1), True),
    "np.percentile-list": (lambda a: np.percentile(a, [0, 25, 100], axis=0), True),
    "np.ptp": (lambda a: np.ptp(a, axis=1), True),
    "np.ptp-all": (lambda a: np.ptp(a), True),
    "np.average": (lambda a: np.average(a), True),
    "np.average-1d-weights": (lambda a: np.average(a, axis=1, weights=np.arange(1.0, 6.0)), True),
    "np.average-weights": (lambda a: np.average(a, weights=a * a + 1), True),
    "np.average-returned": (lambda a: np.average(a, axis=0, weights=np.abs(a) + 1, returned=True)[1], True),
    "np.average-returned-unweighted": (lambda a: np.average(a, axis=0, returned=True)[1], True),
    "np.average-keepdims": (lambda a: np.average(a, axis=1, keepdims=True), True),
    "np.nansum": (lambda a: np.nansum(np.where(a > 1, np.nan, a), axis=0), True),
    "np.nansum-keepdims": (lambda a: np.nansum(np.where(a > 1, np.nan, a), axis=1, keepdims=True), True),
    "np.nanmean": (lambda a: np.nanmean(np.where(a > 1, np.nan, a)), True),
    "np.nanmean-axis": (lambda a: np.nanmean(np.where(a < 0, np.nan, a), axis=-1), True),
    "np.any": (lambda a: np.any(a > 1, axis=0), True),
    "np.all": (lambda a: np.all(a > -1), True),
    "x.any()": (lambda a: (a > 1).any(axis=1, keepdims=True), False),
    "x.all()": (lambda a: (a > -1).all(axis=1), False),
    "np.count_nonzero": (lambda a: np.count_nonzero(a > 0, axis=1), True),
    "np.count_nonzero-all": (lambda a: np.count_nonzero(np.maximum(a, 0)), True),
    "np.add.reduce": (lambda a: np.add.reduce(a), True),
    "np.multiply.reduce": (lambda a: np.multiply.reduce(a, axis=1, keepdims=True), True),
    "np.maximum.reduce": (lambda a: np.maximum.reduce(a, axis=None), True),
    "np.minimum.reduce": (lambda a: np.minimum.reduce(a, axis=-1), True),
    "np.logaddexp.reduce": (lambda a: np.logaddexp.reduce(a, axis=1), True),
    "np.logaddexp.reduce-tuple": (lambda a: np.logaddexp.reduce(a, axis=(0, 1)), True),
    "np.add.accumulate": (lambda a: np.add.accumulate(a), True),
    "np.multiply.accumulate": (lambda a: np.multiply.accumulate(a, axis=1), True),
    "np.maximum.accumulate": (lambda a: np.maximum.accumulate(a, axis=1), True),
    "np.minimum.accumulate": (lambda a: np.minimum.accumulate(a), True),
    "np.logaddexp.accumulate": (lambda a: np.logaddexp.accumulate(a, axis=-1), True),
}


@pytest.mark.parametrize("name", sorted(NUMPY_PROGRAMS))
def test_values_match_numpy(name: str) -> None:
    fn, eager_too = NUMPY_PROGRAMS[name]
    want = np.asarray(fn(X))
    got = np.asarray(symgrad.compile(fn)(X))
    assert (got.shape, got.dtype) == (want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    if eager_too:
        eager = np.asarray(fn(symgrad.tensor(X)))
        assert eager.shape == want.shape
        np.testing.assert_allclose(eager, want, rtol=1e-13, atol=1e-15)


GRAD_PROGRAMS = sorted(n for n, (fn, _) in NUMPY_PROGRAMS.items()
                       if np.asarray(fn(X)).dtype.kind == "f" and "returned" not in n and "dtype" not in n)


@pytest.mark.parametrize("name", GRAD_PROGRAMS)
def test_gradients_match_finite_differences(name: str) -> None:
    loss = weighted(NUMPY_PROGRAMS[name][0])
    x = XZ if "prod" in name or "multiply" in name else X
    got = symgrad.grad(loss)(x)
    np.testing.assert_allclose(got, fd_grad(loss, x), **FD)
    np.testing.assert_allclose(symgrad.grad(loss, passes=())(x), got, rtol=1e-12, atol=1e-12)


def test_cumsum_dtype_and_integer_inputs() -> None:
    ints = np.arange(6, dtype=np.int32).reshape(2, 3)
    for fn in (lambda a: np.cumsum(a, 1), lambda a: np.cumprod(a, 0), lambda a: (a > 2).cumsum()):
        want = fn(ints)
        got = symgrad.compile(fn)(ints)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert symgrad.compile(lambda a: np.cumsum(a, dtype=np.float32))(X).dtype == np.float32
    assert symgrad.compile(lambda a: np.median(a))(ints).dtype == np.float64


def test_zero_dimensional_values() -> None:
    s = np.float64(2.5)
    np.testing.assert_array_equal(symgrad.compile(lambda a: np.cumsum(a))(s), np.cumsum(s))
    np.testing.assert_array_equal(symgrad.compile(lambda a: np.sort(a, axis=None))(s), np.sort(s, axis=None))
    t = symgrad.tensor(2.5)
    assert symgrad.cumsum(t, 0).shape == () and symgrad.sort(t).values.shape == ()
    assert symgrad.median(t).item() == 2.5


# ---------------------------------------------------------------- second order

SECOND_ORDER = {
    "cumsum": (lambda a: (np.cumsum(a, 1) ** 2 * W).sum(), X),
    "cumprod": (lambda a: (np.cumprod(a, 1) * W).sum(), X),
    "cumprod-zeros": (lambda a: (np.cumprod(a, 1) * W).sum(), XZ),
    "cumprod-zeros-axis0": (lambda a: (np.cumprod(a, 0) ** 2 * W).sum(), XZ),
    "sort": (lambda a: (np.sort(a, 1) ** 3 * W).sum(), X),
    "quantile": (lambda a: (np.quantile(a, [0.3, 0.8], axis=1) ** 3).sum(), X),
    "median": (lambda a: np.median(a ** 3), X),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_matches_differences_of_the_gradient(name: str) -> None:
    f, x = SECOND_ORDER[name]
    grad = symgrad.grad(f)
    hessian = symgrad.hessian(f)(x).reshape(x.size, x.size)
    want = np.stack([np.ravel(column) for column in difference_columns(grad, x)])
    np.testing.assert_allclose(hessian, want, rtol=1e-5, atol=1e-6)


def test_cumprod_gradient_is_exact_with_zeros_eagerly_to_second_order() -> None:
    t = symgrad.tensor(XZ, requires_grad=True)
    assert symgrad.autograd.gradcheck(lambda a: (a.cumprod(1) * symgrad.tensor(W)).sum(), (t,))
    assert symgrad.autograd.gradgradcheck(lambda a: (a.cumprod(-1) ** 2).sum(), (t,))
    assert np.isfinite(symgrad.grad(lambda a: np.cumprod(a).sum())(np.zeros(4))).all()


@pytest.mark.parametrize("fn, x", [
    (lambda a: np.sort(a, axis=0), X),
    (lambda a: np.cumprod(a, axis=1), XZ),
    (lambda a: np.cumsum(a, axis=0), X),
    (lambda a: np.quantile(a, [0.25, 0.5], axis=1), X),
    (lambda a: np.maximum.accumulate(a, axis=1), X),
    (lambda a: symgrad.topk(a, 2).values, X),
], ids=["sort", "cumprod-zeros", "cumsum", "quantile", "maximum.accumulate", "topk"])
def test_jacobian(fn: Callable, x: np.ndarray) -> None:
    """One reverse pass with a batched cotangent (batching rules), against differences."""
    jac = symgrad.jacobian(fn)(x)
    compiled = symgrad.compile(fn)
    # one column per input element, of the output's shape
    columns = np.stack([np.asarray(c) for c in difference_columns(compiled, x)])
    want = np.moveaxis(columns, 0, -1).reshape(jac.shape)
    np.testing.assert_allclose(jac, want, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- NaN-aware gradients

def test_nan_aware_gradients_are_zero_at_nans() -> None:
    x = X.copy()
    x[0, 1] = x[2, 4] = np.nan
    nan = np.isnan(x)
    g = symgrad.grad(lambda a: (np.nansum(a, axis=0) * W[0]).sum())(x)
    np.testing.assert_allclose(g, np.where(nan, 0.0, W[:1]))
    g = symgrad.grad(lambda a: np.nanmean(a, axis=1).sum())(x)
    np.testing.assert_allclose(g, np.where(nan, 0.0, 1.0 / (~nan).sum(1, keepdims=True)))
    t = symgrad.tensor(x, requires_grad=True)
    symgrad.nanmean(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), np.where(nan, 0.0, 1.0 / (~nan).sum()))


# ---------------------------------------------------------------- faces: PyTorch's spellings

def test_traced_sort_method_is_refused_with_a_remedy() -> None:
    with pytest.raises(TypeError, match=r"in place.*np\.sort"):
        symgrad.trace(lambda a: a.sort(), X)


def test_torch_functions_on_traced_values_match_eager() -> None:
    def loss(a: Any) -> Any:
        top = symgrad.topk(a, 3, dim=1).values
        med = symgrad.median(a, 0).values
        return (top * top).sum() + symgrad.quantile(a, 0.4, dim=1).sum() + med.sum() \
            + symgrad.cumsum(a, 0).sum() + symgrad.sort(a, descending=True).values[:, 0].sum()
    t = symgrad.tensor(X, requires_grad=True)
    value = loss(t)
    value.backward()
    got_value, got_grad = symgrad.value_and_grad(loss)(X)
    np.testing.assert_allclose(got_value, value.item(), rtol=1e-13)
    np.testing.assert_allclose(got_grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_grad, fd_grad(loss, X), **FD)


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


TORCH_PROGRAMS: dict[str, Callable] = {
    "cumsum": lambda T, a: T.cumsum(a, 1),
    "x.cumsum(dim=0)": lambda T, a: a.cumsum(dim=0),
    "cumprod": lambda T, a: T.cumprod(a, -1),
    "x.cumprod(0)": lambda T, a: a.cumprod(0),
    "sort": lambda T, a: T.sort(a),
    "x.sort(0, descending)": lambda T, a: a.sort(0, descending=True),
    "sort-stable": lambda T, a: T.sort(a, dim=1, stable=True),
    "topk": lambda T, a: T.topk(a, 2),
    "x.topk(smallest)": lambda T, a: a.topk(2, dim=0, largest=False),
    "median": lambda T, a: T.median(a),
    "x.median(1)": lambda T, a: a.median(1),
    "median-even-keepdim": lambda T, a: T.median(a[:, :4], 1, keepdim=True),
    "quantile": lambda T, a: T.quantile(a, 0.3),
    "quantile-q-tensor": lambda T, a: T.quantile(a, T.tensor([0.2, 0.9], dtype=T.float64), dim=1,
                                                 keepdim=True),
    "x.quantile": lambda T, a: a.quantile(0.75, 0),
    "cummax": lambda T, a: T.cummax(a, 1),
    "x.cummin": lambda T, a: a.cummin(0),
    "logcumsumexp": lambda T, a: T.logcumsumexp(a, 1),
    "nansum": lambda T, a: T.nansum(T.where(a > 1, float("nan"), a)),
    "x.nansum(1)": lambda T, a: a.nansum(1),
    "nanmean": lambda T, a: T.nanmean(T.where(a > 1, float("nan"), a), 1),
    "x.nanmean()": lambda T, a: a.nanmean(),
    "msort": lambda T, a: T.msort(a),
}


@pytest.mark.parametrize("name", sorted(TORCH_PROGRAMS))
def test_eager_matches_torch(torch: Any, name: str) -> None:
    fn = TORCH_PROGRAMS[name]
    a, b = symgrad.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    got, want = fn(symgrad, a), fn(torch, b)
    if isinstance(want, tuple):
        assert type(got).__name__ == type(want).__name__ and got._fields == ("values", "indices")
        np.testing.assert_array_equal(np.asarray(got.indices), want.indices.numpy())
        assert got.indices.dtype == np.int64
        got, want = got.values, want.values
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert got.grad_fn.name() == type(want.grad_fn).__name__
    ct = np.cos(np.arange(want.numel())).reshape(tuple(want.shape))
    (got * symgrad.tensor(ct)).sum().backward()
    (want * torch.tensor(ct)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn", [
    lambda T, a: T.any(a > 1, 1), lambda T, a: (a > -1).all(), lambda T, a: a.any(),
    lambda T, a: T.all(a > 0, dim=0, keepdim=True), lambda T, a: T.count_nonzero(a > 0, 1),
    lambda T, a: (a > 0).count_nonzero(), lambda T, a: T.argsort(a, 1, descending=True),
    lambda T, a: a.argsort(0), lambda T, a: T.argsort(a, dim=-1),
], ids=["any-dim", "all", "x.any()", "all-keepdim", "count_nonzero", "x.count_nonzero()",
        "argsort-descending", "x.argsort(0)", "argsort-dim"])
def test_no_gradient_functions_match_torch(torch: Any, fn: Callable) -> None:
    got = fn(symgrad, symgrad.tensor(X, requires_grad=True))
    want = fn(torch, torch.tensor(X, requires_grad=True))
    np.testing.assert_array_equal(np.asarray(got), want.numpy())
    assert (str(got.dtype), got.requires_grad) == (str(want.dtype).removeprefix("torch."), want.requires_grad)


def test_ties_and_nans_in_cummax_match_torch(torch: Any) -> None:
    x = np.array([[1.0, 3.0, 3.0, 2.0, np.nan, 5.0, np.nan], [2.0, 2.0, 1.0, 1.0, 0.0, 4.0, 4.0]])
    for name in ("cummax", "cummin"):
        got, want = getattr(symgrad, name)(symgrad.tensor(x), 1), getattr(torch, name)(torch.tensor(x), 1)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


def test_descending_sort_is_stable_and_puts_nan_first_like_torch(torch: Any) -> None:
    x = np.array([2.0, np.nan, 1.0, 2.0, 3.0, 1.0])
    got = symgrad.sort(symgrad.tensor(x), descending=True, stable=True)
    want = torch.sort(torch.tensor(x), descending=True, stable=True)
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


# ---------------------------------------------------------------- realistic uses

def trimmed_mean(x: Any, k: int = 1) -> Any:
    """Mean of each row without its k smallest and k largest values."""
    return np.sort(x, axis=-1)[:, k:-k].mean(axis=-1)


def median_residual_loss(w: Any, a: np.ndarray, y: np.ndarray) -> Any:
    """A robust fit's loss: the median of the absolute residuals (least median of deviations)."""
    return np.median(np.abs(a @ w - y))


def empirical_cdf_at(x: Any, t: np.ndarray) -> Any:
    """A smooth empirical CDF: sorted samples, weights from a cumulative sum of sigmoids."""
    s = np.sort(x)
    weights = 1 / (1 + np.exp(-(t[:, None] - s) * 4.0))
    return np.cumsum(weights, axis=1)[:, -1] / x.shape[0]


def test_trimmed_mean() -> None:
    got = symgrad.value_and_grad(lambda a: trimmed_mean(a).sum())(X)
    want = np.sort(X, -1)[:, 1:-1].mean(-1).sum()
    np.testing.assert_allclose(got[0], want, rtol=1e-13)
    np.testing.assert_allclose(got[1], fd_grad(lambda a: trimmed_mean(a).sum(), X), **FD)
    middle = (X > np.sort(X, -1)[:, :1]) & (X < np.sort(X, -1)[:, -1:])
    np.testing.assert_allclose(got[1], np.where(middle, 1 / 3, 0.0))


def test_median_of_residuals_robust_loss() -> None:
    a = RNG.normal(size=(9, 3))
    y = a @ np.array([1.0, -2.0, 0.5]) + RNG.normal(size=9) * 0.1
    y[0] += 50.0  # an outlier the median ignores
    w = np.array([0.8, -1.5, 0.7])
    grad = symgrad.grad(median_residual_loss)(w, a, y)
    np.testing.assert_allclose(grad, fd_grad(lambda v: median_residual_loss(v, a, y), w), **FD)
    steps = w.copy()
    for _ in range(200):
        steps = steps - 0.05 * symgrad.grad(median_residual_loss)(steps, a, y)
    assert median_residual_loss(steps, a, y) < median_residual_loss(w, a, y)


def test_cdf_via_sort_and_cumsum() -> None:
    x = RNG.normal(size=7)
    t = np.linspace(-2, 2, 5)

    def loss(v: Any) -> Any:
        return empirical_cdf_at(v, t).sum()
    np.testing.assert_allclose(symgrad.compile(lambda v: empirical_cdf_at(v, t))(x), empirical_cdf_at(x, t),
                               rtol=1e-13)
    np.testing.assert_allclose(symgrad.grad(loss)(x), fd_grad(loss, x), **FD)
    eager = symgrad.tensor(x, requires_grad=True)
    s = symgrad.sort(eager).values
    out = ((symgrad.tensor(t)[:, None] - s) * 4.0).sigmoid().cumsum(1)[:, -1].sum() / 7
    out.backward()
    np.testing.assert_allclose(eager.grad.numpy(), symgrad.grad(loss)(x), rtol=1e-12)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn, error, match", [
    (lambda a: np.quantile(a, 0.5, method="cubic"), ValueError, "'cubic' is not a valid method"),
    (lambda a: np.quantile(a, 1.5), ValueError, r"range \[0, 1\]"),
    (lambda a: np.percentile(a, -1), ValueError, r"range \[0, 100\]"),
    (lambda a: np.quantile(a, a[0, 0]), TypeError, "q must be known"),
    (lambda a: np.add.reduceat(a, [0, 2]), TypeError, "numpy.add.reduceat is not supported"),
    (lambda a: np.subtract.reduce(a), TypeError, "numpy.subtract.reduce is not supported"),
    (lambda a: np.add.accumulate(a, axis=None), ValueError, "multiple axes"),
    (lambda a: np.add.reduce(a, out=np.zeros(5)), TypeError, "out="),
    (lambda a: np.average(a, weights=np.ones(5)), TypeError, "Axis must be specified"),
    (lambda a: np.average(a, axis=1, weights=np.ones(4)), ValueError, "consistent with shape"),
    (lambda a: np.sort(a, order="f"), TypeError, "order="),
    (lambda a: np.cumsum(a, axis=2), np.exceptions.AxisError, "axis 2 is out of bounds"),
    (lambda a: symgrad.topk(a, 9), RuntimeError, "k out of range"),
    (lambda a: symgrad.quantile(a, 0.5, interpolation="nearest"), RuntimeError, "interpolation"),
    (lambda a: symgrad.quantile(a, 2.0), RuntimeError, r"range \[0, 1\]"),
], ids=["method", "q-range", "percentile-range", "traced-q", "reduceat", "subtract.reduce", "accumulate-None",
        "out", "average-axis", "average-length", "order", "axis", "topk-k", "interpolation", "torch-q-range"])
def test_bad_input_names_the_problem(fn: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        symgrad.trace(fn, X)



@pytest.mark.parametrize("fn", [
    lambda a: np.median(a, 1), lambda a: np.median(a[:, :4], axis=1, keepdims=True),
    lambda a: np.quantile(a, [0.2, 0.5], axis=1), lambda a: np.percentile(a, 30),
], ids=["median", "median-even", "quantile", "percentile"])
def test_a_nan_makes_the_order_statistic_nan_as_in_numpy(fn: Callable) -> None:
    x = X.copy()
    x[1, 2] = np.nan
    np.testing.assert_array_equal(symgrad.compile(fn)(x), fn(x))
    np.testing.assert_array_equal(fn(symgrad.tensor(x)).numpy(), fn(x))
    g = symgrad.grad(lambda a: np.nansum(fn(a)))(x)  # the NaN result's gradient is dropped, not NaN
    assert np.isfinite(g).all()


def test_descending_order_keeps_ties_in_their_order():
    """A stable descending sort, as torch's stable=True: the tied 3s come in index order, and
    so do the tied 1s (a sort that is not stable may give any order of them)."""
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 1.0, 3.0, 1.0] * 8)
    want = np.argsort(-x, kind="stable")
    assert symgrad.tensor(x).argsort(descending=True).tolist() == want.tolist()
    assert symgrad.tensor(x).sort(descending=True).indices.tolist() == want.tolist()
    np.testing.assert_array_equal(symgrad.compile(lambda v: symgrad.argsort(v, descending=True))(x), want)


NAN_LINES = [[1.0, np.nan, 3.0, 0.0], [4.0, 2.0, 1.0, 3.0], [5.0, 7.0, np.nan, np.nan]]


@pytest.mark.parametrize("kw", [{}, {"dim": 1}, {"dim": -1, "keepdim": True}, {"dim": 0}], ids=str)
def test_median_of_a_line_holding_a_nan_is_its_first_nan(kw):
    """torch.median propagates NaN (nanmedian skips it): value, index and gradient as torch's."""
    torch = pytest.importorskip("torch")
    data = np.array(NAN_LINES[:2] if not kw else NAN_LINES)
    a = symgrad.tensor(data, requires_grad=True)
    b = torch.tensor(data, requires_grad=True)
    ra, rb = a.median(**kw), b.median(**kw)
    va, vb = (ra, rb) if not kw else (ra.values, rb.values)
    np.testing.assert_array_equal(va.detach().numpy(), vb.detach().numpy())
    if kw:
        np.testing.assert_array_equal(ra.indices.numpy(), rb.indices.numpy())
    va.sum().backward()
    vb.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    assert np.isnan(symgrad.compile(lambda x: symgrad.median(x))(data[0]))
