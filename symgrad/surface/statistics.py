"""Cumulative functions, sorting and order statistics, NaN-aware reductions, and the
`reduce`/`accumulate` methods of NumPy's ufuncs: composites of `symgrad.ops.order`'s
primitives and the reductions.

A sort is `argsort` and a gather of the values at those indices, so gradients scatter back
through the permutation; median and quantile gather at fixed sorted positions. NumPy's
spellings (`np.sort`, `x.cumsum()` flattening, `np.median` averaging the middle two) are
bindings and methods of traced values; PyTorch's (`x.sort()` giving (values, indices),
`x.median()` the lower middle) are the eager Tensor's methods and `symgrad.*` functions.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from symgrad.ops import OPS, Value, apply, dims, lift
from symgrad.ops.dispatch import composite, method, no_out, numpy_function
from symgrad.ops.order import ARGSORT, CUMPROD, CUMSUM, CUMULATIVE_ARGMAX
from symgrad.ops.reduce import accumulating, kept_dtype
from symgrad.ops.shape import stack
from symgrad.surface.composites import logsumexp, mean

# PyTorch's torch.return_types
return_types_sort = namedtuple("sort", ["values", "indices"])
return_types_topk = namedtuple("topk", ["values", "indices"])
return_types_median = namedtuple("median", ["values", "indices"])
return_types_cummax = namedtuple("cummax", ["values", "indices"])
return_types_cummin = namedtuple("cummin", ["values", "indices"])


# ---------------------------------------------------------------- helpers

def take_along(x: Value, idx: Value, axis: int, name: str | None = None, keepdim: bool = True) -> Value:
    """`np.take_along_axis(x, idx, axis)` as an integer-array getitem: its gradient scatters
    back to the elements taken. `idx` has x's shape but along `axis` (which, without
    `keepdim`, it lacks: one element taken per line)."""
    out_dims = [k for k in range(x.ndim) if keepdim or k != axis]
    arrays: list[Any] = []
    for k in range(x.ndim):
        if k == axis:
            arrays.append(idx)
            continue
        shape = [1] * len(out_dims)
        shape[out_dims.index(k)] = x.shape[k]
        arrays.append(np.arange(x.shape[k]).reshape(shape))
    return apply(OPS["getitem"], x, *arrays, index=tuple(("arr", k) for k in range(x.ndim)), _name=name)


def _at(axis: int, item: Any) -> tuple:
    """An index that takes `item` along `axis` and everything along the others."""
    return (slice(None),) * axis + (item,)


def _flat(x: Value, axis: Any) -> tuple[Value, int]:
    """NumPy's axis=None (the flattened value, axis 0) or a non-negative axis."""
    if axis is None:
        return x.reshape(-1), 0
    return x, normalize_axis_index(axis, x.ndim)


def _cumsum(x: Value, axis: int) -> Value:
    return apply(CUMSUM, x, axis=axis, reverse=False)


def _accumulate(op: Any, x: Value, axis: int) -> Value:
    """cumsum or cumprod along `axis`."""
    return _cumsum(x, axis) if op is CUMSUM else apply(op, x, axis=axis)


def _sort(x: Value, axis: int, descending: bool = False, name: str | None = None) -> tuple[Value, Value]:
    """(values, indices) of x sorted along `axis` (stable)."""
    idx = apply(ARGSORT, x, axis=axis, descending=descending)
    return take_along(x, idx, axis, name), idx


def _vector(x: Value) -> tuple[Value, bool]:
    """A 0-d value as a 1-element vector (PyTorch sorts and accumulates scalars), and whether it was."""
    return (x.reshape(1), True) if x.ndim == 0 else (x, False)


def _scalar_back(v: Value, was_scalar: bool) -> Value:
    return v.reshape(()) if was_scalar else v


def _check_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on symgrad values")


# ---------------------------------------------------------------- cumsum, cumprod

