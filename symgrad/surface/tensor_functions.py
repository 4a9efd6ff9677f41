"""PyTorch's functions that are also Tensor methods, written in symgrad's primitives.

Aliases with arguments of their own (`subtract(alpha=)`, `divide(rounding_mode=)`), the fused
products (`addmm`, `baddbmm`, `addcmul`...), the functional forms of indexed writes
(`scatter`, `index_add`, `index_put`...: `setitem` and `index_add` primitives, so their
gradients are exact), small composites (`logaddexp`, `sinc`, `cov`, `rot90`, `renorm`...),
predicates, and the eager-only functions whose result's shape depends on the values
(`masked_select`, `nonzero`, `unique`, `bincount`). Each is a method and a `symgrad.*`
function; NumPy's ndarray has none of these names with another meaning, except `nonzero`,
which is the torch face's only.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from symgrad.ops import OPS, Value, apply, dims, lift
from symgrad.ops import dims as dims_  # rot90 has an argument named dims, as PyTorch's
from symgrad.ops.arrange import ALL, _concrete_indices, _pick, split
from symgrad.ops.core import ShapeError, _is_scalar
from symgrad.ops.dispatch import FUNCTIONS, composite, function_of, method
from symgrad.ops.index import GETITEM, index_of
from symgrad.surface.statistics import _at, _vector, nan_quantiles, take_along, torch_quantile

return_types_kthvalue = namedtuple("kthvalue", ["values", "indices"])
return_types_nanmedian = namedtuple("nanmedian", ["values", "indices"])
return_types_aminmax = namedtuple("aminmax", ["min", "max"])
return_types_mode = namedtuple("mode", ["values", "indices"])
return_types_histogram = namedtuple("histogram", ["hist", "bin_edges"])


def _overload(base: str, other: Any) -> str:
    """PyTorch's overload number: 0 for a number operand, 1 for a tensor one."""
    return f"{base}Backward{0 if _is_scalar(other) else 1}"


def _concrete(name: str, v: Any) -> np.ndarray:
    """The values of `v`, which the result's shape depends on: refused for a traced value."""
    if isinstance(v, Value) and type(v) is not Value._default:
        raise TypeError(f"{name}(): the result's shape depends on the values, so it cannot be "
                        "traced; call it eagerly")
    return np.asarray(v.detach() if isinstance(v, Value) else v)


# ---------------------------------------------------------------- aliases with arguments

@method("subtract", function=True, inplace=True)
def subtract(self, other, *, alpha=1):
    """Alias of `sub`: input - alpha * other."""
    return self.sub(other, alpha=alpha)


@composite("DivBackward2")
def _divide(x: Value, other: Any, rounding_mode: str) -> Value:
    quotient = apply(OPS["div"], x, other)
    return quotient.trunc() if rounding_mode == "trunc" else quotient.floor()


@method("divide", "div", function=True, inplace=True)
def divide(self, other, *, rounding_mode=None):
    """input / other; rounded toward zero with rounding_mode='trunc', down with 'floor'."""
    if rounding_mode is None:
        return apply(OPS["div"], self, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                           f"found '{rounding_mode}'")
    other_dtype = other.dtype if isinstance(other, Value) else np.asarray(other).dtype
    if self.dtype.kind in "iu" and other_dtype.kind in "iub":
        return divide_integers(self, other, rounding_mode)
    return _divide(self, other, rounding_mode)


FUNCTIONS["div"] = function_of("div", divide.__doc__ or "", divide)  # torch.div(x, y, rounding_mode=)


def divide_integers(x: Value, other: Any, rounding_mode: str) -> Value:
    """Integer division keeps the integer dtype, as PyTorch's does."""
    floor = apply(OPS["floor_divide"], x, other)
    if rounding_mode == "floor":
        return floor
    inexact = (floor * other).ne(x).logical_and((x < 0).logical_xor(lift(other, x) < 0))
    return floor + inexact.astype(floor.dtype)


@method("positive", function=True)
def positive(self):
    """The input itself (unary plus)."""
    return self


@composite("RsqrtBackward0")
def _rsqrt(x: Value) -> Value:
    return 1.0 / x.sqrt()


@method("rsqrt", function=True, inplace=True)
def rsqrt(self):
    """1 / sqrt(input)."""
    return _rsqrt(self)


@composite(lambda x, min: _overload("ClampMin", min))
def _clamp_min(x: Value, min: Any) -> Value:
    return apply(OPS["where"], x < min, min, x)


@composite(lambda x, max: _overload("ClampMax", max))
def _clamp_max(x: Value, max: Any) -> Value:
    return apply(OPS["where"], x > max, max, x)


@method("clamp_min", function=True, inplace=True)
def clamp_min(self, min):
    """max(input, min), elementwise (NaN stays); the gradient goes to whichever was taken."""
    return _clamp_min(self, min)


@method("clamp_max", function=True, inplace=True)
def clamp_max(self, max):
    """min(input, max), elementwise (NaN stays); the gradient goes to whichever was taken."""
    return _clamp_max(self, max)


# ---------------------------------------------------------------- elementwise composites

