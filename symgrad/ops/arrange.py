"""Rearranging functions, all composites of the structural primitives (no rule of their own).

Slices and integer-array `getitem`s (whose adjoint is `scatter_add`), `cat`, `reshape`,
`broadcast_to`, `windows` and `transpose` spell NumPy's diff, flip, roll, tile, repeat, pad, the
stacking and splitting families, take, take_along_axis, sliding_window_view, meshgrid and
broadcast_arrays, and PyTorch's names for them (`Tensor.repeat` is NumPy's tile, `unfold`,
`gather`, `narrow`, `select`, `unbind`...). Each gets its derivative, its batching rule for
Jacobians and its generated code from those primitives; eager mode names its `grad_fn` as
PyTorch does. Where an ndarray method and a torch.Tensor method of one name differ
(`repeat`, `flatten`, `squeeze`), each face gets its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops import dims
from symgrad.ops.core import OPS, ShapeError, ndim_of
from symgrad.ops.dispatch import Value, apply, apply_one, composite, function, lift, method, numpy_function
from symgrad.ops.index import GETITEM
from symgrad.ops.shape import CAT, _np_squeeze, cat, movedim

ALL = ("slice", None, None, None)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _ints(v: Any) -> tuple[int, ...]:
    """An int or a sequence of ints, as a tuple."""
    return (int(v),) if _is_int(v) else tuple(int(k) for k in v)


def _slice(x: Value, axis: int, start: int | None = None, stop: int | None = None,
           step: int | None = None, name: str | None = None) -> Value:
    """x[..., start:stop:step] along `axis`."""
    return apply_one(GETITEM, x, {"index": (ALL,) * axis + (("slice", start, stop, step),)}, name)


def _pick(x: Value, axis: int, indices: Any, name: str | None = None) -> Value:
    """x indexed along `axis` by an integer array: its dims replace that axis."""
    return apply(GETITEM, x, indices, index=(ALL,) * axis + (("arr", 0),), _name=name)


def _concrete_indices(indices: Any, size: int, axis: int, error: type[Exception]) -> Any:
    """Integer indices checked against `size` when they are known (a traced index is not)."""
    if isinstance(indices, Value) and type(indices) is not Value._default:
        if indices.dtype.kind not in "iu":
            raise TypeError(f"indices must be integers, got {indices.dtype}")
        return indices
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu" and idx.size:
        raise TypeError(f"indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.intp)
    bad = idx[(idx >= size) | (idx < -size)]
    if bad.size:
        raise error(f"index {int(bad.flat[0])} is out of bounds for axis {axis} with size {size}")
    return idx


# ---------------------------------------------------------------- diff

def _diff(x: Value, n: int, axis: int, prepend: Any, append: Any) -> Value:
    """n-th forward difference along `axis`: slices and subtraction."""
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    if x.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    a = dims.axis(axis, x.ndim)
    parts = []
    for p in (prepend, x, append):
        if p is None:
            continue
        p = lift(p, x)
        if p.ndim == 0:
            p = p.broadcast_to(x.shape[:a] + (1,) + x.shape[a + 1:])
        parts.append(p)
    if len(parts) > 1:
        x = cat(parts, a)
    for _ in range(min(n, x.shape[a])):  # past the length the result stays empty: a huge n returns
        x = _slice(x, a, 1) - _slice(x, a, None, -1)
    return x


@method("diff", function=True)
def diff(self, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along `dim`, with values put before or after it first."""
    return _diff(self, n, dim, prepend, append)


@numpy_function(np.diff)
def _np_diff(a, n=1, axis=-1, prepend=None, append=None):
    return _diff(lift(a), n, axis, prepend, append)


# ---------------------------------------------------------------- flip, roll

def _flip(x: Value, axes: tuple[int, ...]) -> Value:
    index = tuple(("slice", None, None, -1) if k in axes else ALL for k in range(x.ndim))
    return apply(GETITEM, x, index=index, _name="FlipBackward0")