def _np_accumulate(op: Any, name: str, a: Any, axis: Any, dtype: Any, out: Any) -> Value:
    """NumPy's cumsum/cumprod: axis=None accumulates the flattened value (so does a 0-d one)."""
    _check_out(name, out)
    x = lift(a)
    if dtype is not None:
        x = x.astype(dtype)
    x, axis = _flat(x if x.ndim else x.reshape(1), axis)
    return _accumulate(op, x, axis)


@method("cumsum", face="numpy")
def _cumsum_numpy(self, axis=None, dtype=None, out=None):
    """Cumulative sum along axis (of the flattened array by default)."""
    return _np_accumulate(CUMSUM, "cumsum", self, axis, dtype, out)


@method("cumprod", face="numpy")
def _cumprod_numpy(self, axis=None, dtype=None, out=None):
    """Cumulative product along axis (of the flattened array by default)."""
    return _np_accumulate(CUMPROD, "cumprod", self, axis, dtype, out)


@numpy_function(np.cumsum)
def _np_cumsum(a, axis=None, dtype=None, out=None):
    return _np_accumulate(CUMSUM, "cumsum", a, axis, dtype, out)


@numpy_function(np.cumprod)
def _np_cumprod(a, axis=None, dtype=None, out=None):
    return _np_accumulate(CUMPROD, "cumprod", a, axis, dtype, out)


def _torch_accumulate(op: Any, x: Value, dim: int, dtype: Any) -> Value:
    x, scalar = _vector(x)
    x = accumulating(x, dtype)
    return _scalar_back(kept_dtype(_accumulate(op, x, dims.axis(dim, x.ndim)), x), scalar)


@method("cumsum", face="torch", function=True, inplace=True)
def cumsum(self, dim, *, dtype=None):
    """Cumulative sum along dim."""
    return _torch_accumulate(CUMSUM, self, dim, dtype)


@method("cumprod", face="torch", function=True, inplace=True)
def cumprod(self, dim, *, dtype=None):
    """Cumulative product along dim (its gradient holds where the input has zeros)."""
    return _torch_accumulate(CUMPROD, self, dim, dtype)


def _cumulative_extreme(x: Value, dim: int, largest: bool) -> Any:
    x, scalar = _vector(x)
    axis = dims.axis(dim, x.ndim)
    idx = apply(CUMULATIVE_ARGMAX, x, axis=axis, largest=largest)
    values = take_along(x, idx, axis, "CummaxBackward0" if largest else "CumminBackward0")
    kind = return_types_cummax if largest else return_types_cummin
    return kind(_scalar_back(values, scalar), _scalar_back(idx, scalar))


@method("cummax", face="torch", function=True)
def cummax(self, dim):
    """(values, indices) of the running maximum along dim; the gradient goes to the maximum."""
    return _cumulative_extreme(self, dim, True)


@method("cummin", face="torch", function=True)
def cummin(self, dim):
    """(values, indices) of the running minimum along dim; the gradient goes to the minimum."""
    return _cumulative_extreme(self, dim, False)


@composite("LogcumsumexpBackward0")
def _logcumsumexp(x: Value, axis: int) -> Value:
    # shifted by the maximum along the axis (detached), so large values do not overflow;
    # values more than ~700 below that maximum underflow to -inf
    shift = x.amax(axis, keepdim=True).detach()
    shift = shift.where(shift.abs() != np.inf, 0.0)
    return _cumsum((x - shift).exp(), axis).log() + shift


@method("logcumsumexp", face="torch", function=True)
def logcumsumexp(self, dim):
    """log(cumsum(exp(x))) along dim, computed from x shifted by its maximum."""
    x, scalar = _vector(self)
    return _scalar_back(_logcumsumexp(x, dims.axis(dim, x.ndim)), scalar)


# ---------------------------------------------------------------- sort, argsort, topk