@composite("Logaddexp2Backward0")
def _logaddexp2(x: Value, y: Any) -> Value:
    """log2(2 ** x + 2 ** y) as logaddexp(x ln 2, y ln 2) / ln 2: logaddexp's handling of the
    infinities and its gradient, scaled."""
    ln2 = math.log(2.0)
    return apply(OPS["logaddexp"], x * ln2, y * ln2) / ln2


@method("logaddexp2", function=True)
def logaddexp2(self, other):
    """log2(2 ** input + 2 ** other), without overflow."""
    return _logaddexp2(self, other)


@composite("Deg2RadBackward0")
def _deg2rad(x: Value) -> Value:
    return x * (math.pi / 180)


@composite("Rad2DegBackward0")
def _rad2deg(x: Value) -> Value:
    return x * (180 / math.pi)


@method("deg2rad", function=True, inplace=True)
def deg2rad(self):
    """Degrees to radians."""
    return _deg2rad(self)


@method("rad2deg", function=True, inplace=True)
def rad2deg(self):
    """Radians to degrees."""
    return _rad2deg(self)


@composite(lambda x, end, weight: _overload("Lerp", weight))
def _lerp(x: Value, end: Any, weight: Any) -> Value:
    return x + weight * (end - x)


@method("lerp", function=True, inplace=True)
def lerp(self, end, weight):
    """input + weight * (end - input)."""
    return _lerp(self, end, weight)


@composite("SincBackward0")
def _sinc(x: Value) -> Value:
    zero = x == 0
    safe = x.where(zero.logical_not(), 1.0) * math.pi  # no 0/0 at 0, in the value or its gradient
    return (safe.sin() / safe).where(zero.logical_not(), 1.0)


@method("sinc", function=True, inplace=True)
def sinc(self):
    """sin(pi x) / (pi x), 1 at 0."""
    return _sinc(self if self.dtype.kind == "f" else self.astype(np.float32))


@composite("FracBackward0")
def _frac(x: Value) -> Value:
    return x - x.trunc()


@method("frac", function=True, inplace=True)
def frac(self):
    """The fractional part: input - trunc(input)."""
    return _frac(self)


@composite("SgnBackward0")
def _sgn(x: Value) -> Value:
    return x.sign()


@method("sgn", function=True, inplace=True)
def sgn(self):
    """The sign of input (for real values, `sign`)."""
    return _sgn(self)


@composite(lambda x, exponent: "PowBackward0" if _is_scalar(exponent) else "PowBackward1")
def _float_power(x: Value, exponent: Any) -> Value:
    return x ** exponent


@method("float_power", function=True, inplace=True)
def float_power(self, exponent):
    """input ** exponent in float64."""
    base = self if self.dtype == np.float64 else self.astype(np.float64)
    if isinstance(exponent, Value):
        exponent = exponent if exponent.dtype == np.float64 else exponent.astype(np.float64)
    elif not _is_scalar(exponent):
        exponent = np.asarray(exponent, dtype=np.float64)
    else:
        exponent = float(exponent)
    return _float_power(base, exponent)


@composite("AddcmulBackward0")
def _addcmul(x: Value, t1: Any, t2: Any, value: Any) -> Value:
    return x + (t1 * t2 if value == 1 else value * t1 * t2)


@composite("AddcdivBackward0")
def _addcdiv(x: Value, t1: Any, t2: Any, value: Any) -> Value:
    return x + (t1 / t2 if value == 1 else value * t1 / t2)


