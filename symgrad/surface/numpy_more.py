"""More of NumPy on symgrad values, each a composite of existing ops with NumPy's signature
and meaning: the split family, the complex-number functions (symgrad's dtypes are real),
`cov` and `corrcoef`, the array-API linear algebra (`vector_norm`, `vecdot`, `matvec`...),
diagonal and along-axis writes, the NaN-aware reductions, and the insert/delete family.

Gradients come from the ops these are made of: a NaN-aware reduction fills the NaN with the
reduction's identity through `where`, so they get no gradient; `insert`, `delete` and
`resize` are gathers at static positions, so gradients scatter back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from symgrad.ops import Value, apply, dims, lift
from symgrad.ops.core import ShapeError
from symgrad.ops.decompositions import INV, _singular_values, check_square, matrix_norm_of, vector_norm_of
from symgrad.ops.dispatch import method, no_out, numpy_function
from symgrad.ops.order import CUMPROD, CUMSUM
from symgrad.ops.shape import cat
from symgrad.surface import ndarray
from symgrad.surface.statistics import (
    _at,
    _np_accumulate,
    _quantile,
    nan_quantiles,
    np_q,
    np_quantile_method,
)


def _traced(v: Any) -> bool:
    """Whether `v` is a value whose numbers are not known (a tracer), so cannot be checked."""
    return isinstance(v, Value) and type(v) is not Value._default


# ---------------------------------------------------------------- the split family

@numpy_function(np.hsplit)
def _np_hsplit(ary, indices_or_sections):
    x = lift(ary)
    if x.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return np.split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


@numpy_function(np.vsplit)
def _np_vsplit(ary, indices_or_sections):
    x = lift(ary)
    if x.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return np.split(x, indices_or_sections, 0)


@numpy_function(np.dsplit)
def _np_dsplit(ary, indices_or_sections):
    x = lift(ary)
    if x.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return np.split(x, indices_or_sections, 2)


# ---------------------------------------------------------------- complex numbers: real values

@numpy_function(np.real)
def _np_real(val):
    return lift(val)


@numpy_function(np.imag)
def _np_imag(val):
    return lift(val).zeros_like()


@numpy_function(np.conjugate)
def _np_conjugate(x, /, out=None, **kwargs):
    """np.conj: the value itself, as np.positive (real dtypes)."""
    no_out("conjugate", out, **kwargs)
    return lift(x)


@method("conjugate", face="numpy")
def conjugate(self: Any) -> Any:
    """ndarray.conjugate(): the value itself (symgrad's dtypes are real)."""
    return self


@numpy_function(np.iscomplexobj)
def _np_iscomplexobj(x):
    return False


@numpy_function(np.isrealobj)
def _np_isrealobj(x):
    return True


@numpy_function(np.real_if_close)
def _np_real_if_close(a, tol=100):
    return lift(a)


# ---------------------------------------------------------------- cov, corrcoef

def _as_rows(name: str, m: Any, rowvar: bool, dtype: Any) -> Value:
    """The variables of `m` as rows, in `dtype` (at least float64 for integers, as NumPy)."""
    x = lift(m)
    if x.ndim > 2:
        raise ValueError(f"{name} has more than 2 dimensions")
    dtype = np.result_type(x.dtype, np.float64) if dtype is None else np.dtype(dtype)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    x = x if x.dtype == dtype else x.astype(dtype)
    return x.mT if not rowvar and x.shape[0] != 1 else x


def _weights(kind: str, w: Any, n: int, x: Value) -> Any:
    """fweights or aweights, checked as NumPy checks them where their values are known."""
    if not _traced(w):
        w = np.asarray(w, dtype=float if kind == "aweights" else None)
        if kind == "fweights" and not np.all(w == np.around(w)):
            raise TypeError("fweights must be integer")
    if np.ndim(w) > 1:
        raise RuntimeError(f"cannot handle multidimensional {kind}")
    if np.shape(w)[0] != n:
        raise RuntimeError(f"incompatible numbers of samples and {kind}")
    if not _traced(w) and np.any(w < 0):
        raise ValueError(f"{kind} cannot be negative")
    return lift(w, x)


@numpy_function(np.cov)
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Value:
    """NumPy's covariance matrix of the variables in the rows of m (columns, if not rowvar):
    divided by n - 1 (n with `bias`, n - ddof), frequency and reliability weights as NumPy."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    x = _as_rows("m", m, rowvar, dtype)
    if y is not None:
        x = cat([x, _as_rows("y", y, rowvar, x.dtype)], 0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = x.shape[1]
    w = None if fweights is None else _weights("fweights", fweights, n, x)
    if aweights is not None:
        a = _weights("aweights", aweights, n, x)
        w = a if w is None else w * a
    if w is None:
        centred = x - x.mean(1, keepdim=True)
        fact: Any = max(n - ddof, 0)
        product = centred @ centred.mT
    else:
        total = w.sum()
        centred = x - (x * w).sum(1, keepdim=True) / total
        if ddof == 0:
            fact = total
        elif aweights is None:
            fact = total - ddof
        else:
            fact = total - ddof * (w * a).sum() / total
        product = (centred * w) @ centred.mT
    return (product / fact).squeeze()


@numpy_function(np.corrcoef)
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Value:
    """Pearson's correlation coefficients: the covariance over the product of the deviations,
    clipped to [-1, 1] as NumPy does."""
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    return (c / std.reshape(-1, 1) / std.reshape(1, -1)).clamp(-1, 1)


# ---------------------------------------------------------------- array-API linear algebra

@numpy_function(np.linalg.vector_norm)
def _np_vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    v = lift(x)
    return vector_norm_of(v, ord, dims.axes(dims.numpy_axis(axis), v.ndim), bool(keepdims))


@numpy_function(np.linalg.matrix_norm)
def _np_matrix_norm(x, /, *, keepdims=False, ord="fro"):
    v = lift(x)
    if v.ndim < 2:
        raise ValueError(f"The input array must be at least 2-D, got {v.ndim}-D")
    return matrix_norm_of(v, ord, (v.ndim - 2, v.ndim - 1), bool(keepdims))


def _vecdot(x1: Any, x2: Any, axis: int) -> Value:
    """Dot products along `axis` of each operand (NumPy's gufunc axes), the rest broadcast."""
    a, b = lift(x1, x1, x2), lift(x2, x1, x2)
    a, b = a.moveaxis(axis, -1), b.moveaxis(axis, -1)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vecdot: input operand 1 has a mismatch in its core dimension 0 (size "
                         f"{b.shape[-1]} is different from {a.shape[-1]})")
    return (a * b).sum(-1)


def _gufunc_options(name: str, out: Any, kwargs: dict) -> None:
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on symgrad values")
    extra = sorted(k for k, v in kwargs.items() if v is not None and k != "dtype")
    if extra:
        raise TypeError(f"numpy.{name}: unsupported argument(s) {', '.join(extra)}")


@numpy_function(np.linalg.vecdot)
def _np_linalg_vecdot(x1, x2, /, *, axis=-1):
    return _vecdot(x1, x2, axis)


def _matmul_operands(name: str, x1: Any, x2: Any, vec: int, mat: int) -> tuple[Value, Value]:
    a, b = lift(x1, x1, x2), lift(x2, x1, x2)
    v, m = (a, b)[vec], (a, b)[mat]
    if v.ndim < 1 or m.ndim < 2:
        raise ValueError(f"{name}: operands need at least 1 (vector) and 2 (matrix) dimensions, "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b


if hasattr(np, "vecdot"):  # NumPy 2.0+: generalized ufuncs, NumPy 2.2+ for matvec, vecmat
    @numpy_function(np.vecdot)
    def _np_vecdot(x1, x2, /, out=None, *, axis=None, **kwargs):
        _gufunc_options("vecdot", out, kwargs)
        return _vecdot(x1, x2, -1 if axis is None else axis)

if hasattr(np, "matvec"):
    @numpy_function(np.matvec)
    def _np_matvec(x1, x2, /, out=None, **kwargs):
        """Matrix times vector over the last dims: (..., m, n) and (..., n) give (..., m)."""
        _gufunc_options("matvec", out, kwargs)
        a, b = _matmul_operands("matvec", x1, x2, 1, 0)
        return (a @ b.reshape(*b.shape, 1)).reshape(*np.broadcast_shapes(a.shape[:-1], b.shape[:-1]))

    @numpy_function(np.vecmat)
    def _np_vecmat(x1, x2, /, out=None, **kwargs):
        """Vector times matrix over the last dims: (..., n) and (..., n, m) give (..., m)."""
        _gufunc_options("vecmat", out, kwargs)
        a, b = _matmul_operands("vecmat", x1, x2, 0, 1)
        return (a.reshape(*a.shape[:-1], 1, a.shape[-1]) @ b).reshape(
            *np.broadcast_shapes(a.shape[:-1], b.shape[:-2]), b.shape[-1])


@numpy_function(np.linalg.cond)
def _np_cond(x, p=None):
    """The condition number in norm `p`: the ratio of extreme singular values (None, 2, -2;
    from the eigenvalues of the Gram matrix), else norm(x) * norm(inv(x))."""
    a = lift(x)
    if a.ndim < 2:
        raise np.linalg.LinAlgError(f"{a.ndim}-dimensional array given. Array must be at least "
                                    "two-dimensional")
    if 0 in a.shape[-2:]:
        raise np.linalg.LinAlgError("cond is not defined on empty arrays")
    if p is None or p == 2 or p == -2:
        s = _singular_values(a)
        return s.amin(-1) / s.amax(-1) if p == -2 else s.amax(-1) / s.amin(-1)
    a = check_square("cond", a)
    axes = (a.ndim - 2, a.ndim - 1)
    return matrix_norm_of(a, p, axes, False) * matrix_norm_of(apply(INV, a), p, axes, False)


# ---------------------------------------------------------------- diagonals, writes along an axis

@numpy_function(np.diag_indices_from)
def _np_diag_indices_from(arr):
    shape = np.shape(arr)
    if len(shape) < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return np.diag_indices(shape[0], len(shape))


def _matrix_shape(arr: Any) -> tuple[int, int]:
    shape = np.shape(arr)
    if len(shape) != 2:
        raise ValueError("input array must be 2-d")
    return shape


@numpy_function(np.tril_indices_from)
def _np_tril_indices_from(arr, k=0):
    n, m = _matrix_shape(arr)
    return np.tril_indices(n, k=k, m=m)


@numpy_function(np.triu_indices_from)
def _np_triu_indices_from(arr, k=0):
    n, m = _matrix_shape(arr)
    return np.triu_indices(n, k=k, m=m)


def _cycled(values: Any, count: int) -> Any:
    """The elements of `values` (not empty), flattened and repeated, to `count` of them (np.resize)."""
    if not isinstance(values, Value):
        return np.resize(np.asarray(values), count)
    flat = values.reshape(-1)
    return cat([flat] * -(-count // flat.shape[0]), 0)[:count]


@numpy_function(np.fill_diagonal)
def _np_fill_diagonal(a, val, wrap=False):
    """Write `val` (repeated as needed) into the main diagonal of `a`, in place, as NumPy's
    fill_diagonal writes into a.flat[::step]."""
    shape = np.shape(a)
    if len(shape) < 2:
        raise ValueError("array must be at least 2-d")
    if len(shape) == 2:
        step, end = shape[1] + 1, None if wrap else shape[1] * shape[1]
    else:
        if len(set(shape)) != 1:
            raise ValueError("All dimensions of input must be of equal length")
        step, end = 1 + int(np.cumprod(shape[:-1]).sum()), None
    flat = np.arange(math.prod(shape))[:end:step]
    a[np.unravel_index(flat, shape)] = val if np.ndim(val) == 0 else _cycled(val, len(flat))


@numpy_function(np.put_along_axis)
def _np_put_along_axis(arr, indices, values, axis):
    """Write `values` at `indices` along `axis` of `arr`, in place (np.take_along_axis's
    positions); axis=None writes into the flattened positions."""
    shape = np.shape(arr)
    if axis is None:
        if np.ndim(indices) != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr[np.unravel_index(np.asarray(indices), shape)] = values
        return
    axis = normalize_axis_index(axis, len(shape))
    if np.ndim(indices) != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    index = []
    for k, n in enumerate(shape):
        where = [1] * len(shape)
        where[k] = n
        index.append(indices if k == axis else np.arange(n).reshape(where))
    arr[tuple(index)] = values


# ---------------------------------------------------------------- NaN-aware reductions

def _valid(x: Value, where: Any = None) -> Value:
    """Where x is not NaN (and `where` holds)."""
    valid = x == x
    return valid if where is None or where is True else valid & lift(where, x)


def _float(x: Value, dtype: Any) -> Value:
    """x in `dtype`, or float64 for integers (NumPy's var/std/median of integers)."""
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return x if x.dtype == np.dtype(dtype) else x.astype(dtype)


@numpy_function(np.nanvar)
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: bool = False, *, where: Any = None, mean: Any = None,
           correction: float | None = None) -> Value:
    """The variance of the values that are not NaN, divided by their count - ddof (NaN where
    that is not positive)."""
    no_out("nanvar", out, mean=mean)
    if correction is not None:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    x = _float(lift(a), dtype)
    axes = dims.axes(dims.numpy_axis(axis), x.ndim)
    valid = _valid(x, where)
    count = valid.astype(x.dtype).sum(axes, keepdim=True)
    centre = x.where(valid, 0.0).sum(axes, keepdim=True) / count.where(count > 0, 1.0)
    deviation = (x - centre).where(valid, 0.0)
    squares = (deviation * deviation).sum(axes, keepdim=bool(keepdims))
    dof = valid.astype(x.dtype).sum(axes, keepdim=bool(keepdims)) - ddof
    positive = dof > 0
    return (squares / dof.where(positive, 1.0)).where(positive, np.nan)


@numpy_function(np.nanstd)
def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: bool = False, *, where: Any = None, mean: Any = None,
           correction: float | None = None) -> Value:
    """The standard deviation of the values that are not NaN: the square root of nanvar."""
    return nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction).sqrt()


def _nan_extreme(name: str, a: Any, axis: Any, out: Any, keepdims: bool, initial: Any, where: Any) -> Value:
    """nanmax/nanmin (NumPy's fmax/fmin reductions): NaN ignored, NaN where a slice has only NaN."""
    no_out(name, out)
    x = lift(a)
    largest = name == "nanmax"
    reduce = ndarray.amax if largest else ndarray.amin
    if x.dtype.kind != "f":
        return reduce(x, axis, keepdims=keepdims, initial=initial, where=where)
    valid = _valid(x)
    m = reduce(x.where(valid, -np.inf if largest else np.inf), axis, keepdims=keepdims, initial=initial,
               where=where)
    if initial is not None:
        return m
    some = ndarray.sum_(_valid(x, where).astype(np.int64), axis, keepdims=keepdims) > 0
    return m.where(some, np.nan)


@numpy_function(np.nanmax)
def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
           where: Any = None) -> Value:
    """The largest value that is not NaN (NaN where all are); its gradient goes to it."""
    return _nan_extreme("nanmax", a, axis, out, keepdims, initial, where)


@numpy_function(np.nanmin)
def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
           where: Any = None) -> Value:
    """The smallest value that is not NaN (NaN where all are); its gradient goes to it."""
    return _nan_extreme("nanmin", a, axis, out, keepdims, initial, where)