def _np_sort_args(name: str, a: Any, axis: Any, order: Any) -> tuple[Value, int]:
    """The value and axis np.sort and np.argsort work on (every `kind` gives the same values;
    symgrad's sort is always stable)."""
    if order is not None:
        raise TypeError(f"numpy.{name}: order= (structured arrays) is not supported on symgrad values")
    x = lift(a)
    if x.ndim == 0 and axis is not None:
        raise np.exceptions.AxisError(axis, 0)
    return _flat(x, axis)


@numpy_function(np.sort)
def _np_sort(a, axis=-1, kind=None, order=None, *, stable=None):
    x, axis = _np_sort_args("sort", a, axis, order)
    return _sort(x, axis)[0]


@numpy_function(np.argsort)
def _np_argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    x, axis = _np_sort_args("argsort", a, axis, order)
    return apply(ARGSORT, x, axis=axis, descending=False)


@method("argsort", face="numpy")
def _argsort_numpy(self, axis=-1, kind=None, order=None, *, stable=None):
    """Indices that sort along axis (of the flattened array for None); stable."""
    return _np_argsort(self, axis, kind, order)


@method("sort", face="numpy")
def _sort_numpy(self, axis=-1, kind=None, order=None, *, stable=None):
    raise TypeError(
        "ndarray.sort() sorts in place and returns None; a traced value cannot change in place. "
        "Use x = np.sort(x, axis) instead")


@method("sort", face="torch", function=True)
def sort(self, dim=-1, descending=False, *, stable=None):
    """(values, indices) sorted along dim (ascending unless `descending`); always stable."""
    x, scalar = _vector(self)
    name = "SortBackward0" if stable is None else "SortBackward1"  # PyTorch's two overloads
    values, idx = _sort(x, dims.axis(dim, x.ndim), bool(descending), name)
    return return_types_sort(_scalar_back(values, scalar), _scalar_back(idx, scalar))


@method("argsort", face="torch", function=True)
def argsort(self, dim=-1, descending=False, stable=False):
    """Indices that sort along dim (ascending unless `descending`); stable."""
    x, scalar = _vector(self)
    return _scalar_back(apply(ARGSORT, x, axis=dims.axis(dim, x.ndim), descending=bool(descending)), scalar)


@method("msort", face="torch", function=True)
def msort(self):
    """Values sorted along dim 0."""
    return sort(self, 0).values