@method("addcmul", function=True, inplace=True)
def addcmul(self, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return _addcmul(self, tensor1, tensor2, value)


@method("addcdiv", function=True, inplace=True)
def addcdiv(self, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return _addcdiv(self, tensor1, tensor2, value)


@composite("MvlgammaBackward0")
def _mvlgamma(x: Value, p: int) -> Value:
    terms = (x.unsqueeze(-1) - np.arange(p) / 2).lgamma()
    return terms.sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


@method("mvlgamma", function=True, inplace=True)
def mvlgamma(self, p):
    """The multivariate log-gamma of dimension p: sum of lgamma(input - i/2) plus a constant."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if type(self) is Value._default and bool(np.any(np.asarray(self.detach()) <= (p - 1) / 2)):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    return _mvlgamma(self, p)


@composite("HardshrinkBackward0")
def _hardshrink(x: Value, lambd: float) -> Value:
    return x.where(x.abs() > lambd, 0.0)


@method("hardshrink", function=True)
def hardshrink(self, lambd=0.5):
    """input where |input| > lambd, else 0."""
    return _hardshrink(self, lambd)


@composite("PreluKernelBackward0")
def _prelu(x: Value, weight: Any) -> Value:
    return x.where(x >= 0, weight * x)


@method("prelu", function=True)
def prelu(self, weight):
    """input where it is >= 0, else weight * input; weight has one entry or one per channel (dim 1)."""
    weight = lift(weight, self)
    n = weight.shape[0] if weight.ndim else 1
    channels = self.shape[1] if self.ndim > 1 else 1
    if weight.ndim > 1 or n not in (1, channels):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter "
                           f"numbers = {n} and channel size = {channels}.")
    if self.ndim > 1 and n > 1:
        weight = weight.reshape((n,) + (1,) * (self.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    return _prelu(self, weight)


# ---------------------------------------------------------------- fused products

def _fused(x: Value, product: Value, beta: Any, alpha: Any) -> Value:
    """beta * input + alpha * product (input ignored when beta is 0, as PyTorch's BLAS calls)."""
    product = product if alpha == 1 else alpha * product
    if beta == 0:
        return product + x.zeros_like() if tuple(x.shape) != tuple(product.shape) else product
    return (x if beta == 1 else beta * x) + product


@composite("AddmmBackward0")
def _addmm(x: Value, m1: Any, m2: Any, beta: Any, alpha: Any) -> Value:
    return _fused(x, m1 @ m2, beta, alpha)


@composite("AddmvBackward0")
def _addmv(x: Value, m: Any, v: Any, beta: Any, alpha: Any) -> Value:
    return _fused(x, m @ v, beta, alpha)


@composite("AddrBackward0")
def _addr(x: Value, v1: Any, v2: Any, beta: Any, alpha: Any) -> Value:
    return _fused(x, v1.unsqueeze(1) * v2.unsqueeze(0), beta, alpha)


@composite("AddbmmBackward0")
def _addbmm(x: Value, b1: Any, b2: Any, beta: Any, alpha: Any) -> Value:
    return _fused(x, (b1 @ b2).sum(0), beta, alpha)


@composite("BaddbmmBackward0")
def _baddbmm(x: Value, b1: Any, b2: Any, beta: Any, alpha: Any) -> Value:
    return _fused(x, b1 @ b2, beta, alpha)


def _ndims(name: str, **operands: tuple[Any, int]) -> None:
    for label, (v, n) in operands.items():
        if np.ndim(v) != n:
            raise RuntimeError(f"{name}: {label} must be a {n}-D tensor, got {np.ndim(v)}-D")


@method("addmm", function=True, inplace=True)
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), for matrices."""
    _ndims("addmm", mat1=(mat1, 2), mat2=(mat2, 2))
    return _addmm(self, lift(mat1, self), lift(mat2, self), beta, alpha)


@method("addmv", function=True, inplace=True)
def addmv(self, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec)."""
    _ndims("addmv", mat=(mat, 2), vec=(vec, 1))
    return _addmv(self, lift(mat, self), lift(vec, self), beta, alpha)


@method("addr", function=True, inplace=True)
def addr(self, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    _ndims("addr", vec1=(vec1, 1), vec2=(vec2, 1))
    return _addr(self, lift(vec1, self), lift(vec2, self), beta, alpha)


@method("addbmm", function=True, inplace=True)
def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (the sum over the batch of batch1[i] @ batch2[i])."""
    _ndims("addbmm", batch1=(batch1, 3), batch2=(batch2, 3))
    return _addbmm(self, lift(batch1, self), lift(batch2, self), beta, alpha)


@method("baddbmm", function=True, inplace=True)
def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    _ndims("baddbmm", batch1=(batch1, 3), batch2=(batch2, 3))
    return _baddbmm(self, lift(batch1, self), lift(batch2, self), beta, alpha)


# ---------------------------------------------------------------- indexed reads and writes

def _along_dim(x: Value, dim: int, index: Any, name: str) -> tuple[int, Any]:
    d = dims.axis(dim, max(x.ndim, 1))
    if np.ndim(index) > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    idx = index.reshape(-1) if isinstance(index, Value) else np.asarray(index).reshape(-1)
    return d, _concrete_indices(idx, x.shape[d] if x.ndim else 1, d, IndexError)


@method("index_select", function=True)
def index_select(self, dim, index):
    """The entries at `index` (a vector of integers) along `dim`."""
    d, idx = _along_dim(self, dim, index, "index_select")
    return _pick(self, d, idx, "IndexSelectBackward0")


def _dim_key(d: int) -> tuple:
    return (ALL,) * d + (("arr", 0),)


@method("index_add", function=True, inplace=True)
def index_add(self, dim, index, source, *, alpha=1):
    """input with alpha * source added at `index` along `dim` (repeated indices accumulate)."""
    d, idx = _along_dim(self, dim, index, "index_add")
    return apply(OPS["index_add"], self, source if alpha == 1 else alpha * source, idx,
                 index=_dim_key(d), _name="IndexAddBackward0")


@method("index_copy", function=True, inplace=True)
def index_copy(self, dim, index, source):
    """input with `source` written at `index` along `dim`."""
    d, idx = _along_dim(self, dim, index, "index_copy")
    return apply(OPS["setitem"], self, source, idx, index=_dim_key(d), _name="IndexCopyBackward0")


@method("index_fill", function=True, inplace=True)
def index_fill(self, dim, index, value):
    """input with `value` written at `index` along `dim`."""
    d, idx = _along_dim(self, dim, index, "index_fill")
    return apply(OPS["setitem"], self, value, idx, index=_dim_key(d), _name="IndexFillBackward0")


@method("index_put", function=True, inplace=True)
def index_put(self, indices, values, accumulate=False):
    """input with `values` written (added, with accumulate) at the index tuple `indices`."""
    index, arrays = index_of(tuple(indices), self)
    if accumulate:
        return apply(OPS["index_add"], self, values, *arrays, index=index, _name="IndexPutBackward0")
    return apply(OPS["setitem"], self, values, *arrays, index=index, _name="IndexPutBackward0")


def _scatter_key(x: Value, dim: int, index: Any) -> tuple[int, tuple, tuple]:
    """(dim, index structure, arrays) writing position [i][index[i][j]][k] (dim 1) of x for
    each position [i][j][k] of `index`, as PyTorch's scatter does."""
    shape = tuple(np.shape(index))
    if len(shape) != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    d = dims.axis(dim, max(x.ndim, 1))
    arrays: list[Any] = []
    for k, n in enumerate(shape):
        if k == d:
            arrays.append(_concrete_indices(index, x.shape[k], k, RuntimeError))
        else:
            if n > x.shape[k]:
                raise RuntimeError(f"Size does not match at dimension {k}: index {shape} vs self "
                                   f"{tuple(x.shape)}")
            where = [1] * x.ndim
            where[k] = n
            arrays.append(np.arange(n).reshape(where))
    return d, tuple(("arr", k) for k in range(x.ndim)), tuple(arrays)


def _source(src: Any, shape: tuple) -> Any:
    """The part of `src` that an index of `shape` reads: its leading corner."""
    if _is_scalar(src) or tuple(np.shape(src)) == shape:
        return src
    return lift(src)[tuple(slice(0, n) for n in shape)]


@method("scatter", function=True, inplace=True)
def scatter(self, dim, index, src=None, *, value=None, reduce=None):
    """input with src[i][j][k] written at [i][index[i][j][k]][k] (dim 1); `src` may be a number."""
    if reduce is not None:
        raise RuntimeError("scatter(): reduce= is not supported by symgrad; use scatter_reduce")
    src = value if src is None else src
    _, key, arrays = _scatter_key(self, dim, index)
    name = "ScatterBackward1" if _is_scalar(src) else "ScatterBackward0"
    return apply(OPS["setitem"], self, _source(src, np.shape(index)), *arrays, index=key, _name=name)


@method("scatter_add", function=True, inplace=True)
def scatter_add(self, dim, index, src):
    """input with src[i][j][k] added at [i][index[i][j][k]][k] (dim 1); repeats accumulate."""
    _, key, arrays = _scatter_key(self, dim, index)
    return apply(OPS["index_add"], self, _source(src, np.shape(index)), *arrays, index=key,
                 _name="ScatterAddBackward0")


@method("scatter_reduce", function=True, inplace=True)
def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
    """scatter with reduce='sum' (scatter_add) or 'mean' of the values landing on each place."""
    if reduce not in ("sum", "mean"):
        raise RuntimeError(f"scatter_reduce(): reduce='{reduce}' is not supported by symgrad "
                           "(only 'sum' and 'mean')")
    _, key, arrays = _scatter_key(self, dim, index)
    counts = None
    if reduce == "mean":
        counts = np.zeros(tuple(self.shape), np.int64)
        np.add.at(counts, tuple(np.broadcast_arrays(*arrays)), 1)
        counts = np.maximum(counts + int(include_self), 1)
    return _scatter_reduce(self, _source(src, np.shape(index)), key, arrays, counts, include_self)


@composite("ScatterReduceBackward0")
def _scatter_reduce(x: Value, src: Any, key: tuple, arrays: tuple, counts: np.ndarray | None,
                    include_self: bool) -> Value:
    """The sum of x (unless left out) and the values landing on each place, divided by
    their number for a mean."""
    base = x if include_self else apply(OPS["setitem"], x, 0.0, *arrays, index=key)
    total = apply(OPS["index_add"], base, src, *arrays, index=key)
    if counts is None:
        return total
    out = total / counts
    return out if out.dtype == x.dtype else out.astype(x.dtype)


def _write(x: Value, src: Any, key: tuple, name: str) -> Value:
    """x with `src` written at the Python index `key`."""
    index, arrays = index_of(key, x)
    return apply(OPS["setitem"], x, src, *arrays, index=index, _name=name)


@method("select_scatter", function=True)
def select_scatter(self, src, dim, index):
    """input with `src` written at `index` along `dim` (the inverse of `select`)."""
    d = dims.axis(dim, self.ndim)
    return _write(self, src, (slice(None),) * d + (index,), "SelectScatterBackward0")


@method("slice_scatter", function=True)
def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
    """input with `src` written at start:end:step along `dim` (the inverse of slicing)."""
    d = dims.axis(dim, self.ndim)
    return _write(self, src, (slice(None),) * d + (slice(start, end, step),), "SliceScatterBackward0")


@composite("DiagonalScatterBackward0")
def _diagonal_scatter(x: Value, src: Any, offset: int, d1: int, d2: int) -> Value:
    moved = x.movedim((d1, d2), (-2, -1))
    n = min(moved.shape[-2] - max(-offset, 0), moved.shape[-1] - max(offset, 0))
    steps = np.arange(max(n, 0))
    out = _write(moved, src, (Ellipsis, steps + max(-offset, 0), steps + max(offset, 0)), None)
    return out.movedim((-2, -1), (d1, d2))


@method("diagonal_scatter", function=True)
def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
    """input with `src` written on its diagonal `offset` of dims dim1 and dim2."""
    d1, d2 = dims.axis(dim1, self.ndim), dims.axis(dim2, self.ndim)
    return _diagonal_scatter(self, src, offset, d1, d2)


@composite("PutBackward0")
def _put(x: Value, index: Any, source: Any, accumulate: bool) -> Value:
    flat = x.reshape(-1)
    index_, arrays = index_of(np.asarray(index).reshape(-1), flat)
    op = OPS["index_add"] if accumulate else OPS["setitem"]
    return apply(op, flat, lift(source, x).reshape(-1), *arrays, index=index_).reshape(x.shape)


@method("put", face="torch", function=True, inplace=True)
def put(self, index, source, accumulate=False):
    """input with `source` written (added, with accumulate) at the flat positions `index`."""
    idx = _concrete_indices(index, int(np.prod(self.shape, dtype=np.int64)), 0, RuntimeError)
    return _put(self, idx, source, accumulate)


@composite("MaskedScatterBackward0")
def _masked_scatter(x: Value, positions: tuple, source: Any) -> Value:
    count = len(positions[0]) if positions else 0
    taken = lift(source, x).reshape(-1)[:count]
    return apply(OPS["setitem"], x, taken, *positions, index=tuple(("arr", k) for k in range(x.ndim)))


@method("masked_scatter", function=True, inplace=True)
def masked_scatter(self, mask, source):
    """input with the first elements of `source`, in order, written where `mask` holds
    (eager only: which elements depends on the mask)."""
    m = _concrete("masked_scatter", mask)
    m = np.broadcast_to(m, tuple(self.shape))
    if int(m.sum()) > int(np.prod(np.shape(source), dtype=np.int64)):
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as "
                           "ones in mask")
    return _masked_scatter(self, tuple(np.nonzero(m)), source)


@method("masked_fill", function=True, inplace=True)
def masked_fill(self, mask, value):
    """input with `value` where `mask` holds."""
    mask_dtype = mask.dtype if isinstance(mask, Value) else np.asarray(mask).dtype
    if mask_dtype != np.bool_:
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype {mask_dtype}")
    if np.ndim(value) != 0:
        raise RuntimeError("masked_fill only supports a 0-dimensional value tensor, but got tensor "
                           f"with {np.ndim(value)} dimension(s).")
    name = "MaskedFillBackward0" if _is_scalar(value) else "MaskedFillBackward1"
    out = apply(OPS["where"], mask, value, self, _name=name)
    if tuple(out.shape) != tuple(self.shape):
        raise ShapeError(f"masked_fill: mask of shape {tuple(np.shape(mask))} does not broadcast "
                         f"to input of shape {tuple(self.shape)}")
    return out


@method("masked_select", function=True)
def masked_select(self, mask):
    """The elements where `mask` holds, as a vector (eager only: its length depends on the mask)."""
    m = _concrete("masked_select", mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}")
    shape = np.broadcast_shapes(tuple(self.shape), m.shape)
    x = self if tuple(self.shape) == shape else self.broadcast_to(shape)
    if not shape:
        x, m = x.reshape(1), m.reshape(1)
    m = np.broadcast_to(m, x.shape)
    return apply(GETITEM, x, *np.nonzero(m), index=tuple(("arr", k) for k in range(x.ndim)),
                 _name="MaskedSelectBackward0")


# ---------------------------------------------------------------- order statistics

@method("kthvalue", function=True)
def kthvalue(self, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest entries along `dim`."""
    x, scalar = _vector(self)
    d = dims.axis(dim, x.ndim)
    if not 1 <= k <= x.shape[d]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    keep = bool(keepdim) and not scalar
    at = slice(k - 1, k) if keep else k - 1
    idx = apply(OPS["argsort"], x, axis=d, descending=False)[_at(d, at)]
    return return_types_kthvalue(take_along(x, idx, d, "KthvalueBackward0", keepdim=keep), idx)


@method("nanmedian", function=True)
def nanmedian(self, dim=None, keepdim=False):
    """The lower median ignoring NaN (NaN where all are NaN): of everything, or (values,
    indices) along `dim`."""
    if dim is None:
        x, d, keep, name = self.reshape(-1), 0, False, "NanmedianBackward0"
    else:
        x, scalar = _vector(self)
        d, keep, name = dims.axis(dim, x.ndim), bool(keepdim) and not scalar, "NanmedianBackward1"
    order = apply(OPS["argsort"], x, axis=d, descending=False)  # NaN last
    count = (x == x).sum(d, keepdim=True)
    middle = ((count - 1) // 2).clamp(min=0)
    idx = take_along(order, middle, d)
    idx = idx if keep else idx.reshape(tuple(n for k, n in enumerate(idx.shape) if k != d))
    values = take_along(x, idx, d, name, keepdim=keep)
    return values if dim is None else return_types_nanmedian(values, idx)


@method("mode", function=True)
def mode(self, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along `dim` (the smallest of a tie) and
    where it last occurs (eager only: which element is taken depends on the values)."""
    data = _concrete("mode", self)
    x, scalar = _vector(self)
    d = dims.axis(dim, x.ndim)
    lines = np.moveaxis(np.asarray(data).reshape(x.shape), d, -1)
    flat = lines.reshape(-1, lines.shape[-1])
    idx = np.empty(len(flat), np.int64)
    for k, line in enumerate(flat):
        values, counts = np.unique(line, return_counts=True)
        idx[k] = np.flatnonzero(line == values[np.argmax(counts)])[-1]
    idx = np.expand_dims(idx.reshape(lines.shape[:-1]), d)
    keep = bool(keepdim) and not scalar
    idx = idx if keep else idx.squeeze(d)
    return return_types_mode(take_along(x, idx, d, "ModeBackward0", keepdim=keep), _int64(idx))


@method("aminmax", function=True)
def aminmax(self, *, dim=None, keepdim=False):
    """(min, max) over everything, or along `dim`."""
    axes = tuple(range(self.ndim)) if dim is None else (dims.axis(dim, max(self.ndim, 1)),)
    axes = axes if self.ndim else ()
    keep = bool(keepdim)
    low = apply(OPS["amin"], self, axes=axes, keepdims=keep, _name="AminmaxBackward0")
    high = apply(OPS["amax"], self, axes=axes, keepdims=keep, _name="AminmaxBackward0")
    return return_types_aminmax(low, high)


@composite("SqueezeBackward4")  # PyTorch's nanquantile ends in a squeeze
def _nanquantile(x: Value, q: np.ndarray, dim: int | None, keepdim: bool) -> Value:
    return nan_quantiles(x, q, dim, keepdim)


@method("nanquantile", function=True)
def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles ignoring NaN (NaN where a line is all NaN), interpolating linearly."""
    return torch_quantile("nanquantile", _nanquantile, self, q, dim, keepdim, interpolation)


# ---------------------------------------------------------------- statistics

@composite("SqueezeBackward0")  # PyTorch's cov ends in a squeeze
def _cov(x: Value, correction: float) -> Value:
    centered = x - x.mean(1, keepdim=True)
    dof = max(x.shape[1] - correction, 0)
    return (centered @ centered.mT / dof).squeeze()


@method("cov", function=True)
def cov(self, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of input (observations in columns)."""
    if fweights is not None or aweights is not None:
        raise RuntimeError("cov(): fweights and aweights are not supported by symgrad")
    if self.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {self.ndim} dimensions")
    x = self.reshape(1, -1) if self.ndim < 2 else self
    return _cov(x if x.dtype.kind == "f" else x.astype(np.float32), correction)


@composite("ClampBackward1")  # PyTorch's corrcoef ends in clamping to [-1, 1]
def _corrcoef(c: Value) -> Value:
    std = c.diagonal().sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)


@method("corrcoef", function=True)
def corrcoef(self):
    """Pearson's correlation coefficients of the variables in the rows of input."""
    c = cov(self)
    return c / c if c.ndim == 0 else _corrcoef(c)


@composite("DistBackward0")
def _dist(x: Value, other: Any, p: float) -> Value:
    return (x - other).norm(p)


@method("dist", function=True)
def dist(self, other, p=2):
    """The p-norm of input - other."""
    return _dist(self, other, p)


@composite("RenormBackward0")
def _renorm(x: Value, p: float, axes: tuple, maxnorm: float) -> Value:
    norms = (x.abs() ** p).sum(axes, keepdim=True) ** (1.0 / p)
    return x * (maxnorm / (norms + 1e-7)).where(norms > maxnorm, 1.0)


@method("renorm", function=True, inplace=True)
def renorm(self, p, dim, maxnorm):
    """Each slice along `dim` whose p-norm exceeds maxnorm scaled down to norm maxnorm."""
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    d = dims.axis(dim, self.ndim)
    return _renorm(self, p, tuple(k for k in range(self.ndim) if k != d), maxnorm)


# ---------------------------------------------------------------- rearrangements

@composite("Rot90Backward0")
def _rot90(x: Value, k: int, d0: int, d1: int) -> Value:
    if k == 1:
        return x.flip(d1).swapaxes(d0, d1)
    if k == 2:
        return x.flip((d0, d1))
    return x.swapaxes(d0, d1).flip(d1)


@method("rot90", function=True)
def rot90(self, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times, from the first of `dims` toward the second."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if self.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {self.ndim}")
    d0, d1 = (dims_.axis(d, self.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    return _alias(self) if k == 0 else _rot90(self, k, d0, d1)


@composite("CloneBackward0")
def _alias(x: Value) -> Value:
    return apply(OPS["alias"], x)


@composite("NarrowCopyBackward0")
def _narrow_copy(x: Value, dim: int, start: int, length: int) -> Value:
    piece = x.narrow(dim, start, length)
    return apply(OPS["astype"], piece, dtype=piece.dtype.name)


@method("narrow_copy", function=True)
def narrow_copy(self, dim, start, length):
    """A copy of `narrow`: `length` elements along `dim` from `start`, in new memory."""
    return _narrow_copy(self, dim, start, length)


@method("split_with_sizes", function=True)
def split_with_sizes(self, split_sizes, dim=0):
    """Pieces of the given sizes along `dim` (they must add up to its size)."""
    d = dims.axis(dim, self.ndim)
    if sum(split_sizes) != self.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {self.shape[d]} "
                           f"(input tensor's size at dimension {d}), but got split_sizes={list(split_sizes)}")
    return split(self, list(split_sizes), d)


@method("unflatten", function=True)
def unflatten(self, dim, sizes):
    """Dim `dim` split into dims of `sizes` (one may be -1)."""
    d = dims.axis(dim, self.ndim)
    return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])


def _split_dim(name: str, x: Value, sections: Any, d: int, least: int) -> tuple:
    if x.ndim < least:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {least} dimension"
                           f"{'s' if least > 1 else ''}, but got a tensor with {x.ndim} dimensions!")
    if isinstance(sections, (int, np.integer)) and (sections <= 0 or x.shape[d] % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the size of "
                           f"the dimension {x.shape[d]} is not divisible by the split_size "
                           f"{sections}!")
    return x.tensor_split(sections, d)


