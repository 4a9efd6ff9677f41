"""NumPy functions written as composites over symgrad's ops (`symgrad/surface/numpy_more.py`)
and NumPy's quantile methods (`symgrad/surface/statistics.py`).

Each case is written once over a namespace `xp`: NumPy for symgrad (compiled, and eager
through the NumPy binding) and `jax.numpy` for JAX. Values are checked against NumPy (shape,
dtype, numbers), gradients against central differences in float64 and against JAX, second
derivatives (`symgrad.hessian`) against differences of `symgrad.grad`, Jacobians (batching)
against differences of the compiled function.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numeric import difference_columns, differences

import symgrad

RNG = np.random.default_rng(20261207)
X = RNG.normal(size=(3, 5))  # no ties
SQ = RNG.normal(size=(4, 4)) + 3 * np.eye(4)  # well conditioned
T = RNG.normal(size=(2, 3, 4))
XN = X.copy()  # NaN: one in row 0, row 2 all NaN
XN[0, 1] = np.nan
XN[2, :] = np.nan
XN1 = X.copy()  # one NaN, no line of only NaN
XN1[1, 3] = np.nan
IDX = np.argsort(X, axis=1)[:, :2]
FD = {"rtol": 1e-6, "atol": 1e-7}


def filled_diagonal(xp: Any, a: Any, val: Any, wrap: bool = False) -> Any:
    """np.fill_diagonal writes in place; jax.numpy's returns the result."""
    if xp is np:
        b = a.copy()
        np.fill_diagonal(b, val, wrap=wrap)
        return b
    return xp.fill_diagonal(a, val, wrap=wrap, inplace=False)


def put_along(xp: Any, a: Any, indices: Any, values: Any, axis: Any) -> Any:
    """np.put_along_axis writes in place; jax.numpy's returns the result."""
    if xp is np:
        b = a.copy()
        np.put_along_axis(b, indices, values, axis)
        return b
    return xp.put_along_axis(a, indices, values, axis, inplace=False)


def piece(xp: Any, pieces: list, k: int) -> Any:
    return pieces[k] * (k + 1)