@method("topk", face="torch", function=True)
def topk(self, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) along dim, in sorted order."""
    x, scalar = _vector(self)
    axis = dims.axis(dim, x.ndim)
    if not 0 <= k <= x.shape[axis]:
        raise RuntimeError(f"selected index k out of range: k = {k} for dim {dim} of size {x.shape[axis]}")
    idx = apply(ARGSORT, x, axis=axis, descending=bool(largest))[_at(axis, slice(0, k))]
    values = take_along(x, idx, axis, "TopkBackward0")
    return return_types_topk(_scalar_back(values, scalar), _scalar_back(idx, scalar))


# ---------------------------------------------------------------- median, quantile

@numpy_function(np.median)
def _np_median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """NumPy's median: the middle value, or the mean of the middle two for an even count."""
    _check_out("median", out)
    x = lift(a)
    ndim = x.ndim
    x, axis_ = _flat(x, axis)
    n = x.shape[axis_]
    s = _sort(x, axis_)[0]
    lo, hi = s[_at(axis_, (n - 1) // 2)], s[_at(axis_, n // 2)]
    m = (lo + hi) / 2 if n % 2 == 0 else lo if x.dtype.kind == "f" else lo.astype(np.float64)
    return _keep(_nan_if_any(m, s, axis_), axis, ndim, keepdims, ())


def _nan_if_any(v: Value, s: Value, axis: int) -> Value:
    """`v`, NaN where its sorted line `s` holds a NaN (sorted last), as NumPy and PyTorch give."""
    if s.dtype.kind != "f":
        return v
    last = s[_at(axis, -1)]
    return v + last.zeros_like().where(last == last, np.nan)


def _keep(v: Value, axis: Any, ndim: int, keepdims: bool, lead: tuple) -> Value:
    """A reduction's result `v` (with `lead` dims of its own in front) with the reduced axis
    kept as a unit dim (all of them for axis=None), as `keepdims=True` asks."""
    if not keepdims:
        return v
    shape = list(v.shape[len(lead):])
    if axis is None:
        return v.reshape(*lead, *([1] * ndim))
    shape.insert(normalize_axis_index(axis, ndim), 1)
    return v.reshape(*lead, *shape)


def _lerp(a: Value, b: Value, t: Any) -> Value:
    """a + (b - a) * t, as b - (b - a) * (1 - t) where t >= 0.5: NumPy's and PyTorch's rounding.
    `t` is a number, an array or (for a count of non-NaN values) a value of its own."""
    if isinstance(t, np.ndarray) and t.ndim == 0:
        return b - (b - a) * (1 - float(t)) if t >= 0.5 else a + (b - a) * float(t)
    below, above = a + (b - a) * t, b - (b - a) * (1 - t)
    return above.where(t >= 0.5, below)


# NumPy's quantile methods (Hyndman and Fan's, and four more), as NumPy's `_QuantileMethods`:
# where in the sorted sample of `n` values quantile `q` lies (the virtual index), and, for
# those that interpolate, how far between its neighbours (gamma from the fractional part);
# None for those that take one order statistic. Written with ufuncs, so `n` may be a traced
# count of the values that are not NaN as well as a number.

def _virtual(n: Any, q: Any, alpha: float, beta: float) -> Any:
    return n * q + (alpha + q * (1 - alpha - beta)) - 1


def _boundary(index: Any, previous_when: Callable[[Any, Any], Any]) -> Any:
    """The order statistic just below `index` where `previous_when(gamma, index)`, else above."""
    previous = np.floor(index)
    return np.maximum(np.where(previous_when(index - previous, index), previous, previous + 1), 0)


def _odd(v: Any) -> Any:
    return v - 2 * np.floor(v / 2) == 1


_QUANTILE_METHODS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any] | None]] = {
    "inverted_cdf": (lambda n, q: _boundary(n * q - 1, lambda g, _: g == 0), None),
    "averaged_inverted_cdf": (lambda n, q: n * q - 1, lambda g, _: np.where(g == 0, 0.5, 1.0)),
    "closest_observation": (lambda n, q: _boundary(n * q - 1.5, lambda g, i: np.logical_and(
        g == 0, _odd(np.floor(i)))), None),
    "interpolated_inverted_cdf": (lambda n, q: _virtual(n, q, 0, 1), lambda g, _: g),
    "hazen": (lambda n, q: _virtual(n, q, 0.5, 0.5), lambda g, _: g),
    "weibull": (lambda n, q: _virtual(n, q, 0, 0), lambda g, _: g),
    "linear": (lambda n, q: (n - 1) * q, lambda g, _: g),
    "median_unbiased": (lambda n, q: _virtual(n, q, 1 / 3.0, 1 / 3.0), lambda g, _: g),
    "normal_unbiased": (lambda n, q: _virtual(n, q, 3 / 8.0, 3 / 8.0), lambda g, _: g),
    "lower": (lambda n, q: np.floor((n - 1) * q), None),
    "higher": (lambda n, q: np.ceil((n - 1) * q), None),
    "midpoint": (lambda n, q: 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q)),
                 lambda g, i: np.where(np.floor(i) == i, 0.0, 0.5)),
    "nearest": (lambda n, q: np.rint((n - 1) * q), None),
}