@method("hsplit", function=True)
def hsplit(self, sections):
    """Split along dim 1 (dim 0 of a vector) into equal sections or at indices."""
    return _split_dim("hsplit", self, sections, 1 if self.ndim > 1 else 0, 1)


@method("vsplit", function=True)
def vsplit(self, sections):
    """Split along dim 0 into equal sections or at indices."""
    return _split_dim("vsplit", self, sections, 0, 2)


@method("dsplit", function=True)
def dsplit(self, sections):
    """Split along dim 2 into equal sections or at indices."""
    return _split_dim("dsplit", self, sections, 2, 3)


@composite("DiagEmbedBackward0")
def _diag_embed(x: Value, offset: int, d1: int, d2: int) -> Value:
    m = x.shape[-1]
    n = m + abs(offset)
    steps = np.arange(m)
    key = (Ellipsis, steps + max(-offset, 0), steps + max(offset, 0))
    out = x._scatter((*x.shape[:-1], n, n), *index_of(key, x))
    return out.movedim((out.ndim - 2, out.ndim - 1), (d1, d2))


@method("diag_embed", function=True)
def diag_embed(self, offset=0, dim1=-2, dim2=-1):
    """Matrices with the last dim of input on their diagonal `offset`, in dims dim1 and dim2."""
    d1, d2 = dims.axis(dim1, self.ndim + 1), dims.axis(dim2, self.ndim + 1)
    if d1 == d2:
        raise RuntimeError("diagonal dimensions cannot be identical")
    return _diag_embed(self.reshape(1) if self.ndim == 0 else self, offset, d1, d2)


