"""NumPy's signal-processing and numerical-analysis functions on symgrad values: convolve,
correlate, interp (and searchsorted), trapezoid, gradient, sinc, select, piecewise, the
polynomial helpers, bincount, and the `outer` and `at` methods of ufuncs.

Each is a composite of existing primitives, so its gradient (to any order) comes from
theirs: a correlation gathers the windows of the longer operand and multiplies them by the
shorter one (one gather and one matmul); interp gathers the knots and slopes around each
point at `searchsorted` indices (the one primitive, in `symgrad.ops.signal_ops`, with no
gradient); bincount scatters its weights. NumPy's signatures, modes and errors are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from symgrad.ops import Value, apply, lift
from symgrad.ops.dispatch import method, numpy_function
from symgrad.ops.signal_ops import SEARCHSORTED
from symgrad.surface import numpy_binding

# ---------------------------------------------------------------- searchsorted


def _searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Value:
    if side not in ("left", "right"):
        raise ValueError(f"search side must be 'left' or 'right' (got {side!r})")
    a = lift(a, a, v)
    if a.ndim != 1:
        raise ValueError("object too deep for desired array" if a.ndim else "object of too small depth "
                         "for desired array")
    if sorter is not None:
        a = a[sorter]
    return apply(SEARCHSORTED, a, lift(v, a, v), side=side)


@method("searchsorted", face="numpy")
def searchsorted_method(self, v, side="left", sorter=None):
    """Indices where the values `v` would be inserted into this sorted 1-d array (no gradient)."""
    return _searchsorted(self, v, side, sorter)


@numpy_function(np.searchsorted)
def _np_searchsorted(a, v, side="left", sorter=None):
    return _searchsorted(a, v, side, sorter)


# ---------------------------------------------------------------- convolve, correlate

_MODES = {"valid": "valid", "same": "same", "full": "full", 0: "valid", 1: "same", 2: "full"}


def _mode(mode: Any) -> str:
    found = _MODES.get(mode) if isinstance(mode, (str, int)) and not isinstance(mode, bool) else None
    if found is None:
        raise ValueError("Use one of 'valid', 'same', or 'full' for convolve/correlate mode")
    return found


def _sequence(x: Any, like: tuple, empty: str) -> Value:
    """A convolve/correlate operand as a 1-d value (a scalar is one element), as NumPy checks it."""
    v = lift(x, *like)
    if v.ndim > 1:
        raise ValueError("object too deep for desired array")
    if v.ndim == 0:
        return v.reshape(1)
    if v.shape[0] == 0:
        raise ValueError(empty)
    return v


def _windows_times(a: Value, v: Value, start: int, stop: int) -> Value:
    """Elements start:stop of the full correlation c[k] = sum_j a[k - m + 1 + j] v[j] (a taken
    as zero outside its range), for len(a) = n >= m = len(v): the windows of a that those
    outputs read, zero-padded where they overhang, times v."""
    n, m = a.shape[0], v.shape[0]
    lo, hi = start - (m - 1), stop  # the elements of a they read: lo <= i < hi
    part = a if lo <= 0 and hi >= n else a[max(lo, 0):min(hi, n)]
    if lo < 0 or hi > n:
        part = np.pad(part, (max(-lo, 0), max(hi - n, 0)))
    return np.lib.stride_tricks.sliding_window_view(part, m) @ v


def _correlation(a: Value, v: Value, mode: str) -> Value:
    """NumPy's correlate(a, v, mode) for real 1-d values of any lengths."""
    n, m = a.shape[0], v.shape[0]
    if n < m:  # as NumPy: correlate(v, a), reversed (c[k] is its element n + m - 2 - k)
        return _windows_times(v, a, *_extent(m, n, mode))[::-1]
    start, stop = _extent(n, m, mode)
    return _windows_times(a, v, start, stop)


def _extent(n: int, m: int, mode: str) -> tuple[int, int]:
    """The slice of the full correlation of lengths n >= m that `mode` keeps."""
    if mode == "full":
        return 0, n + m - 1
    if mode == "valid":
        return m - 1, n
    start = (m - 1) - m // 2
    return start, start + n


@numpy_function(np.correlate)
def _np_correlate(a, v, mode="valid"):
    mode = _mode(mode)
    x = _sequence(a, (a, v), "first array argument cannot be empty")
    y = _sequence(v, (a, v), "second array argument cannot be empty")
    return _correlation(x, y, mode)