@method("flip", function=True)
def flip(self, *dims_):
    """Reverse the order of elements along the given dims."""
    return _flip(self, dims.axes(dims_[0] if len(dims_) == 1 else dims_, self.ndim))


@method("fliplr", function=True)
def fliplr(self):
    """Reverse the columns (dim 1) of a value of at least 2 dims."""
    if self.ndim < 2:
        raise ShapeError("Input must be >= 2-d.")
    return _flip(self, (1,))


@method("flipud", function=True)
def flipud(self):
    """Reverse the rows (dim 0) of a value of at least 1 dim."""
    if self.ndim < 1:
        raise ShapeError("Input must be >= 1-d.")
    return _flip(self, (0,))


@numpy_function(np.flip)
def _np_flip(m, axis=None):
    x = lift(m)
    return _flip(x, dims.axes(axis, x.ndim))


@numpy_function(np.fliplr)
def _np_fliplr(m):
    return fliplr(lift(m))


@numpy_function(np.flipud)
def _np_flipud(m):
    return flipud(lift(m))


def _roll_axis(x: Value, shift: int, axis: int) -> Value:
    n = x.shape[axis]
    s = shift % n if n else 0
    if not s:
        return x
    return apply(CAT, _slice(x, axis, n - s), _slice(x, axis, None, n - s), axis=axis)


@composite("RollBackward0")
def _roll(x: Value, shifts: tuple[int, ...], axes: tuple[int, ...] | None) -> Value:
    """Shifts broadcast against axes; with axes None the flattened value rolls."""
    if axes is None:
        return _roll_axis(x.reshape(-1), sum(shifts), 0).reshape(x.shape)
    for s, a in np.broadcast(np.asarray(shifts), np.asarray(axes)):
        x = _roll_axis(x, int(s), dims.axis(int(a), x.ndim))
    return x


@method("roll", function=True)
def roll(self, shifts, dims=None):
    """Shift elements cyclically along `dims` (of the flattened value when None)."""
    shifts = _ints(shifts)
    if dims is None and len(shifts) != 1 or dims is not None and len(_ints(dims)) != len(shifts):
        given = 0 if dims is None else len(_ints(dims))
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{given}")
    return _roll(self, shifts, None if dims is None else _ints(dims))


@numpy_function(np.roll)
def _np_roll(a, shift, axis=None):
    x = lift(a)
    return _roll(x, _ints(shift), None if axis is None else _ints(axis))


# ---------------------------------------------------------------- tile, repeat