@method("diagflat", function=True)
def diagflat(self, offset=0):
    """A matrix with the flattened input on its diagonal `offset`."""
    return _diag_embed(self.reshape(-1), offset, 0, 1)


# ---------------------------------------------------------------- predicates

@method("isclose", function=True)
def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise (equal infinities are close)."""
    close = ((self - other).abs() <= atol + rtol * lift(other, self).abs()).logical_or(self == other)
    if equal_nan:
        close = close.logical_or(self.isnan().logical_and(lift(other, self).isnan()))
    return close


@method("allclose", function=True)
def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close to other's (a Python bool)."""
    return bool(isclose(self, other, rtol, atol, equal_nan).all())


@method("is_floating_point", function=True)
def is_floating_point(self):
    """Whether the dtype is a floating-point one."""
    return self.dtype.kind == "f"


@method("is_complex", function=True)
def is_complex(self):
    """Whether the dtype is complex (never, in symgrad)."""
    return self.dtype.kind == "c"


@method("is_signed", function=True)
def is_signed(self):
    """Whether the dtype holds negative numbers."""
    return self.dtype.kind in "if"


@method("is_nonzero", function=True)
def is_nonzero(self):
    """Whether the single element is not zero."""
    size = int(np.prod(self.shape, dtype=np.int64))
    if size != 1:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous" if size == 0 else
                           "Boolean value of Tensor with more than one value is ambiguous")
    return bool(self.reshape(()) != 0)