@numpy_function(np.convolve)
def _np_convolve(a, v, mode="full"):
    x = _sequence(a, (a, v), "a cannot be empty")
    y = _sequence(v, (a, v), "v cannot be empty")
    if y.shape[0] > x.shape[0]:  # NumPy's convolve slides the shorter operand
        x, y = y, x
    return _correlation(x, y[::-1], _mode(mode))


# ---------------------------------------------------------------- interp

def _cast(x: Value, dtype: Any) -> Value:
    return x if x.dtype == dtype else x.astype(dtype)


def _as_float(x: Value) -> Value:
    return _cast(x, np.float64)


def _periodic(x: Value, xp: Value, fp: Value, period: Any) -> tuple[Value, Value, Value]:
    """NumPy's interp with `period`: all taken modulo the period, the knots sorted and
    extended by one on each side across the wrap."""
    if period == 0:
        raise ValueError("period must be a non-zero value")
    period = abs(period)
    x, xp = x % period, xp % period
    order = np.argsort(xp)
    xp, fp = xp[order], fp[order]
    xp = np.concatenate([xp[-1:] - period, xp, xp[:1] + period])
    fp = np.concatenate([fp[-1:], fp, fp[:1]])
    return x, xp, fp


@numpy_function(np.interp)
def _np_interp(x, xp, fp, left=None, right=None, period=None):
    like = (x, xp, fp, left, right)
    x, xp, fp = (_as_float(lift(a, *like)) for a in (x, xp, fp))
    if xp.ndim != 1 or fp.ndim != 1:
        raise ValueError("object too deep for desired array" if max(xp.ndim, fp.ndim) > 1 else
                         "object of too small depth for desired array")
    if fp.shape[0] != xp.shape[0]:
        raise ValueError("fp and xp are not of the same length.")
    if xp.shape[0] == 0:
        raise ValueError("array of sample points is empty")
    if period is not None:
        x, xp, fp = _periodic(x, xp, fp, period)
        left = right = None
    # Points clipped to the knots' range (so past either end, infinities too, they take the
    # end's value exactly, as NumPy gives); the knot at or below each, and the slope after it:
    # 0 after the last knot, so a point at it takes fp[-1] exactly too.
    inside = np.clip(x, xp[0], xp[-1])
    at = np.searchsorted(xp, inside, side="right") - 1
    width = np.diff(xp)
    slopes = np.diff(fp) / np.where(width == 0, 1.0, width)  # equal knots: a slope never used
    slopes = np.concatenate([slopes, np.zeros(1)])
    y = fp[at] + slopes[at] * (inside - xp[at])
    y = y if left is None else np.where(x < xp[0], left, y)
    return y if right is None else np.where(x > xp[-1], right, y)


# ---------------------------------------------------------------- trapezoid, gradient

def _along(ndim: int, axis: int, item: Any) -> tuple:
    index = [slice(None)] * ndim
    index[axis] = item
    return tuple(index)


# np.trapz is NumPy 1's name (gone from NumPy 2.4)
_TRAPEZOIDS = tuple(f for f in (getattr(np, "trapezoid", None), getattr(np, "trapz", None)) if f is not None)


@numpy_function(*_TRAPEZOIDS)
def _np_trapezoid(y, x=None, dx=1.0, axis=-1):
    y = lift(y, y, x, dx)
    if x is None:
        d = dx
    else:
        x = lift(x, y)
        if x.ndim == 1:
            d = np.diff(x)
            shape = [1] * y.ndim
            shape[axis] = d.shape[0]
            d = d.reshape(shape)
        else:
            d = np.diff(x, axis=axis)
    ahead, behind = _along(y.ndim, axis, slice(1, None)), _along(y.ndim, axis, slice(None, -1))
    return (d * (y[ahead] + y[behind]) / 2.0).sum(axis)


def _spacings(f: Value, axes: tuple[int, ...], varargs: tuple) -> list[Any]:
    """Each axis's spacing: a scalar, or the differences of its coordinates (a scalar if
    the coordinates are NumPy's and evenly spaced, as NumPy reduces them)."""
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return list(varargs) * len(axes)
    if len(varargs) != len(axes):
        raise TypeError("invalid number of arguments")
    out = []
    for axis, distances in zip(axes, varargs):
        if np.ndim(distances) == 0:
            out.append(distances)
            continue
        if np.ndim(distances) != 1:
            raise ValueError("distances must be either scalars or 1d")
        if len(distances) != f.shape[axis]:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        if isinstance(distances, Value):
            out.append(np.diff(_as_float(distances) if distances.dtype.kind in "iub" else distances))
            continue
        distances = np.asarray(distances)
        diffx = np.diff(distances.astype(np.float64) if distances.dtype.kind in "iub" else distances)
        out.append(diffx[0] if (diffx == diffx[0]).all() else diffx)
    return out