# name -> (function of (xp, a), input, whether JAX has the same spelling)
CASES: dict[str, tuple[Callable, np.ndarray, bool]] = {
    # the split family
    "hsplit": (lambda xp, a: xp.concatenate([piece(xp, xp.hsplit(a, [1, 3]), k) for k in range(3)], 1),
               X, True),
    "hsplit-1d": (lambda xp, a: piece(xp, xp.hsplit(a[0], 5), 2), X, True),
    "vsplit": (lambda xp, a: piece(xp, xp.vsplit(a, 3), 1), X, True),
    "dsplit": (lambda xp, a: piece(xp, xp.dsplit(a, 2), 1) + piece(xp, xp.dsplit(a, [1]), 0)[..., :2],
               T, True),
    # real values
    "real": (lambda xp, a: xp.real(a) * 2, X, True),
    "imag": (lambda xp, a: xp.imag(a) + a, X, True),
    "conj": (lambda xp, a: xp.conj(a) + xp.conjugate(a) * a, X, True),
    "conjugate-method": (lambda xp, a: a.conjugate() * a, X, True),
    "real_if_close": (lambda xp, a: xp.real_if_close(a) ** 2, X, False),
    # cov, corrcoef
    "cov": (lambda xp, a: xp.cov(a), X, True),
    "cov-1d": (lambda xp, a: xp.cov(a[0]), X, True),
    "cov-rowvar-bias": (lambda xp, a: xp.cov(a, rowvar=False, bias=True), X, True),
    "cov-y-ddof": (lambda xp, a: xp.cov(a[0], a[1], ddof=2), X, True),
    "cov-fweights": (lambda xp, a: xp.cov(a, fweights=np.array([1, 2, 1, 3, 1])), X, True),
    "cov-aweights": (lambda xp, a: xp.cov(a, aweights=np.linspace(0.2, 1.0, 5)), X, True),
    "cov-both-weights": (lambda xp, a: xp.cov(a, fweights=np.array([1, 2, 1, 3, 1]),
                                              aweights=np.linspace(0.2, 1.0, 5)), X, True),
    "cov-traced-aweights": (lambda xp, a: xp.cov(a[:2], aweights=a[2] ** 2 + 1), X, False),
    "corrcoef": (lambda xp, a: xp.corrcoef(a)[xp.triu_indices(3, 1)], X, True),
    "corrcoef-y-columns": (lambda xp, a: xp.corrcoef(a[:, :2], a[:, 2:4], rowvar=False)[0, 1:], X, True),
    # array-API linear algebra
    "vector_norm": (lambda xp, a: xp.linalg.vector_norm(a), X, True),
    "vector_norm-axis-ord": (lambda xp, a: xp.linalg.vector_norm(a, axis=1, ord=3, keepdims=True), X, True),
    "vector_norm-tuple-inf": (lambda xp, a: xp.linalg.vector_norm(a, axis=(0, 2), ord=np.inf), T, True),
    "vector_norm-1": (lambda xp, a: xp.linalg.vector_norm(a, axis=-1, ord=1), X, True),
    "matrix_norm": (lambda xp, a: xp.linalg.matrix_norm(a), T, True),
    "matrix_norm-nuc": (lambda xp, a: xp.linalg.matrix_norm(a, ord="nuc", keepdims=True), T, True),
    "matrix_norm-2": (lambda xp, a: xp.linalg.matrix_norm(a, ord=2), T, True),
    "matrix_norm-inf": (lambda xp, a: xp.linalg.matrix_norm(a, ord=np.inf), T, True),
    "linalg.vecdot": (lambda xp, a: xp.linalg.vecdot(a, a[0]), X, True),
    "linalg.vecdot-axis0": (lambda xp, a: xp.linalg.vecdot(a, a * a, axis=0), X, True),
    "cond": (lambda xp, a: xp.linalg.cond(a), SQ, True),
    "cond-rectangular": (lambda xp, a: xp.linalg.cond(a), X, True),
    "cond--2": (lambda xp, a: xp.linalg.cond(a, -2), SQ, True),
    "cond-fro": (lambda xp, a: xp.linalg.cond(a, "fro"), SQ, True),
    "cond-1": (lambda xp, a: xp.linalg.cond(a, p=1), SQ, True),
    "cond-inf": (lambda xp, a: xp.linalg.cond(a, -np.inf), SQ, True),
    # diagonals, writes along an axis
    "diag_indices_from": (lambda xp, a: a[xp.diag_indices_from(a)] ** 2, SQ, True),
    "tril_indices_from": (lambda xp, a: a[xp.tril_indices_from(a, -1)], X, True),
    "triu_indices_from": (lambda xp, a: a[xp.triu_indices_from(a, k=1)], X, True),
    "fill_diagonal": (lambda xp, a: filled_diagonal(xp, a, 0.0) * a, SQ, True),
    "fill_diagonal-values": (lambda xp, a: filled_diagonal(xp, a, a[0, :2] ** 2), SQ, True),
    "fill_diagonal-wide": (lambda xp, a: filled_diagonal(xp, a, a[:, 0]), X, True),
    "fill_diagonal-tall-wrap": (lambda xp, a: filled_diagonal(xp, xp.concatenate([a.T, a.T]), 5.0, wrap=True),
                                X, False),
    "fill_diagonal-3d": (lambda xp, a: filled_diagonal(xp, xp.stack([a[:3, :3]] * 3), a[0, :3]), X, True),
    "put_along_axis": (lambda xp, a: put_along(xp, a, IDX, 0.0, 1) * a, X, True),
    "put_along_axis-values": (lambda xp, a: put_along(xp, a, IDX, a[:, :2] ** 2, 1), X, True),
    "put_along_axis-0": (lambda xp, a: put_along(xp, a, np.argmax(X, 0)[None], 3 * a[:1], 0), X, True),
    # NaN-aware reductions
    "nanvar": (lambda xp, a: xp.nanvar(a), XN, True),
    "nanvar-axis-ddof": (lambda xp, a: xp.nanvar(a, axis=1, ddof=1, keepdims=True), XN1, True),
    "nanvar-axis0": (lambda xp, a: xp.nanvar(a, axis=0), XN, True),
    "nanstd-tuple": (lambda xp, a: xp.nanstd(a, axis=(0, 1)), XN, True),
    "nanstd-axis": (lambda xp, a: xp.nanstd(a, -1), XN1, True),
    "nanmax": (lambda xp, a: xp.nanmax(a, axis=1), XN1, True),
    "nanmax-all": (lambda xp, a: xp.nanmax(a), XN, True),
    "nanmin-keepdims": (lambda xp, a: xp.nanmin(a, axis=0, keepdims=True), XN, True),
    "nanmax-initial": (lambda xp, a: xp.nanmax(a, axis=1, initial=0.5), XN, True),
    "nanprod": (lambda xp, a: xp.nanprod(a, axis=1), XN, True),
    "nancumsum": (lambda xp, a: xp.nancumsum(a), XN, True),
    "nancumprod": (lambda xp, a: xp.nancumprod(a, axis=1), XN, True),
    "nanargmax": (lambda xp, a: xp.nanargmax(a, axis=1), XN1, True),
    "nanargmin": (lambda xp, a: xp.nanargmin(a), XN, True),
    "nanmedian": (lambda xp, a: xp.nanmedian(a, axis=1), XN1, True),
    "nanmedian-all": (lambda xp, a: xp.nanmedian(a), XN, True),
    "nanmedian-keepdims": (lambda xp, a: xp.nanmedian(a, axis=0, keepdims=True), XN, True),
    "nanquantile": (lambda xp, a: xp.nanquantile(a, np.array([0.2, 0.9]), axis=1), XN1, True),
    "nanquantile-lower": (lambda xp, a: xp.nanquantile(a, 0.3, axis=1, method="lower"), XN1, True),
    "nanquantile-midpoint": (lambda xp, a: xp.nanquantile(a, 0.4, axis=0, method="midpoint"), XN, True),
    "nanpercentile-hazen": (lambda xp, a: xp.nanpercentile(a, [[10.0], [60.0]], axis=0, method="hazen",
                                                         keepdims=True), XN, False),
    # quantile methods beyond linear
    "quantile-lower": (lambda xp, a: xp.quantile(a, 0.3, axis=1, method="lower"), X, True),
    "quantile-higher": (lambda xp, a: xp.quantile(a, np.array([0.3, 0.8]), axis=0, method="higher"), X, True),
    "quantile-nearest": (lambda xp, a: xp.quantile(a, 0.6, method="nearest"), X, True),
    "quantile-midpoint": (lambda xp, a: xp.quantile(a, np.array([0.1, 0.5]), axis=1, method="midpoint"),
                          X, True),
    "quantile-inverted_cdf": (lambda xp, a: xp.quantile(a, 0.5, axis=1, method="inverted_cdf"), X, False),
    "quantile-weibull": (lambda xp, a: xp.quantile(a, 0.3, axis=1, method="weibull"), X, False),
    "percentile-median_unbiased": (lambda xp, a: xp.percentile(a, 35.0, axis=0, method="median_unbiased"),
                                   X, False),
    # differences, cumulative, partition
    "ediff1d": (lambda xp, a: xp.ediff1d(a), X, True),
    "ediff1d-ends": (lambda xp, a: xp.ediff1d(a[0], to_begin=a[1, 0], to_end=np.array([1.0, 2.0])), X, True),
    "cumulative_sum": (lambda xp, a: xp.cumulative_sum(a, axis=1, include_initial=True), X, True),
    "cumulative_prod": (lambda xp, a: xp.cumulative_prod(a[0]), X, True),
    "partition-kth": (lambda xp, a: xp.partition(a, 2)[:, 2], X, True),
    "partition-axis0": (lambda xp, a: xp.partition(a, (0, 2), axis=0)[[0, 2]], X, False),
    # append, insert, delete, resize
    "append": (lambda xp, a: xp.append(a, a[0] ** 2), X, True),
    "append-axis": (lambda xp, a: xp.append(a, a[:1] * 3, axis=0), X, True),
    "insert": (lambda xp, a: xp.insert(a, 2, 5.0), X, True),
    "insert-axis-values": (lambda xp, a: xp.insert(a, 2, a[:, 0] ** 2, axis=1), X, True),
    "insert-list-one": (lambda xp, a: xp.insert(a, np.array([1]), a[:, :1] * 2, axis=1), X, True),
    "insert-several": (lambda xp, a: xp.insert(a, np.array([4, 1, 1]), a[0, :3] ** 2), X, True),
    "insert-slice": (lambda xp, a: xp.insert(a, slice(0, 3), a[:, :1] * 7, axis=1), X, True),
    "delete": (lambda xp, a: xp.delete(a, 1, axis=0), X, True),
    "delete-list": (lambda xp, a: xp.delete(a, np.array([0, -1]), axis=1), X, True),
    "delete-slice": (lambda xp, a: xp.delete(a, slice(None, None, 2)), X, True),
    "delete-mask": (lambda xp, a: xp.delete(a, np.array([True, False, True]), 0), X, True),
    "resize": (lambda xp, a: xp.resize(a, (4, 7)), X, True),
    "resize-smaller": (lambda xp, a: xp.resize(a[0], 3), X, True),
}
if not hasattr(np, "cumulative_sum"):  # NumPy < 2.1
    del CASES["cumulative_sum"], CASES["cumulative_prod"]