def quantile_positions(method: str, n: Any, q: Any) -> tuple[Any, Any, Any]:
    """(below, above, gamma): the sorted positions quantile `q` of `n` values interpolates
    between, and how far (gamma None: the order statistic at `below`), by NumPy's `method`.
    Positions are clipped to [0, n - 1] and are floats (indices after `astype`)."""
    virtual, fix_gamma = _QUANTILE_METHODS[method]
    index = virtual(n, q)
    last = np.maximum(n - 1, 0)
    if fix_gamma is None:
        at = np.minimum(np.maximum(index, 0), last)
        return at, at, None
    previous = np.floor(index)
    outside = np.logical_or(index >= last, index < 0)
    edge = np.where(index < 0, 0, last)
    below = np.where(outside, edge, previous)
    above = np.where(outside, edge, previous + 1)
    return below, above, fix_gamma(index - previous, index)


def _pick(s: Value, axis: int, at: np.ndarray) -> Value:
    """The elements of `s` at positions `at` along `axis`, with at's dims first."""
    if at.ndim == 0:
        return s[_at(axis, int(at))]
    taken = s[_at(axis, at)]  # at's dims at axis: move them to the front
    return taken.permute((*range(axis, axis + at.ndim), *range(axis), *range(axis + at.ndim, taken.ndim)))


def _quantile(x: Value, q: np.ndarray, axis: Any, keepdims: bool, method: str = "linear") -> Value:
    """The quantiles `q` of x along `axis` (flattened for None) by NumPy's `method`, with
    q's dims first, as NumPy and PyTorch order them."""
    ndim = x.ndim
    x, axis_ = _flat(x, axis)
    s = _sort(x, axis_)[0]
    below, above, gamma = quantile_positions(method, x.shape[axis_], q)
    lo = _pick(s, axis_, np.asarray(below, dtype=np.intp))
    if gamma is None:
        out = lo
    else:
        hi = _pick(s, axis_, np.asarray(above, dtype=np.intp))
        t = np.asarray(gamma, dtype=np.float64)  # a 0-d t is taken as a Python float (weak)
        out = _lerp(lo, hi, t.reshape(q.shape + (1,) * (lo.ndim - q.ndim)) if q.ndim else t)
    return _keep(_nan_if_any(out, s, axis_), axis, ndim, keepdims, q.shape)


def nan_quantile_line(x: Value, q: float, d: int, keepdim: bool, method: str = "linear") -> Value:
    """The q-th quantile along `d` of the values that are not NaN (NaN where all are), by
    NumPy's `method`: the count per line is a value, so the positions are too."""
    order = apply(ARGSORT, x, axis=d, descending=False)  # NaN last
    s = take_along(x, order, d)
    count = (x == x).sum(d, keepdim=True).astype(x.dtype)
    below, above, gamma = quantile_positions(method, count, q)
    lo = take_along(s, below.astype(np.int64), d)
    if gamma is not None:  # a gamma made by np.where of Python floats is float64: keep x's dtype
        out = _lerp(lo, take_along(s, above.astype(np.int64), d), gamma.astype(x.dtype))
    else:
        out = lo
    return out if keepdim else out.squeeze(d)


def nan_quantiles(x: Value, q: np.ndarray, axis: Any, keepdims: bool, method: str = "linear") -> Value:
    """The quantiles `q` of the values of x that are not NaN, along `axis` (flattened for None),
    with q's dims first; a line of only NaN gives NaN."""
    line, d = (x.reshape(-1), 0) if axis is None else (x, normalize_axis_index(axis, x.ndim))
    outs = [nan_quantile_line(line, float(v), d, False, method) for v in q.reshape(-1)]
    out = outs[0] if q.ndim == 0 else stack(outs).reshape(q.shape + tuple(outs[0].shape))
    return _keep(out, axis, x.ndim, keepdims, q.shape)


def np_q(name: str, q: Any, scale: float) -> np.ndarray:
    if isinstance(q, Value) and type(q) is not Value._default:
        raise TypeError(f"numpy.{name}: q must be known when tracing (a number or an array), "
                        "not a traced value")
    q = np.asarray(q, dtype=np.float64) / scale
    if np.any((q < 0) | (q > 1)):
        raise ValueError("Percentiles must be in the range [0, 100]" if scale == 100
                         else "Quantiles must be in the range [0, 1]")
    return q