def _derivative(f: Value, axis: int, dx: Any, edge_order: int) -> Value:
    """NumPy's gradient along one axis: central differences inside, one-sided at the ends."""
    def at(item: Any) -> Value:
        return f[_along(f.ndim, axis, item)]

    uniform = np.ndim(dx) == 0
    if uniform:
        inner = (at(slice(2, None)) - at(slice(None, -2))) / (2.0 * dx)
    else:
        shape = [1] * f.ndim
        shape[axis] = -1
        dx1, dx2 = dx[:-1], dx[1:]
        a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(shape)
        b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
        c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
        inner = a * at(slice(None, -2)) + b * at(slice(1, -1)) + c * at(slice(2, None))
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) / (dx if uniform else dx[0])
        last = (at(slice(-1, None)) - at(slice(-2, -1))) / (dx if uniform else dx[-1])
    else:
        if uniform:
            a, b, c = -1.5 / dx, 2.0 / dx, -0.5 / dx
        else:
            dx1, dx2 = dx[0], dx[1]
            a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
            b = (dx1 + dx2) / (dx1 * dx2)
            c = -dx1 / (dx2 * (dx1 + dx2))
        first = a * at(slice(0, 1)) + b * at(slice(1, 2)) + c * at(slice(2, 3))
        if uniform:
            a, b, c = 0.5 / dx, -2.0 / dx, 1.5 / dx
        else:
            dx1, dx2 = dx[-2], dx[-1]
            a = dx2 / (dx1 * (dx1 + dx2))
            b = -(dx2 + dx1) / (dx1 * dx2)
            c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
        last = a * at(slice(-3, -2)) + b * at(slice(-2, -1)) + c * at(slice(-1, None))
    return np.concatenate([first, inner, last], axis=axis)


@numpy_function(np.gradient)
def _np_gradient(f, *varargs, axis=None, edge_order=1):
    f = lift(f, f, *varargs)
    axes = tuple(range(f.ndim)) if axis is None else normalize_axis_tuple(axis, f.ndim)
    spacings = _spacings(f, axes, varargs)
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    if f.dtype.kind not in "fc":
        f = _as_float(f)
    out = []
    for ax, dx in zip(axes, spacings):
        if f.shape[ax] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        out.append(_cast(_derivative(f, ax, dx, edge_order), f.dtype))
    return out[0] if len(out) == 1 else tuple(out)


# ---------------------------------------------------------------- sinc

@numpy_function(np.sinc)
def _np_sinc(x):
    """sin(pi x) / (pi x), 1 at 0. Near 0 (|pi x| < 0.05) the quotient's derivatives cancel
    catastrophically, so there its Taylor polynomial (exact to rounding) gives the value and
    every derivative; elsewhere it is NumPy's quotient."""
    y = np.pi * lift(x)
    near = abs(y) < 0.05
    z = y * y
    taylor = 1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z / 362880.0)))
    y = np.where(near, 1.0, y)
    return np.where(near, taylor, np.sin(y) / y)


# ---------------------------------------------------------------- select, piecewise

def _mask(cond: Any, i: int) -> Any:
    dtype = cond.dtype if isinstance(cond, Value) else np.asarray(cond).dtype
    if dtype != np.bool_:
        raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    return cond


@numpy_function(np.select)
def _np_select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = [_mask(c, i) for i, c in enumerate(condlist)]
    dtype = np.result_type(*[c.dtype if isinstance(c, Value) else c for c in (*choicelist, default)])
    result = default
    for cond, choice in zip(reversed(conds), reversed(list(choicelist))):
        result = np.where(cond, choice, result)
    result = lift(result, *conds, *choicelist)
    return result if result.dtype == dtype else result.astype(dtype)