@method("is_same_size", function=True)
def is_same_size(self, other):
    """Whether input and other have the same shape."""
    return tuple(self.shape) == tuple(np.shape(other))


for _name in ("numel", "ravel", "clone", "conj", "ger"):  # methods already; PyTorch has the functions too
    FUNCTIONS[_name] = function_of(_name, f"input.{_name}().")


# ---------------------------------------------------------------- complex views of real values

@method("conj_physical", "resolve_conj", "resolve_neg", function=True)
def conj_physical(self):
    """The complex conjugate, resolved: the value itself (symgrad's dtypes are real)."""
    return self


for _name in ("resolve_conj", "resolve_neg", "real"):
    FUNCTIONS[_name] = function_of(_name, "The value itself (symgrad's dtypes are real).", conj_physical)


@method("is_conj", "is_neg", function=True)
def is_conj(self):
    """Whether a lazy conjugation (negation) is pending: never, for real values."""
    return False


FUNCTIONS["is_neg"] = function_of("is_neg", "Whether a lazy negation is pending: never.", is_conj)


@method("isreal", function=True)
def isreal(self):
    """Whether each element is real: all of them."""
    return (self == self).logical_or(True)


@composite("AngleBackward0")
def _angle(x: Value) -> Value:
    return x.sign() * 0.0 + apply(OPS["where"], x < 0, math.pi, 0.0)