@composite("RepeatBackward0")
def _tile(x: Value, reps: tuple[int, ...]) -> Value:
    """Copies of x side by side: x with a unit dim before each dim, broadcast, reshaped."""
    if any(r < 0 for r in reps):
        raise ShapeError(f"negative dimensions are not allowed: repeats {reps}")
    nd = max(x.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + tuple(x.shape)
    spread = tuple(v for n in shape for v in (1, n))
    copies = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    return x.reshape(spread).broadcast_to(copies).reshape(tuple(r * n for r, n in zip(reps, shape)))


@method("tile", function=True)
def tile(self, *dims_):
    """Copies of the value along each dim (PyTorch's `Tensor.repeat`, NumPy's `tile`)."""
    return _tile(self, _ints(dims_[0]) if len(dims_) == 1 else _ints(dims_))


@method("repeat", face="torch")
def _repeat_torch(self, *sizes):
    """PyTorch's `Tensor.repeat(*sizes)`: NumPy's tile, with at least one size per dim."""
    sizes = _ints(sizes[0]) if len(sizes) == 1 else _ints(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    return _tile(self, sizes)


@numpy_function(np.tile)
def _np_tile(A, reps):
    return _tile(lift(A), _ints(reps))


def _repeat(x: Value, repeats: Any, axis: int | None, name: str | None = None) -> Value:
    """Each element `repeats` times along `axis` (flattened when None): a broadcast for one
    count, an integer-array index for a count per element."""
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = dims.axis(axis, x.ndim)
    n = x.shape[axis]
    if isinstance(repeats, Value) and type(repeats) is not Value._default:
        raise TypeError("repeat: the counts give the result's shape, so they cannot be traced; "
                        "pass them as a NumPy array or Python ints")
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeats must be integers, got {counts.dtype}")
    if (counts < 0).any():
        raise ShapeError("repeats can not be negative")
    if counts.ndim == 0 and name is None:
        r = int(counts)
        spread = x.unsqueeze(axis + 1).broadcast_to(x.shape[:axis + 1] + (r,) + x.shape[axis + 1:])
        return spread.reshape(x.shape[:axis] + (n * r,) + x.shape[axis + 1:])
    if counts.size not in (1, n):
        raise ShapeError(f"repeats must have the same size as input along dim, but got "
                         f"{counts.size} repeats for size {n}")
    return _pick(x, axis, np.repeat(np.arange(n), counts.reshape(-1)), name)


@method("repeat", face="numpy")
def _repeat_numpy(self, repeats, axis=None):
    """ndarray.repeat: each element `repeats` times along `axis` (flattened when None)."""
    return _repeat(self, repeats, axis)


@numpy_function(np.repeat)
def _np_repeat(a, repeats, axis=None):
    return _repeat(lift(a), repeats, axis)


@method("repeat_interleave", function=True)
def repeat_interleave(self, repeats, dim=None, *, output_size=None):
    """Each element `repeats` times along `dim` (PyTorch's name for NumPy's repeat)."""
    if _is_int(repeats):
        return _repeat(self, repeats, dim)
    return _repeat(self, repeats, dim, name="IndexSelectBackward0")


# ---------------------------------------------------------------- pad

def _pad(x: Value, widths: Sequence[tuple[int, int]], mode: str, value: Any = 0) -> Value:
    """NumPy's pad with (before, after) widths per dim; mode constant, edge, reflect,
    symmetric or wrap. Constant: x scattered into zeros, plus the fill; the others: an
    integer-array index per padded dim (np.pad of the positions)."""
    if mode == "constant":
        shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths))
        index = tuple(("slice", b, b + n, None) for n, (b, a) in zip(x.shape, widths))
        out = x._scatter(shape, index, ())
        fill = np.pad(np.zeros(x.shape, x.dtype), widths, constant_values=value)
        return out + fill if fill.any() else out
    for k, (b, a) in enumerate(widths):
        if b or a:
            if not x.shape[k]:
                raise ValueError(f"can't extend empty axis {k} using modes other than 'constant' "
                                 "or 'empty'")
            x = _pick(x, k, np.pad(np.arange(x.shape[k]), (b, a), mode=mode))
    return x