def np_quantile_method(name: str, method: str, out: Any, weights: Any, interpolation: Any) -> str:
    """NumPy's quantile method (`interpolation=` is its old name), checked."""
    _check_out(name, out)
    if interpolation is not None:
        method = interpolation
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"'{method}' is not a valid method. Use one of: {tuple(_QUANTILE_METHODS)}")
    if weights is not None:
        raise TypeError(f"numpy.{name}: weights= is not supported on symgrad values")
    return method


@numpy_function(np.quantile)
def _np_quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                 weights=None, interpolation=None):
    method = np_quantile_method("quantile", method, out, weights, interpolation)
    return _quantile(lift(a), np_q("quantile", q, 1.0), axis, keepdims, method)


@numpy_function(np.percentile)
def _np_percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                   weights=None, interpolation=None):
    method = np_quantile_method("percentile", method, out, weights, interpolation)
    return _quantile(lift(a), np_q("percentile", q, 100.0), axis, keepdims, method)


@composite("SqueezeBackward4")  # PyTorch's quantile ends in a squeeze
def _torch_quantile(x: Value, q: np.ndarray, dim: int | None, keepdim: bool) -> Value:
    return _quantile(x, q, dim, keepdim)


def torch_quantiles(name: str, q: Any, interpolation: str) -> np.ndarray:
    """PyTorch's `q` of quantile and nanquantile, checked: numbers in [0, 1], at most 1-D."""
    if interpolation != "linear":
        raise RuntimeError(f"{name}() interpolation must be 'linear' in symgrad, got '{interpolation}'")
    if isinstance(q, Value) and type(q) is not Value._default:
        raise TypeError(f"{name}(): q must be a number or a tensor of numbers, not a traced value")
    q = np.asarray(q, dtype=np.float64)
    if q.ndim > 1:
        raise RuntimeError(f"quantile() input q must be a scalar or 1D tensor, but got {q.ndim}D")
    if np.any((q < 0) | (q > 1)):
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    return q


def torch_quantile(name: str, quantiles: Callable, self: Value, q: Any, dim: Any, keepdim: bool,
                   interpolation: str) -> Value:
    """PyTorch's quantile and nanquantile around `quantiles(x, q, axis, keepdim)`: q checked,
    dim resolved, a 0-d input's result shaped as q."""
    q = torch_quantiles(name, q, interpolation)
    x, scalar = _vector(self)
    axis = None if dim is None else dims.axis(dim, x.ndim)
    out = quantiles(x, q, axis, bool(keepdim))
    return out.reshape(q.shape) if scalar and not keepdim else out


@method("quantile", face="torch", function=True)
def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles along dim (of all elements for None), interpolating linearly."""
    return torch_quantile("quantile", _torch_quantile, self, q, dim, keepdim, interpolation)


@method("median", face="torch", function=True)
def median(self, dim=None, keepdim=False):
    """The lower median of all elements; along dim, (values, indices) of the lower medians."""
    if dim is None:
        flat = self.reshape(-1)
        idx = apply(ARGSORT, flat, axis=0, descending=False)[(flat.shape[0] - 1) // 2]
        return take_along(flat, _first_nan_wins(flat, idx, 0, False), 0, "MedianBackward0", keepdim=False)
    x, scalar = _vector(self)
    axis = dims.axis(dim, x.ndim)
    middle = (x.shape[axis] - 1) // 2
    keep = bool(keepdim) and not scalar
    at = slice(middle, middle + 1) if keep else middle
    idx = _first_nan_wins(x, apply(ARGSORT, x, axis=axis, descending=False)[_at(axis, at)], axis, keep)
    return return_types_median(take_along(x, idx, axis, "MedianBackward1", keepdim=keep), idx)


def _first_nan_wins(x: Value, idx: Value, axis: int, keep: bool) -> Value:
    """PyTorch's median of a line holding a NaN is its first NaN (the sort puts NaNs last)."""
    nan = x.isnan()
    return apply(OPS["where"], nan.any(axis, keepdim=keep), nan.argmax(axis, keepdim=keep), idx)