@method("angle", function=True)
def angle(self):
    """The argument of each element: pi for negative reals, else 0 (NaN stays); zero gradient."""
    return _angle(self if self.dtype.kind == "f" else self.astype(np.float32))


@method("adjoint", function=True)
def adjoint(self):
    """The conjugate transpose of the last two dims (for real values, `mT`)."""
    return self.mT


@method("isposinf", function=True)
def isposinf(self):
    """Whether each element is +inf."""
    return self == np.inf


@method("isneginf", function=True)
def isneginf(self):
    """Whether each element is -inf."""
    return self == -np.inf


@composite("LdexpBackward0")
def _ldexp(x: Value, other: Any) -> Value:
    return x * 2.0 ** lift(other, x)


@method("ldexp", function=True, inplace=True)
def ldexp(self, other):
    """input * 2 ** other."""
    return _ldexp(self, other)


@method("clone")
def clone(self, *, memory_format=None):
    """A copy (values are immutable in a trace: the value itself; eager Tensors copy)."""
    return apply(OPS["alias"], self)


# ---------------------------------------------------------------- eager only: shapes from values

def _int64(a: Any) -> Value:
    return lift(np.asarray(a, dtype=np.int64))


@method("argwhere", function=True)
def argwhere(self):
    """The indices of the nonzero elements, one row each (eager only)."""
    return _int64(np.argwhere(_concrete("argwhere", self)))