_NUMPY_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@numpy_function(np.pad)
def _np_pad(array, pad_width, mode="constant", **kwargs):
    x = lift(array)
    if mode not in _NUMPY_PAD_MODES:
        raise NotImplementedError(f"numpy.pad: mode {mode!r} is not supported on symgrad values "
                                  f"(use one of {', '.join(_NUMPY_PAD_MODES)})")
    allowed = {"constant_values"} if mode == "constant" else {"reflect_type"} if mode in (
        "reflect", "symmetric") else set()
    extra = set(kwargs) - allowed
    if extra or kwargs.get("reflect_type", "even") != "even":
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': {sorted(extra or kwargs)}")
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError("`pad_width` must be of integral type.")
    try:
        widths = np.broadcast_to(widths, (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad_width {pad_width!r} cannot be broadcast to ({x.ndim}, 2)") from None
    if (widths < 0).any():
        raise ValueError("index can't contain negative values")
    value = kwargs.get("constant_values", 0)
    if isinstance(value, Value) and type(value) is not Value._default:
        raise TypeError("numpy.pad: constant_values cannot be traced; pass numbers")
    return _pad(x, [(int(b), int(a)) for b, a in widths], mode, np.asarray(value))


_TORCH_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Value:
    """torch.nn.functional.pad: `pad` gives (before, after) for the last dim first, then the
    one before it...; modes constant (negative widths crop), reflect, replicate, circular."""
    x = lift(input)
    if mode not in _TORCH_PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > x.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension {x.ndim}")
    widths = [(0, 0)] * x.ndim
    for i in range(k):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return composite("ConstantPadNdBackward0")(_torch_constant_pad)(x, widths, value or 0.0)
    if x.ndim not in (k + 1, k + 2) or not 1 <= k <= 3:
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.")
    for d, (b, a) in enumerate(widths):
        n = x.shape[d]
        if min(b, a) < 0 or mode == "reflect" and max(b, a) >= n or mode == "circular" and max(b, a) > n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({b}, {a}) at dimension {d} of "
                               f"input {list(x.shape)}")
    name = {"reflect": f"ReflectionPad{k}DBackward0", "replicate": f"ReplicationPad{k}DBackward0",
            "circular": "CopySlices"}[mode]
    return composite(name)(_pad)(x, widths, _TORCH_PAD_MODES[mode])


def _torch_constant_pad(x: Value, widths: list[tuple[int, int]], value: float) -> Value:
    """Negative widths crop (as PyTorch allows), then the rest pads with `value`."""
    if any(min(b, a) < 0 for b, a in widths):
        index = tuple(("slice", max(-b, 0), n - max(-a, 0), None) for n, (b, a) in zip(x.shape, widths))
        x = apply(GETITEM, x, index=index)
        widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    return _pad(x, widths, "constant", value)


# ---------------------------------------------------------------- atleast_nd and stacking

def _atleast(x: Value, nd: int) -> Value:
    """NumPy's atleast_1d/2d/3d: a 0-d value becomes (1,)*nd, a vector a row (1, n) or
    (1, n, 1), a matrix (m, n, 1)."""
    if x.ndim >= nd:
        return x
    if x.ndim == 0:
        return x.reshape((1,) * nd)
    if nd == 2 or x.ndim == 2:
        return x.unsqueeze(0 if nd == 2 else -1)
    return x.unsqueeze(0).unsqueeze(-1)


def _atleast_numpy(nd: int, arys: tuple) -> Any:
    out = tuple(_atleast(lift(a, *arys), nd) for a in arys)
    return out[0] if len(out) == 1 else out


def _atleast_torch(nd: int, tensors: tuple) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_atleast(lift(t, *tensors[0]), nd) for t in tensors[0])
    return _atleast_numpy(nd, tensors)


@numpy_function(np.atleast_1d)
def _np_atleast_1d(*arys):
    return _atleast_numpy(1, arys)


@numpy_function(np.atleast_2d)
def _np_atleast_2d(*arys):
    return _atleast_numpy(2, arys)


@numpy_function(np.atleast_3d)
def _np_atleast_3d(*arys):
    return _atleast_numpy(3, arys)


@function
def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least one dim (one tensor, or a tuple of them)."""
    return _atleast_torch(1, tensors)


@function
def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least two dims: a vector becomes a row."""
    return _atleast_torch(2, tensors)


@function
def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least three dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast_torch(3, tensors)


def _stacked(tensors: Sequence[Any], nd: int, dim: int | None) -> Value:
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("need at least one array to concatenate")
    parts = [_atleast(lift(t, *tensors), nd) for t in tensors]
    return cat(parts, dim if dim is not None else 0 if parts[0].ndim == 1 else 1)


@numpy_function(np.hstack)
@function
def hstack(tensors: Sequence[Any]) -> Value:
    """Join along the columns (dim 1), or along dim 0 for vectors."""
    return _stacked(tensors, 1, None)


@numpy_function(np.vstack)
@function
def vstack(tensors: Sequence[Any]) -> Value:
    """Join along the rows (dim 0), vectors taken as rows."""
    return _stacked(tensors, 2, 0)


@numpy_function(np.dstack)
@function
def dstack(tensors: Sequence[Any]) -> Value:
    """Join along the depth (dim 2), each made at least 3-d first."""
    return _stacked(tensors, 3, 2)