@numpy_function(np.piecewise)
def _np_piecewise(x, condlist, funclist, *args, **kw):
    """NumPy's piecewise. Constant conditions write each function's values into its
    elements, as NumPy does; traced ones (`x < 0`) cannot pick elements, so each function
    runs on all of x and `where` keeps its part: the functions must then act elementwise."""
    x = lift(x, x, *(condlist if isinstance(condlist, (list, tuple)) else (condlist,)))
    if isinstance(condlist, Value):  # as NumPy takes an array: a stack of conditions if 2-d or more
        condlist = [condlist] if condlist.ndim < 2 or x.ndim == 0 else [c for c in condlist]
    elif np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray, Value)) and x.ndim != 0):
        condlist = [condlist]
    traced = any(isinstance(c, Value) for c in condlist)
    if traced:
        conds = [_cast(lift(c, x), np.bool_) for c in condlist]
    else:
        conds = list(np.asarray(condlist, dtype=bool))
    n = len(conds)
    if n == len(funclist) - 1:  # the "otherwise" condition
        anyof = conds[0]
        for c in conds[1:]:
            anyof = anyof | c
        conds.append(~anyof)
    elif n != len(funclist):
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    y = np.zeros_like(x)
    for cond, func in zip(conds, funclist):
        if traced:
            value = func(x, *args, **kw) if callable(func) else func
            y = _cast(np.where(cond, value, y), x.dtype)
        elif np.any(cond):
            y[cond] = func(x[cond], *args, **kw) if callable(func) else func
    return y


# ---------------------------------------------------------------- polynomials

def _coefficients(p: Any) -> list[Any]:
    """The coefficients, highest power first: a list's items or an array's rows."""
    if isinstance(p, (list, tuple)):
        return list(p)
    return [p[i] for i in range(len(p))]


@numpy_function(np.polyval)
def _np_polyval(p, x):
    """Horner's rule, as NumPy evaluates it."""
    y = np.zeros_like(x)
    for c in _coefficients(p):
        y = y * x + c
    return y


@numpy_function(np.polyder)
def _np_polyder(p, m=1):
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = lift(p)
    if p.ndim != 1:  # NumPy's own code fails on other ranks, with a broadcasting ValueError
        raise ValueError(f"polyder: expected a 1-D array of coefficients, got shape {tuple(p.shape)}")
    for _ in range(m):
        p = p[:-1] * np.arange(p.shape[0] - 1, 0, -1)
    return p


@numpy_function(np.polyint)
def _np_polyint(p, m=1, k=None):
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = np.zeros(m, float) if k is None else np.atleast_1d(k)
    if len(k) == 1 and m > 1:
        k = k[0] * np.ones(m, float)
    if len(k) < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = lift(p, p, k)
    for i in range(m):
        p = np.concatenate([p / np.arange(p.shape[0], 0, -1), lift(k[i], p).reshape(1)])
    return p


# ---------------------------------------------------------------- bincount

@numpy_function(np.bincount)
def _np_bincount(x, /, weights=None, minlength=0):
    if isinstance(x, Value) and type(x) is not Value._default:
        raise TypeError("numpy.bincount: how many bins there are depends on the values of x, so x "
                        "cannot be traced; pass x as a NumPy integer array (weights may be traced)")
    idx = np.asarray(x)
    counts = np.bincount(idx, minlength=minlength)  # NumPy's own checks of x and minlength
    if weights is None:
        return lift(counts)
    w = _as_float(lift(weights))
    if w.shape != idx.shape:
        raise ValueError("The weights and list don't have the same length.")
    return w._scatter(counts.shape, (("arr", 0),), (idx.astype(np.intp),))


# ---------------------------------------------------------------- ufunc.outer, ufunc.at

def ufunc_method(uf: np.ufunc, kind: str, inputs: tuple, kwargs: dict) -> Value | None:
    """`np.subtract.outer(x, y)` (every pair: the shape x.shape + y.shape, as GP kernels use
    it) and `np.add.at(a, idx, v)` (adds v at idx into a in place, repeated indices
    accumulating; so does subtract)."""
    if kind == "outer":
        if uf.nin != 2:
            raise ValueError("outer product only supported for binary functions")
        if len(inputs) != 2:
            raise TypeError("exactly two arguments expected")
        x, y = (lift(v, *inputs) for v in inputs)
        return numpy_binding.ufunc(uf, (x.reshape(x.shape + (1,) * y.ndim), y), kwargs)
    if uf not in (np.add, np.subtract) or len(inputs) != 3:
        raise TypeError(f"numpy.{uf.__name__}.at is not supported on symgrad values (add.at and "
                        "subtract.at are)")
    a, index, values = inputs
    if not isinstance(a, Value):
        raise TypeError(f"numpy.{uf.__name__}.at would write symgrad values into a NumPy array; add into "
                        "a symgrad value instead: a = np.zeros_like(x); np.add.at(a, idx, v)")
    values = -lift(values, a) if uf is np.subtract else values
    indices = index if isinstance(index, tuple) else (index,)
    if hasattr(a, "index_put_"):  # an eager Tensor: PyTorch's in-place form, with its checks
        a.index_put_(indices, values, accumulate=True)
    else:  # a traced value now stands for the sum, written as item assignment writes
        a._write(a.index_put(indices, values, accumulate=True))
    return None