if hasattr(np, "matvec"):  # NumPy 2.2+
    CASES.update({
        "vecdot": (lambda xp, a: xp.vecdot(a, a[1:3, None]), X, True),
        "vecdot-axis": (lambda xp, a: xp.vecdot(T, a[None, :, :4], axis=1), X, True),
        "matvec": (lambda xp, a: xp.matvec(T, a[0, :4]), X, True),
        "vecmat": (lambda xp, a: xp.vecmat(a[:2, :3], T), X, True),
    })


def numpy_fn(name: str) -> Callable:
    fn = CASES[name][0]
    return lambda a: fn(np, a)


def weighted(f: Callable) -> Callable:
    """A scalar of f(x): its output weighted by fixed, distinct numbers (NaN outputs left out)."""
    def loss(a: Any) -> Any:
        out = f(a)
        w = np.cos(np.arange(np.size(out), dtype=float) + 0.5).reshape(np.shape(out))
        return (np.where(np.isnan(out), 0.0, out) * w).sum()
    return loss


def fd_grad(f: Callable, x: np.ndarray) -> np.ndarray:
    return differences(lambda a: float(f(a)), [x], [0])[0]


# ---------------------------------------------------------------- values against NumPy

NDARRAY_ONLY = ("conjugate-method", "fill_diagonal", "put_along_axis")  # they call ndarray methods


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy(name: str) -> None:
    fn, x = numpy_fn(name), CASES[name][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-NaN slice warnings
        want = np.asarray(fn(x))
        got = np.asarray(symgrad.compile(fn)(x))
        assert (got.shape, got.dtype) == (want.shape, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        if not name.startswith(NDARRAY_ONLY):
            eager = fn(symgrad.tensor(x))  # the eager Tensor through the same NumPy binding
            np.testing.assert_allclose(np.asarray(eager), want, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- gradients

GRADIENTS = sorted(n for n in CASES if np.asarray(numpy_fn(n)(CASES[n][1])).dtype.kind == "f"
                   and "argm" not in n)


@pytest.mark.parametrize("name", GRADIENTS)
def test_gradients_match_finite_differences(name: str) -> None:
    loss, x = weighted(numpy_fn(name)), CASES[name][1]
    nan = np.isnan(x)
    got = symgrad.grad(loss)(x)
    assert np.all(got[nan] == 0)  # NaN entries get no gradient
    want = fd_grad(loss, x)
    np.testing.assert_allclose(got[~nan], want[~nan], **FD)
    np.testing.assert_allclose(symgrad.grad(loss, passes=())(x), got, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["cov", "corrcoef", "nanstd-axis", "nanmax", "insert-several",
                                  "quantile-midpoint", "nanquantile"])
def test_eager_backward_matches_compiled(name: str) -> None:
    loss, x = weighted(numpy_fn(name)), CASES[name][1]
    t = symgrad.tensor(x, requires_grad=True)
    out = loss(t)
    out.backward()
    np.testing.assert_allclose(t.grad.numpy(), symgrad.grad(loss)(x), rtol=1e-10, atol=1e-12)


SECOND_ORDER = {
    "cov": (lambda a: (np.cov(a) ** 2).sum(), X),
    "cov-aweights": (lambda a: (np.cov(a, aweights=np.linspace(0.2, 1.0, 5)) ** 2).sum(), X),
    "corrcoef": (lambda a: np.corrcoef(a)[0, 1] * np.corrcoef(a)[1, 2], X),
    "nanvar": (lambda a: np.nanvar(a, axis=1).sum() ** 2, XN1),
    "nanstd": (lambda a: np.nanstd(a), XN1),
    "nanmax": (lambda a: (np.nanmax(a, axis=1) ** 3).sum(), XN1),
    "nanprod": (lambda a: np.nanprod(a, axis=0).sum(), XN1),
    "nanquantile": (lambda a: (np.nanquantile(a, [0.3, 0.7], axis=1) ** 3).sum(), XN1),
    "quantile-midpoint": (lambda a: (np.quantile(a, 0.3, axis=1, method="midpoint") ** 3).sum(), X),
    "vector_norm": (lambda a: np.linalg.vector_norm(a, ord=3), X),
    "matrix_norm": (lambda a: np.linalg.matrix_norm(a) ** 3, X),
    "cond": (lambda a: np.linalg.cond(a), SQ),
    "cond-fro": (lambda a: np.linalg.cond(a, "fro"), SQ),
    "fill_diagonal": (lambda a: (filled_diagonal(np, a, a[0] ** 2) ** 2).sum(), SQ),
    "put_along_axis": (lambda a: (put_along(np, a, IDX, a[:, :2] ** 2, 1) ** 2).sum(), X),
    "insert": (lambda a: (np.insert(a, [1, 3], a[:, :2] ** 2, axis=1) ** 2).sum(), X),
    "ediff1d": (lambda a: (np.ediff1d(a, to_begin=a[0, 0] ** 2) ** 3).sum(), X),
    "cumulative_prod": (lambda a: np.cumulative_prod(a, axis=1, include_initial=True).sum(), X),
    "resize": (lambda a: (np.resize(a, (4, 4)) ** 3).sum(), X),
}
if not hasattr(np, "cumulative_sum"):
    del SECOND_ORDER["cumulative_prod"]


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_matches_differences_of_the_gradient(name: str) -> None:
    f, x = SECOND_ORDER[name]
    keep = ~np.isnan(x).ravel()
    hessian = symgrad.hessian(f)(x).reshape(x.size, x.size)
    want = np.stack([np.ravel(column) for column in difference_columns(symgrad.grad(f), x)])
    np.testing.assert_allclose(hessian[np.ix_(keep, keep)], want[np.ix_(keep, keep)], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, x", [
    (lambda a: np.cov(a), X),
    (lambda a: np.nanvar(a, axis=1), XN1),
    (lambda a: np.nanquantile(a, [0.25, 0.5], axis=1, method="hazen"), XN1),
    (lambda a: np.insert(a, 2, a[:, 0], axis=1), X),
    (lambda a: np.linalg.matrix_norm(a, ord="nuc"), T),
    (lambda a: filled_diagonal(np, a, a[1]), SQ),
], ids=["cov", "nanvar", "nanquantile", "insert", "matrix_norm", "fill_diagonal"])
def test_jacobian(fn: Callable, x: np.ndarray) -> None:
    """One reverse pass with a batched cotangent (batching rules), against differences."""
    jac = symgrad.jacobian(fn)(x)
    columns = np.stack([np.asarray(c) for c in difference_columns(symgrad.compile(fn), x)])
    want = np.moveaxis(columns, 0, -1).reshape(jac.shape)
    keep = ~np.isnan(want)
    np.testing.assert_allclose(jac[keep], want[keep], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- against JAX

@pytest.fixture(scope="module")
def jnp() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax.numpy


# one or two of each family (JAX takes about a second a case here); CASES' flag says which
# are spelt the same in jax.numpy
JAX_CASES = ["hsplit", "conj", "cov-both-weights", "corrcoef", "vector_norm-axis-ord", "matrix_norm-nuc",
             "linalg.vecdot-axis0", "cond", "cond-1", "fill_diagonal-values", "put_along_axis-values",
             "nanstd-axis", "nanmax-all", "nanquantile", "nanmedian-keepdims", "quantile-midpoint",
             "quantile-nearest", "ediff1d-ends", "cumulative_prod", "insert-several", "delete-list", "resize"]
JAX_CASES = [n for n in JAX_CASES if n in CASES]
assert all(CASES[n][2] for n in JAX_CASES)


@pytest.mark.parametrize("name", JAX_CASES)
def test_values_and_gradients_match_jax(jnp: Any, name: str) -> None:
    import jax
    fn, x, _ = CASES[name]

    def jax_loss(a: Any) -> Any:
        out = fn(jnp, a)
        w = np.cos(np.arange(out.size, dtype=float) + 0.5).reshape(out.shape)
        return (jnp.where(jnp.isnan(out), 0.0, out) * w).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value, grad = symgrad.value_and_grad(weighted(numpy_fn(name)))(x)
    want_value, want_grad = jax.jit(jax.value_and_grad(jax_loss))(x)
    np.testing.assert_allclose(value, float(want_value), rtol=1e-10, atol=1e-12)
    nan = np.isnan(x)
    np.testing.assert_allclose(grad[~nan], np.asarray(want_grad)[~nan], rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- quantile methods

METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
           "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher",
           "midpoint", "nearest"]
Q = np.array([0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.99, 1.0])


@pytest.mark.parametrize("method", METHODS)
def test_every_quantile_method_matches_numpy(method: str) -> None:
    """Every q, one value and an even count, float64, float32, integers, a NaN; nan-aware too."""
    x = RNG.normal(size=(3, 4))
    with_nan = x.copy()
    with_nan[1, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in (x, x[:, :1], x.astype(np.float32), RNG.integers(0, 20, size=(3, 4)), with_nan):
            for fn in (lambda v: np.quantile(v, Q, axis=1, method=method),
                       lambda v: np.nanquantile(v, Q, axis=1, method=method),
                       lambda v: np.nanpercentile(v, 37.0, axis=0, method=method, keepdims=True)):
                want = fn(a)
                got = symgrad.compile(fn)(a)
                assert (got.shape, got.dtype) == (want.shape, want.dtype)
                rtol = 1e-5 if a.dtype == np.float32 else 1e-13
                np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_every_quantile_method_differentiates(method: str) -> None:
    for fn, x in ((lambda a: np.quantile(a, [0.2, 0.45, 0.8], axis=1, method=method), X),
                  (lambda a: np.nanquantile(a, [0.2, 0.8], axis=1, method=method), XN1)):
        loss = weighted(fn)
        nan = np.isnan(x)
        got = symgrad.grad(loss)(x)
        np.testing.assert_allclose(got[~nan], fd_grad(loss, x)[~nan], **FD)
        assert np.all(got[nan] == 0)


# ---------------------------------------------------------------- in place, predicates, indices

def test_fill_diagonal_and_put_along_axis_write_in_place() -> None:
    def f(a: Any) -> Any:
        b = a * 1.0
        np.fill_diagonal(b, 0.0)
        np.put_along_axis(b, np.array([[0], [1], [2], [3]]), a[:, 1:2] ** 2, axis=1)
        return b
    np.testing.assert_allclose(symgrad.compile(f)(SQ), f(SQ.copy()))

    def into_the_argument(a: Any) -> Any:  # the write stays inside the function
        np.fill_diagonal(a, a[0] ** 2)
        return a.sum(0)
    x = SQ.copy()
    np.testing.assert_allclose(symgrad.compile(into_the_argument)(x), into_the_argument(SQ.copy()))
    np.testing.assert_array_equal(x, SQ)
    grad = symgrad.grad(lambda a: into_the_argument(a) @ SQ[0])(x)
    np.testing.assert_allclose(grad, fd_grad(lambda a: into_the_argument(a.copy()) @ SQ[0], x), **FD)
    t = symgrad.tensor(SQ, requires_grad=True)
    (f(t) * symgrad.tensor(SQ)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), symgrad.grad(lambda a: (f(a) * SQ).sum())(SQ), rtol=1e-12)


def test_predicates_and_shape_only_functions() -> None:
    def f(a: Any) -> Any:
        assert np.isrealobj(a) and not np.iscomplexobj(a)
        rows, cols = np.tril_indices_from(a)
        assert np.array_equal(rows, np.tril_indices(4)[0]) and np.array_equal(cols, np.tril_indices(4)[1])
        assert all(np.array_equal(u, v) for u, v in zip(np.diag_indices_from(a), np.diag_indices(4)))
        return np.imag(a).sum() + a.imag.sum() + np.real(a).sum()
    assert symgrad.compile(f)(SQ) == SQ.sum()
    np.testing.assert_array_equal(symgrad.grad(f)(SQ), np.ones_like(SQ))


def test_partition_puts_the_kth_elements_in_place() -> None:
    for kth in (0, 2, (1, 3), -1):
        got = symgrad.compile(lambda a, k=kth: np.partition(a, k, axis=1))(X)
        want = np.partition(X, kth, axis=1)
        np.testing.assert_allclose(got[:, np.ravel(kth)], want[:, np.ravel(kth)])
        idx = symgrad.compile(lambda a, k=kth: np.argpartition(a, k))(X)
        np.testing.assert_allclose(np.take_along_axis(X, idx, 1)[:, np.ravel(kth)], want[:, np.ravel(kth)])


def test_nan_extremes_of_only_nan_are_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in (lambda a: np.nanmax(a, axis=1), lambda a: np.nanmin(a, axis=1),
                   lambda a: np.nanvar(a, axis=1), lambda a: np.nanmedian(a, axis=1)):
            got = symgrad.compile(fn)(XN)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(fn(XN)))
            assert np.isnan(got[2])


def test_integer_inputs_keep_numpy_dtypes() -> None:
    ints = RNG.integers(0, 9, size=(3, 4))
    for fn in (lambda a: np.nanmax(a, 1), lambda a: np.nanprod(a), lambda a: np.nancumsum(a, 0),
               lambda a: np.nanvar(a), lambda a: np.nanmedian(a, 0), lambda a: np.cov(a),
               lambda a: np.quantile(a, 0.5, method="nearest"), lambda a: np.ediff1d(a),
               lambda a: np.insert(a, 1, 2.7, axis=1), lambda a: np.resize(a, 5)):
        want = fn(ints)
        got = symgrad.compile(fn)(ints)
        assert got.dtype == want.dtype and np.allclose(got, want)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn, x, error, match", [
    (lambda a: np.vsplit(a[0], 2), X, ValueError, "vsplit only works on arrays of 2 or more"),
    (lambda a: np.dsplit(a, 2), X, ValueError, "dsplit only works on arrays of 3 or more"),
    (lambda a: np.hsplit(a, 2), X, ValueError, "equal division"),
    (lambda a: np.cov(a[None, None]), X, ValueError, "more than 2 dimensions"),
    (lambda a: np.cov(a, fweights=np.ones(4)), X, RuntimeError, "incompatible numbers of samples"),
    (lambda a: np.cov(a, fweights=np.full(5, 1.5)), X, TypeError, "fweights must be integer"),
    (lambda a: np.cov(a, aweights=-np.ones(5)), X, ValueError, "aweights cannot be negative"),
    (lambda a: np.linalg.matrix_norm(a[0]), X, ValueError, "at least 2-D"),
    (lambda a: np.linalg.vecdot(a, a[:, :2]), X, ValueError, "mismatch in its core dimension"),
    (lambda a: np.linalg.cond(a, 1), X, np.linalg.LinAlgError, "square"),
    (lambda a: np.diag_indices_from(a), X, ValueError, "equal length"),
    (lambda a: np.tril_indices_from(a[0]), X, ValueError, "must be 2-d"),
    (lambda a: np.fill_diagonal(a[0].copy(), 0.0), X, ValueError, "at least 2-d"),
    (lambda a: np.put_along_axis(a.copy(), IDX[0], 0.0, 1), X, ValueError, "same number of dimensions"),
    (lambda a: np.nanvar(a, out=np.zeros(3)), X, TypeError, "out="),
    (lambda a: np.nanquantile(a, 0.5, method="cubic"), X, ValueError, "'cubic' is not a valid method"),
    (lambda a: np.nanpercentile(a, 120), X, ValueError, r"range \[0, 100\]"),
    (lambda a: np.cumulative_sum(a), X, ValueError, "``axis`` argument is required"),
    (lambda a: np.partition(a, 5), X, ValueError, "out of bounds"),
    (lambda a: np.append(a, a[0], axis=0), X, ValueError, "dimension"),
    (lambda a: np.insert(a, 9, 0.0, axis=1), X, IndexError, "out of bounds"),
    (lambda a: np.insert(a, [0, 1], a[:, :3], axis=1), X, ValueError, "could not broadcast"),
    (lambda a: np.delete(a, 7, axis=0), X, IndexError, "out of bounds"),
    (lambda a: np.resize(a, (-1, 2)), X, ValueError, "non-negative"),
], ids=["vsplit", "dsplit", "hsplit-unequal", "cov-3d", "fweights-length", "fweights-integer",
        "aweights-negative", "matrix_norm-1d", "vecdot-sizes", "cond-square", "diag-unequal", "tril-1d",
        "fill-1d", "put-ndim", "out", "method", "percentile-range", "cumulative-axis", "partition-kth",
        "append-ndim", "insert-bounds", "insert-broadcast", "delete-bounds", "resize-negative"])
def test_bad_input_names_the_problem(fn: Callable, x: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        symgrad.trace(fn, x)


def test_nanargmax_of_only_nan_raises_eagerly() -> None:
    with pytest.raises(ValueError, match="All-NaN slice"):
        np.nanargmax(symgrad.tensor(XN), axis=1)