@numpy_function(np.column_stack)
@function
def column_stack(tensors: Sequence[Any]) -> Value:
    """Join as columns: vectors (and scalars) become columns, matrices join along dim 1."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("need at least one array to concatenate")
    parts = [lift(t, *tensors) for t in tensors]
    return cat([p.reshape(-1, 1) if p.ndim < 2 else p for p in parts], 1)


# ---------------------------------------------------------------- splitting

def _bounds(n: int, sections: Any, equal: bool) -> list[tuple[int, int]]:
    """(start, stop) of each piece of NumPy's split (`equal`) or array_split."""
    if _is_int(sections):
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % sections:
            raise ValueError("array split does not result in an equal division")
        size, extra = divmod(n, int(sections))
        sizes = [size + 1] * extra + [size] * (int(sections) - extra)
        ends = np.cumsum([0] + sizes).tolist()
        return list(zip(ends[:-1], ends[1:]))
    points = [0] + [int(p) for p in sections] + [n]
    return list(zip(points[:-1], points[1:]))


def _pieces(x: Value, bounds: list[tuple[int, int]], axis: int, name: str | None) -> list[Value]:
    return [_slice(x, axis, start, stop, name=name) for start, stop in bounds]


@numpy_function(np.split)
def _np_split(ary, indices_or_sections, axis=0):
    x = lift(ary)
    a = dims.axis(axis, x.ndim)
    return _pieces(x, _bounds(x.shape[a], indices_or_sections, True), a, None)


@numpy_function(np.array_split)
def _np_array_split(ary, indices_or_sections, axis=0):
    x = lift(ary)
    a = dims.axis(axis, x.ndim)
    return _pieces(x, _bounds(x.shape[a], indices_or_sections, False), a, None)


@method("split", function=True, face="torch")
def split(self, split_size_or_sections, dim=0):
    """PyTorch's split: pieces of `split_size` along `dim` (the last one shorter), or of
    the sizes listed."""
    d = dims.axis(dim, self.ndim)
    n = self.shape[d]
    if _is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size < 0 or size == 0 and n:
            raise RuntimeError(f"split expects split_size be non-negative, and non-zero unless the "
                               f"dimension size is 0, but got split_size={size}")
        starts = range(0, n, size) if n else [0]
        return tuple(_pieces(self, [(s, min(s + size, n)) for s in starts], d, "SplitBackward0"))
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or min(sizes, default=0) < 0:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                           f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    ends = np.cumsum([0] + sizes).tolist()
    return tuple(_pieces(self, list(zip(ends[:-1], ends[1:])), d, "SplitWithSizesBackward0"))


@method("chunk", function=True)
def chunk(self, chunks, dim=0):
    """At most `chunks` pieces of equal size along `dim` (the last one may be shorter)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = dims.axis(dim, self.ndim)
    return split(self, max(math.ceil(self.shape[d] / chunks), 1), d)


@method("tensor_split", function=True)
def tensor_split(self, indices_or_sections, dim=0):
    """NumPy's array_split: `sections` pieces (the first ones one longer), or split at indices."""
    d = dims.axis(dim, self.ndim)
    if _is_int(indices_or_sections) and indices_or_sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {indices_or_sections}")
    bounds = _bounds(self.shape[d], indices_or_sections, False)
    return tuple(_pieces(self, bounds, d, "SliceBackward0"))


@method("narrow", function=True)
def narrow(self, dim, start, length):
    """`length` elements along `dim` from `start`."""
    d = dims.axis(dim, self.ndim)
    n = self.shape[d]
    start = start + n if start < 0 else start
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice(self, d, start, start + length, name="SliceBackward0")