@numpy_function(np.nanprod)
def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            initial: Any = None, where: Any = None) -> Value:
    """The product of the values that are not NaN (NaN counted as one)."""
    no_out("nanprod", out)
    x = lift(a)
    filled = x.where(_valid(x), 1.0) if x.dtype.kind == "f" else x
    return ndarray.prod(filled, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def _nan_accumulate(op: Any, name: str, a: Any, axis: Any, dtype: Any, out: Any) -> Value:
    x = lift(a)
    fill = 0.0 if op is CUMSUM else 1.0
    return _np_accumulate(op, name, x.where(_valid(x), fill) if x.dtype.kind == "f" else x, axis, dtype, out)


@numpy_function(np.nancumsum)
def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Value:
    """Cumulative sum with NaN counted as zero (of the flattened array by default)."""
    return _nan_accumulate(CUMSUM, "nancumsum", a, axis, dtype, out)


@numpy_function(np.nancumprod)
def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Value:
    """Cumulative product with NaN counted as one (of the flattened array by default)."""
    return _nan_accumulate(CUMPROD, "nancumprod", a, axis, dtype, out)


def _nan_arg(name: str, a: Any, axis: Any, out: Any, keepdims: bool) -> Value:
    """nanargmax/nanargmin: the index of the extreme value that is not NaN; a slice of only
    NaN raises as in NumPy where the values are known (traced, it gives index 0)."""
    no_out(name, out)
    x = lift(a)
    largest = name == "nanargmax"
    pick = ndarray.argmax if largest else ndarray.argmin
    if x.dtype.kind != "f":
        return pick(x, axis, keepdims=keepdims)
    valid = _valid(x)
    if not _traced(x) and not np.all(np.any(np.asarray(valid), axis=axis)):
        raise ValueError("All-NaN slice encountered")
    return pick(x.where(valid, -np.inf if largest else np.inf), axis, keepdims=keepdims)


@numpy_function(np.nanargmax)
def nanargmax(a: Any, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Value:
    """The index of the largest value that is not NaN (of the flattened array by default)."""
    return _nan_arg("nanargmax", a, axis, out, keepdims)


@numpy_function(np.nanargmin)
def nanargmin(a: Any, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Value:
    """The index of the smallest value that is not NaN (of the flattened array by default)."""
    return _nan_arg("nanargmin", a, axis, out, keepdims)


def _nanquantile(x: Value, q: np.ndarray, axis: Any, keepdims: bool, method: str) -> Value:
    """The quantiles `q` of the values of x that are not NaN, along `axis` (flattened for None),
    with q's dims first; a line of only NaN gives NaN."""
    if x.dtype.kind != "f":
        return _quantile(x, q, axis, keepdims, method)
    out = nan_quantiles(x, q, axis, keepdims, method)
    if q.ndim and out.dtype != np.float64 and method not in ("lower", "higher", "nearest", "inverted_cdf",
                                                               "closest_observation"):
        out = out.astype(np.float64)  # as NumPy: interpolated with q's float64
    return out


@numpy_function(np.nanquantile)
def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, weights: Any = None,
                interpolation: str | None = None) -> Value:
    """The q-th quantiles of the values that are not NaN, by NumPy's `method`."""
    method = np_quantile_method("nanquantile", method, out, weights, interpolation)
    return _nanquantile(lift(a), np_q("nanquantile", q, 1.0), axis, keepdims, method)


@numpy_function(np.nanpercentile)
def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
                  method: str = "linear", keepdims: bool = False, *, weights: Any = None,
                  interpolation: str | None = None) -> Value:
    """The q-th percentiles of the values that are not NaN, by NumPy's `method`."""
    method = np_quantile_method("nanpercentile", method, out, weights, interpolation)
    return _nanquantile(lift(a), np_q("nanpercentile", q, 100.0), axis, keepdims, method)


@numpy_function(np.nanmedian)
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Value:
    """The median of the values that are not NaN (the mean of the middle two for an even count)."""
    no_out("nanmedian", out)
    x = _float(lift(a), None)
    half = np.asarray(0.5)
    # the mean of the two middles, as NumPy: a lerp at 0.5 gives NaN for middles (1, inf)
    lower = _nanquantile(x, half, axis, keepdims, "lower")
    return (lower + _nanquantile(x, half, axis, keepdims, "higher")) / 2


# ---------------------------------------------------------------- differences, cumulative, partition

@numpy_function(np.ediff1d)
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Value:
    """The differences of consecutive elements of the flattened array, with `to_begin` and
    `to_end` put at the ends."""
    x = lift(ary).reshape(-1)
    parts = [x[1:] - x[:-1]]
    for extra, at in ((to_begin, 0), (to_end, len(parts) + 1)):
        if extra is not None:
            e = lift(extra, x)
            if not np.can_cast(e.dtype, x.dtype, "same_kind"):
                raise TypeError(f"dtype of `{'to_begin' if at == 0 else 'to_end'}` must be compatible "
                                "with input `ary` under the `same_kind` rule.")
            parts.insert(at, e.reshape(-1).astype(x.dtype))
    return parts[0] if len(parts) == 1 else cat(parts, 0)


def _cumulative(op: Any, name: str, x: Any, axis: Any, dtype: Any, out: Any, include_initial: bool) -> Value:
    """NumPy 2.1's cumulative_sum/cumulative_prod: axis needed beyond 1-D, `include_initial`
    starts with the identity."""
    v = lift(x)
    if v.ndim == 0:
        raise ValueError("The input array must be at least 1-D")
    if axis is None:
        if v.ndim > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` argument is required.")
        axis = 0
    axis = normalize_axis_index(axis, v.ndim)
    result = _np_accumulate(op, name, v, axis, dtype, out)
    if not include_initial:
        return result
    shape = list(result.shape)
    shape[axis] = 1
    initial = lift(np.full(shape, 0 if op is CUMSUM else 1, dtype=result.dtype), result)
    return cat([initial, result], axis)


if hasattr(np, "cumulative_sum"):  # NumPy 2.1+
    @numpy_function(np.cumulative_sum)
    def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        """Cumulative sum along axis, optionally starting with 0."""
        return _cumulative(CUMSUM, "cumulative_sum", x, axis, dtype, out, include_initial)

    @numpy_function(np.cumulative_prod)
    def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        """Cumulative product along axis, optionally starting with 1."""
        return _cumulative(CUMPROD, "cumulative_prod", x, axis, dtype, out, include_initial)


def _partition_args(name: str, a: Any, kth: Any, axis: Any, order: Any) -> tuple[Value, int]:
    """The value and axis of a partition, with `kth` checked against the axis' length."""
    if order is not None:
        raise TypeError(f"numpy.{name}: order= (structured arrays) is not supported on symgrad values")
    x = lift(a)
    x, axis = (x.reshape(-1), 0) if axis is None else (x, normalize_axis_index(axis, x.ndim))
    n = x.shape[axis]
    for k in np.ravel(kth):
        if not -n <= k < n:
            raise ValueError(f"kth(={k}) out of bounds ({n})")
    return x, axis


@numpy_function(np.partition)
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Value:
    """A partition around the `kth` elements: here the sorted array, which is one (the kth
    elements are where np.partition puts them; the others may be ordered differently)."""
    x, axis = _partition_args("partition", a, kth, axis, order)
    return np.sort(x, axis=axis)


@numpy_function(np.argpartition)
def argpartition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
                 order: Any = None) -> Value:
    """Indices that partition around `kth`: here the indices that sort (see `partition`)."""
    x, axis = _partition_args("argpartition", a, kth, axis, order)
    return np.argsort(x, axis=axis)


# ---------------------------------------------------------------- append, insert, delete, resize

def _along(arr: Any, axis: Any) -> tuple[Value, int]:
    x = lift(arr)
    if axis is None:
        return x.reshape(-1), 0
    return x, normalize_axis_index(axis, x.ndim)


@numpy_function(np.append)
def append(arr: Any, values: Any, axis: int | None = None) -> Value:
    """`values` appended to `arr` along `axis` (both flattened for None)."""
    x = lift(arr, arr, values)
    v = lift(values, arr, values)
    if axis is None:
        return cat([x.reshape(-1), v.reshape(-1)], 0)
    if x.ndim != v.ndim:
        raise ValueError(f"all the input array dimensions except for the concatenation axis must match "
                         f"exactly, but along dimension 0, the array at index 0 has {x.ndim} dimension(s) "
                         f"and the array at index 1 has {v.ndim} dimension(s)")
    return cat([x, v], axis)


@numpy_function(np.insert)
def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Value:
    """`values` inserted before the positions `obj` (an int, a slice or a sequence, known
    when tracing) along `axis` (of the flattened array for None), as NumPy inserts them."""
    if _traced(obj):
        raise TypeError("numpy.insert: the positions must be known when tracing, not a traced value")
    x, axis = _along(arr, axis)
    n = x.shape[axis]
    positions = np.arange(*obj.indices(n)) if isinstance(obj, slice) else np.asarray(obj)
    v = lift(values, x)
    v = v if v.dtype == x.dtype else v.astype(x.dtype)
    if positions.size == 1:  # NumPy's one-position rule: values laid out along axis
        v = v.reshape((1,) * (x.ndim - v.ndim) + tuple(v.shape))
        if positions.ndim == 0:
            v = v.moveaxis(0, axis)
        count = v.shape[axis]
    else:
        count = positions.size
    shape = list(x.shape)
    shape[axis] = count
    try:
        v = v.broadcast_to(tuple(shape))
    except (ValueError, ShapeError, RuntimeError):
        raise ValueError(f"could not broadcast input array from shape {tuple(v.shape)} into shape "
                         f"{tuple(shape)}") from None
    order = np.insert(np.arange(n), obj, n + np.arange(count))  # NumPy's own placement, and errors
    return cat([x, v], axis)[_at(axis, order)]


@numpy_function(np.delete)
def delete(arr: Any, obj: Any, axis: int | None = None) -> Value:
    """`arr` without the positions `obj` (an int, a slice, a sequence or a mask, known when
    tracing) along `axis` (of the flattened array for None)."""
    if _traced(obj):
        raise TypeError("numpy.delete: the positions must be known when tracing, not a traced value")
    x, axis = _along(arr, axis)
    keep = np.delete(np.arange(x.shape[axis]), obj)  # NumPy's own positions, and errors
    return x[_at(axis, keep)]


@numpy_function(np.resize)
def resize(a: Any, new_shape: Any) -> Value:
    """The elements of `a`, flattened and repeated as needed, in `new_shape`."""
    shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    if any(n < 0 for n in shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    x = lift(a)
    count = math.prod(shape)
    if math.prod(x.shape) == 0 or count == 0:
        return lift(np.zeros(shape, dtype=x.dtype), x)
    return _cycled(x, count).reshape(shape)