@method("nonzero", face="torch", function=True)
def nonzero(self, *, as_tuple=False):
    """The indices of the nonzero elements: one row each, or a tuple of index vectors (eager only)."""
    data = _concrete("nonzero", self)
    if as_tuple:
        return tuple(_int64(a) for a in np.nonzero(np.atleast_1d(data)))
    return _int64(np.argwhere(data))


@method("unique", function=True)
def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), with the inverse indices and counts if asked (eager only)."""
    data = _concrete("unique", self)
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True,
                                        axis=None if dim is None else dims.axis(dim, data.ndim))
    out = [lift(values)]
    if return_inverse:
        out.append(_int64(inverse.reshape(data.shape if dim is None else -1)))
    if return_counts:
        out.append(_int64(counts))
    return out[0] if len(out) == 1 else tuple(out)


@method("bincount", function=True)
def bincount(self, weights=None, minlength=0):
    """How often each non-negative integer occurs (the weights summed, with weights; eager only)."""
    data = _concrete("bincount", self)
    if data.ndim != 1 or data.dtype.kind not in "iu":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if data.size and data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _int64(np.bincount(data, minlength=minlength))
    w = _concrete("bincount", weights)
    return lift(np.bincount(data, w, minlength).astype(w.dtype if w.dtype.kind == "f" else np.float64))


@method("histc", function=True)
def histc(self, bins=100, min=0, max=0):
    """A histogram of `bins` equal bins over [min, max] (the data's range when both are 0;
    eager only)."""
    data = _concrete("histc", self)
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    counts, _ = np.histogram(data, bins=bins, range=(lo, hi))
    return lift(counts.astype(data.dtype if data.dtype.kind == "f" else np.float32))


@method("histogram", function=True)
def histogram(self, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges): counts (or weights, or a density) in `bins` equal bins or between
    the given edges (eager only)."""
    data = _concrete("histogram", self)
    edges = bins if isinstance(bins, int) else _concrete("histogram", bins)
    w = None if weight is None else _concrete("histogram", weight)
    span = None if range is None else tuple(float(v) for v in range)
    if span is None and isinstance(edges, int) and data.size and data.min() == data.max():
        span = (float(data.min()), float(data.max()) + 1)  # PyTorch's: NumPy widens by 0.5 each way
    hist, bin_edges = np.histogram(data, edges, span, weights=w, density=density)
    return return_types_histogram(lift(hist.astype(data.dtype)), lift(bin_edges.astype(data.dtype)))


@method("unique_consecutive", function=True)
def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
    """The values with each run of equal neighbours kept once, with the inverse indices
    and run lengths if asked (eager only)."""
    data = _concrete("unique_consecutive", self)
    if dim is None:
        flat = data.reshape(-1)
        starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]]) if flat.size else np.zeros(0, np.int64)
        values = flat[starts]
    else:
        d = dims.axis(dim, data.ndim)
        moved = np.moveaxis(data, d, 0)
        differs = np.any((moved[1:] != moved[:-1]).reshape(max(len(moved) - 1, 0), -1), axis=1)
        starts = np.flatnonzero(np.r_[True, differs]) if len(moved) else np.zeros(0, np.int64)
        values = np.moveaxis(moved[starts], 0, d)
    length = flat.size if dim is None else data.shape[d]
    out = [lift(values)]
    if return_inverse:
        inverse = np.cumsum(np.isin(np.arange(length), starts)) - 1
        out.append(_int64(inverse.reshape(data.shape) if dim is None else inverse))
    if return_counts:
        out.append(_int64(np.diff(np.r_[starts, length])))
    return out[0] if len(out) == 1 else tuple(out)