def _select(x: Value, dim: int, index: int, name: str) -> Value:
    d = dims.axis(dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {d}")
    return apply(GETITEM, x, index=(ALL,) * d + (("int", int(index)),), _name=name)


@method("select", function=True)
def select(self, dim, index):
    """The slice at `index` along `dim`, without that dim."""
    return _select(self, dim, index, "SelectBackward0")


@method("unbind", function=True)
def unbind(self, dim=0):
    """Every slice along `dim`, as a tuple."""
    d = dims.axis(dim, self.ndim)
    return tuple(_select(self, d, k, "UnbindBackward0") for k in range(self.shape[d]))


# ---------------------------------------------------------------- take, gather

def _take(x: Value, indices: Any, axis: int | None, name: str | None,
          error: type[Exception] = IndexError) -> Value:
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = dims.axis(axis, x.ndim)
    return _pick(x, axis, _concrete_indices(indices, x.shape[axis], axis, error), name)


@method("take", function=True)
def take(self, indices, axis=None):
    """Elements at `indices` of the flattened value (or along `axis`, as ndarray.take)."""
    return _take(self, indices, axis, "TakeBackward0")


@numpy_function(np.take)
def _np_take(a, indices, axis=None, out=None, mode="raise"):
    if out is not None or mode != "raise":
        raise TypeError("numpy.take: out= and mode= are not supported on symgrad values")
    return _take(lift(a), indices, axis, None)


def _along(x: Value, indices: Any, axis: int, broadcast: bool, error: type[Exception]) -> Value:
    """x at `indices` along `axis`, the other dims matched position by position: one
    integer-array getitem (aranges for the other dims), so the gradient is a scatter-add."""
    shape = tuple(np.shape(indices))
    if len(shape) != x.ndim:
        raise error(f"`indices` and `arr` must have the same number of dimensions: got indices "
                    f"of shape {shape} for input of shape {tuple(x.shape)}")
    axis = dims.axis(axis, x.ndim)
    arrays = []
    for k, (n, m) in enumerate(zip(x.shape, shape)):
        if k == axis:
            arrays.append(_concrete_indices(indices, n, axis, error))
            continue
        if broadcast and n != m and 1 not in (n, m) or not broadcast and m > n:
            raise error(f"indices of shape {shape} do not match input of shape {tuple(x.shape)} "
                        f"in dim {k}")
        size = n if broadcast else m  # a unit dim of x broadcasts as index 0
        where = [1] * x.ndim
        where[k] = size
        arrays.append(np.arange(size).reshape(where))
    return apply(GETITEM, x, *arrays, index=tuple(("arr", k) for k in range(x.ndim)),
                 _name="GatherBackward0")


@numpy_function(np.take_along_axis)
def _np_take_along_axis(arr, indices, axis=-1):
    x = lift(arr)
    if axis is None:
        if ndim_of(indices) != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        return _along(x.reshape(-1), indices, 0, True, ValueError)
    return _along(x, indices, axis, True, ValueError)


@method("take_along_dim", function=True)
def take_along_dim(self, indices, dim=None):
    """Values at `indices` along `dim` (of the flattened value when None), broadcasting the
    other dims: NumPy's take_along_axis."""
    if dim is None:
        return _along(self.reshape(-1), lift(indices).reshape(-1) if isinstance(indices, Value)
                      else np.asarray(indices).reshape(-1), 0, True, RuntimeError)
    return _along(self, indices, dim, True, RuntimeError)


@method("gather", function=True)
def gather(self, dim, index, *, sparse_grad=False):
    """out[i][j][k] = self[i][index[i][j][k]][k] (dim 1): index has self's number of dims and
    is no larger in the others."""
    if len(np.shape(index)) != self.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    return _along(self, index, dim, False, RuntimeError)


# ---------------------------------------------------------------- windows

def _windows(x: Value, axis: int, size: int, step: int) -> Value:
    """Windows of `size` along `axis` every `step`, the window's dim last."""
    return movedim(x._windows(axis, size, step), axis + 1, -1)


@composite("UnfoldBackward0")
def _unfold(x: Value, d: int, size: int, step: int) -> Value:
    return _windows(x, d, size, step)


@method("unfold")
def unfold(self, dimension, size, step):
    """Every window of `size` along `dimension`, `step` apart, as a new last dim."""
    d = dims.axis(dimension, self.ndim)
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return _unfold(self, d, size, step)


@numpy_function(np.lib.stride_tricks.sliding_window_view)
def _np_sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    v = lift(x)
    window = _ints(window_shape)
    if any(w < 0 for w in window):
        raise ValueError("`window_shape` cannot contain negative values")
    if axis is None:
        if len(window) != v.ndim:
            raise ValueError(f"Since axis is `None`, must provide window_shape for all dimensions "
                             f"of `x`; got {len(window)} window_shape elements and `x.ndim` is {v.ndim}.")
        axes = tuple(range(v.ndim))
    else:
        axes = tuple(dims.axis(a, v.ndim) for a in _ints(axis))
        if len(window) != len(axes):
            raise ValueError(f"Must provide matching length window_shape and axis; got {len(window)} "
                             f"window_shape elements and {len(axes)} axes elements.")
    shape = list(v.shape)
    for a, w in zip(axes, window):
        if shape[a] < w:
            raise ValueError("window shape cannot be larger than input array shape")
        shape[a] -= w - 1
    for a, w in zip(axes, window):
        v = _windows(v, a, w, 1)
    return v


# ---------------------------------------------------------------- movedim, meshgrid, broadcasting

@method("movedim", "moveaxis", function=True)
def movedim_(self, source, destination):
    """Move dims from `source` to `destination` positions, the others keeping their order."""
    return movedim(self, source, destination)


@function(name="moveaxis")
def moveaxis(input: Any, source: Any, destination: Any) -> Value:
    """Alias of `movedim`."""
    return movedim(lift(input), source, destination)


@method("swapdims", function=True)
def swapdims(self, dim0, dim1):
    """Alias of `swapaxes`."""
    return self.swapaxes(dim0, dim1)


@function(name="swapaxes")
def swapaxes(input: Any, axis0: int, axis1: int) -> Value:
    """Swap two dims."""
    return lift(input).swapaxes(axis0, axis1)


def _meshgrid(xs: Sequence[Value], indexing: str, sparse: bool) -> tuple[Value, ...]:
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(xs)
    outs = []
    for i, x in enumerate(xs):
        shape = [1] * nd
        shape[i] = -1
        if indexing == "xy" and nd > 1 and i < 2:
            shape[0], shape[1] = shape[1], shape[0]
        outs.append(x.reshape(shape))
    if sparse or not outs:
        return tuple(outs)
    full = np.broadcast_shapes(*(o.shape for o in outs))
    return tuple(o.broadcast_to(full) for o in outs)


@numpy_function(np.meshgrid)
def _np_meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    return _meshgrid([lift(x, *xi) for x in xi], indexing, sparse)


@function
def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Value, ...]:
    """Coordinate grids from 0-d or 1-d tensors; indexing 'ij' (the default) or 'xy'."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    values = [lift(t, *tensors) for t in tensors]
    for v in values:
        if v.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a tensor of shape {tuple(v.shape)}")
    return _meshgrid(values, indexing or "ij", False)


def _broadcast_all(values: Sequence[Any]) -> tuple[Value, ...]:
    values = [lift(v, *values) for v in values]
    shape = OPS["add"].out_shape(tuple(tuple(v.shape) for v in values), {})
    return tuple(v.broadcast_to(shape) for v in values)


@numpy_function(np.broadcast_arrays)
def _np_broadcast_arrays(*args, subok=False):
    return _broadcast_all(args)


@function
def broadcast_tensors(*tensors: Any) -> tuple[Value, ...]:
    """The tensors broadcast to their common shape."""
    return _broadcast_all(tensors)


# ---------------------------------------------------------------- ndarray's own methods

@method("flatten", face="numpy")
def _flatten_numpy(self, order="C"):
    """ndarray.flatten: the elements as one dim, in C order."""
    if order not in ("C", "A", "K"):
        raise TypeError(f"flatten: order {order!r} is not supported on symgrad values")
    return self.reshape(-1)


@method("squeeze", face="numpy")
def _squeeze_numpy(self, axis=None):
    """ndarray.squeeze: drop the unit dims (all, or `axis`, which must have size 1)."""
    return _np_squeeze(self, axis)