# ---------------------------------------------------------------- ptp, average

@numpy_function(np.ptp)
def _np_ptp(a, axis=None, out=None, keepdims=False):
    _check_out("ptp", out)
    x = lift(a)
    dim = () if axis is None else dims.numpy_axis(axis)
    return x.amax(dim, keepdim=bool(keepdims)) - x.amin(dim, keepdim=bool(keepdims))


@numpy_function(np.average)
def _np_average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """NumPy's weighted mean; with `returned`, also the sum of the weights."""
    x = lift(a, a, weights)
    dim = None if axis is None else dims.numpy_axis(axis)
    if weights is None:
        avg = mean(x, dim, bool(keepdims))
        count = np.full(avg.shape, x.numel() / max(avg.numel(), 1), dtype=np.result_type(avg.dtype, 1.0))
        scale = lift(count, avg)
        return (avg, scale) if returned else avg
    w = lift(weights, a, weights)
    if tuple(w.shape) != tuple(x.shape):
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if w.ndim != 1:
            raise TypeError("1D weights expected when shapes of a and weights differ.")
        axes = normalize_axis_tuple(axis, x.ndim)
        if len(axes) != 1 or w.shape[0] != x.shape[axes[0]]:
            raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
        w = w.reshape(*[n if k == axes[0] else 1 for k, n in enumerate(x.shape)])
    scale = w.sum(dim, keepdim=bool(keepdims))
    avg = (x * w).sum(dim, keepdim=bool(keepdims)) / scale
    if returned:
        return avg, scale.broadcast_to(avg.shape) if tuple(scale.shape) != tuple(avg.shape) else scale
    return avg


# ---------------------------------------------------------------- NaN-aware, any, all, count_nonzero

@composite("NansumBackward0")
def _nansum(x: Value, dim: Any, keepdim: bool) -> Value:
    if x.dtype.kind in "biu":  # no NaN to skip: the sum, in its integer dtype
        return x.sum(dim, keepdim=keepdim)
    return x.where(x == x, 0.0).sum(dim, keepdim=keepdim)  # x != x only at NaN


def _nanmean(x: Value, dim: Any, keepdim: bool) -> Value:
    """The mean of the values that are not NaN (their gradient is zero)."""
    count = (x == x).astype(np.int64).sum(dim, keepdim=keepdim)
    return _nansum(x, dim, keepdim) / count


@numpy_function(np.nansum)
def _np_nansum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    no_out("nansum", out, **kw)
    x = lift(a)
    return _nansum(x if dtype is None else x.astype(dtype), dims.numpy_axis(axis), bool(keepdims))


@numpy_function(np.nanmean)
def _np_nanmean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    no_out("nanmean", out, **kw)
    x = lift(a)
    return _nanmean(x if dtype is None else x.astype(dtype), dims.numpy_axis(axis), bool(keepdims))


@method("nansum", function=True)
def nansum(self, dim=None, keepdim=False, *, dtype=None):
    """Sum over dim treating NaN as zero."""
    return _nansum(accumulating(self, dtype), dim, bool(keepdim))


@method("nanmean", function=True)
def nanmean(self, dim=None, keepdim=False, *, dtype=None):
    """Mean over dim of the elements that are not NaN."""
    return _nanmean(self if dtype is None else self.astype(dtype), dim, bool(keepdim))


def _nonzeros(x: Value, dim: Any, keepdim: bool) -> Value:
    return (x != 0).astype(np.int64).sum(dim, keepdim=keepdim)


@method("count_nonzero", function=True)
def count_nonzero(self, dim=None):
    """How many elements are not zero (along dim)."""
    return _nonzeros(self, dim, False)


@numpy_function(np.count_nonzero)
def _np_count_nonzero(a, axis=None, *, keepdims=False):
    return _nonzeros(lift(a), dims.numpy_axis(axis), bool(keepdims))


@method("any", function=True)
def any_(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
    """Whether any element (along dim) is not zero; ndarray's axis=/keepdims= too."""
    _check_out("any", out)
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return _nonzeros(self, dim, bool(keepdim)) > 0


@method("all", function=True)
def all_(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
    """Whether every element (along dim) is not zero; ndarray's axis=/keepdims= too."""
    _check_out("all", out)
    dim, keepdim = dims.numpy_dims(dim, keepdim, axis, keepdims)
    return (self == 0).astype(np.int64).sum(dim, keepdim=bool(keepdim)) == 0


@numpy_function(np.any)
def _np_any(a, axis=None, out=None, keepdims=False, **kw):
    no_out("any", out, **kw)
    return any_(lift(a), dims.numpy_axis(axis), bool(keepdims))


@numpy_function(np.all)
def _np_all(a, axis=None, out=None, keepdims=False, **kw):
    no_out("all", out, **kw)
    return all_(lift(a), dims.numpy_axis(axis), bool(keepdims))


# ---------------------------------------------------------------- ufunc.reduce, ufunc.accumulate

def _logsumexp(x: Value, dim: Any, keepdim: bool) -> Value:
    return logsumexp(x, dims.axes(dim, x.ndim), keepdim)


_REDUCE: dict[np.ufunc, Callable[[Value, Any, bool], Value]] = {
    np.add: lambda x, dim, keepdim: x.sum(dim, keepdim=keepdim),
    np.multiply: lambda x, dim, keepdim: x.prod(dim, keepdim=keepdim),
    np.maximum: lambda x, dim, keepdim: x.amax(() if dim is None else dim, keepdim=keepdim),
    np.minimum: lambda x, dim, keepdim: x.amin(() if dim is None else dim, keepdim=keepdim),
    np.logaddexp: _logsumexp,
}
_ACCUMULATE: dict[np.ufunc, Callable[[Value, int], Value]] = {
    np.add: _cumsum,
    np.multiply: lambda x, axis: _accumulate(CUMPROD, x, axis),
    np.maximum: lambda x, axis: _cumulative_extreme(x, axis, True).values,
    np.minimum: lambda x, axis: _cumulative_extreme(x, axis, False).values,
    np.logaddexp: _logcumsumexp,
}


def ufunc_method(uf: np.ufunc, kind: str, inputs: tuple, kwargs: dict) -> Value:
    """`np.add.reduce(x, axis)`, `np.maximum.accumulate(x, axis)`...: the reduction or
    cumulative function each of add, multiply, maximum, minimum and logaddexp stands for."""
    table = _REDUCE if kind == "reduce" else _ACCUMULATE
    if uf not in table or len(inputs) != 1:
        raise TypeError(f"numpy.{uf.__name__}.{kind} is not supported on symgrad values")
    kwargs = dict(kwargs)
    _check_out(f"{uf.__name__}.{kind}", kwargs.pop("out", None))
    axis, dtype = kwargs.pop("axis", 0), kwargs.pop("dtype", None)
    keepdims = kwargs.pop("keepdims", False)
    if kwargs:
        raise TypeError(f"numpy.{uf.__name__}.{kind}: unsupported argument(s) {', '.join(sorted(kwargs))}")
    x = lift(inputs[0])
    if dtype is not None:
        x = x.astype(dtype)
    if kind == "reduce":
        dim = None if axis is None else normalize_axis_tuple(axis, x.ndim)
        return table[uf](x, dim, bool(keepdims))
    if x.ndim == 0:
        raise TypeError("cannot accumulate on a scalar")
    if axis is None or not isinstance(axis, (int, np.integer)):
        raise ValueError("accumulate does not allow multiple axes")
    return table[uf](x, normalize_axis_index(axis, x.ndim))
