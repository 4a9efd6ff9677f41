"""Structural primitives: reshape, transpose, broadcast_to, concatenate, windows (with its
adjoint), and `*_like`.

Each comes with the spellings users reach it by: `view`, `flatten`, `unsqueeze`,
`squeeze` and `np.expand_dims` are reshapes; `permute`, `t`, `.T` and `np.swapaxes` are
transposes; `expand` is a broadcast; `stack` is a concatenation of unsqueezed values;
`unfold`, `sliding_window_view`, and the windows that convolution and pooling read are
windows (`symgrad.ops.arrange`, `symgrad.surface.nn.functional`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.ops import batching, dims
from symgrad.ops.core import ShapeError, broadcast_shapes, defop, ndim_of, shape_of
from symgrad.ops.dispatch import (
    METHODS,
    Value,
    apply,
    apply_one,
    function,
    lift,
    method,
    no_out,
    numpy_function,
)


def _reshape_shape(x: tuple, *, shape: tuple[int, ...]) -> tuple:
    if int(np.prod(x)) != int(np.prod(shape)):
        raise ShapeError(f"cannot reshape shape {x} ({int(np.prod(x))} elements) into {shape}")
    return shape


def _transpose_shape(x: tuple, *, axes: tuple[int, ...]) -> tuple:
    if sorted(axes) != list(range(len(x))):
        raise ShapeError(f"axes {axes} are not a permutation of the dims of shape {x}")
    return tuple(x[a] for a in axes)


def _broadcast_to_shape(x: tuple, *, shape: tuple[int, ...]) -> tuple:
    if broadcast_shapes(x, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast shape {x} to {shape}")
    return shape


def _print_reshape(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
    """`x[:, None]` when the reshape only inserts unit dims: a cheap view, and easy to read.
    Also from 0-d (`x[None, None]`): there `x` may be a NumPy scalar (arithmetic on 0-d arrays
    gives one), whose `.reshape` is a generic method that looks itself up by a new string each
    call, which CPython's type cache then holds (a slow, bounded growth of memory)."""
    old, new = [n for n in shapes[0]], list(params["shape"])
    parts, k = [], 0
    for n in new:
        if k < len(old) and n == old[k]:
            parts.append(":")
            k += 1
        elif n == 1:
            parts.append("None")
        else:
            return None
    if k != len(old) or "None" not in parts:
        return None
    while parts and parts[-1] == ":":
        parts.pop()
    return f"{names[0]}[{', '.join(parts)}]"


def _print_transpose(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
    return f"{names[0]}.T" if params["axes"] == tuple(range(len(params["axes"])))[::-1] else None


# ---------------------------------------------------------------- reshape

RESHAPE = defop(
    "reshape", "{x}.reshape({shape})", view=True, shape=_reshape_shape, grad_fn="ViewBackward0",
    linear=True, printer=_print_reshape,
    batch=lambda op, args, batched, params, size: apply(op, args[0], shape=(size,) + tuple(params["shape"])),
    vjps=(lambda ct, ans, x, *, shape: ct.reshape(x.shape),),
)


@method("reshape", function=True)
def reshape(self, *shape):
    """The same elements in a new shape (one dim may be -1)."""
    return apply_one(RESHAPE, self, {"shape": dims.resolve_shape(shape, self)})


@method("view")
def view(self, *shape):
    """PyTorch's name for `reshape`."""
    return apply_one(RESHAPE, self, {"shape": dims.resolve_shape(shape, self)})


@method("flatten", function=True)
def flatten(self, start_dim=0, end_dim=-1):
    """Dims start_dim..end_dim as one."""
    if not self.ndim:
        return self.reshape(1)
    a, b = dims.axis(start_dim, self.ndim), dims.axis(end_dim, self.ndim)
    return self.reshape(*self.shape[:a], -1, *self.shape[b + 1:])


@method("ravel")
def ravel(self):
    """The elements as one dim."""
    return self.reshape(-1)


@method("unsqueeze", function=True)
def unsqueeze(self, dim):
    """Insert a dim of size 1."""
    old = shape_of(self)
    d = dims.axis(dim, len(old) + 1)
    return apply_one(RESHAPE, self, {"shape": old[:d] + (1,) + old[d:]}, "UnsqueezeBackward0")


@method("squeeze", function=True)
def squeeze(self, *dims_, dim=None, axis=None):
    """Drop dims of size 1: all, or those among `dim` (ints, or a tuple; `axis` is its alias)."""
    if dim is None and axis is None and dims_:
        dim = dims_[0] if len(dims_) == 1 else tuple(int(d) for d in dims_)
    dim = axis if axis is not None else dim
    if dim is None:
        shape = tuple(n for n in self.shape if n != 1)
        return apply(RESHAPE, self, shape=shape, _name="SqueezeBackward0")
    several = not isinstance(dim, (int, np.integer))
    picked = dims.axes(dim, self.ndim) if self.ndim else ()
    shape = tuple(n for k, n in enumerate(self.shape) if not (k in picked and n == 1))
    return apply(RESHAPE, self, shape=shape, _name="SqueezeBackward2" if several else "SqueezeBackward1")


@numpy_function(np.reshape)
def _np_reshape(a, *args, **kwargs):
    shape = args[0] if args else kwargs.get("newshape", kwargs.get("shape"))
    return lift(a).reshape(shape if not isinstance(shape, int) else (shape,))


@numpy_function(np.ravel)
def _np_ravel(a, order="C"):
    return lift(a).reshape(-1)


@numpy_function(np.squeeze)
def _np_squeeze(a, axis=None):
    x = lift(a)
    if axis is None:
        return squeeze(x)
    axes = dims.axes(axis, x.ndim)
    for k in axes:
        if x.shape[k] != 1:
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return x.reshape(tuple(n for k, n in enumerate(x.shape) if k not in axes))


@numpy_function(np.expand_dims)
def _np_expand_dims(a, axis):
    x = lift(a)
    given = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = [dims.axis(int(k), x.ndim + len(given)) for k in given]  # positions in the result
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in expand_dims: {given}")
    for k in sorted(axes):
        x = x.unsqueeze(k)
    return x


# ---------------------------------------------------------------- transpose

TRANSPOSE = defop(
    "transpose", "{x}.transpose({axes})", view=True, shape=_transpose_shape, printer=_print_transpose,
    grad_fn="PermuteBackward0", linear=True,
    batch=lambda op, args, batched, params, size: apply(
        op, args[0], axes=(0,) + tuple(a + 1 for a in params["axes"])),
    vjps=(lambda ct, ans, x, *, axes: ct.permute(tuple(np.argsort(axes).tolist())),),
)


@method("permute", function=True)
def permute(self, *dims_):
    """Reorder the dims."""
    order = tuple(dims_[0]) if len(dims_) == 1 and not isinstance(dims_[0], int) else dims_
    if len(order) != self.ndim:
        raise RuntimeError(f"permute(): the order {tuple(order)} names {len(order)} dims; the "
                           f"value has {self.ndim} (shape {tuple(self.shape)})")
    return apply(TRANSPOSE, self, axes=tuple(dims.axis(d, self.ndim) for d in order))


_INTS = (int, np.integer)


@method("transpose", function=True)
def transpose(self, *dims_):
    """PyTorch's transpose(dim0, dim1) (swap two dims), or NumPy's transpose(*axes) / transpose()."""
    if len(dims_) == 2 and isinstance(dims_[0], _INTS) and isinstance(dims_[1], _INTS):
        return swapaxes(self, *dims_)  # (for 2-D, NumPy's permutation means the same)
    if not dims_ or dims_ == (None,):
        return self.permute(tuple(range(self.ndim))[::-1])
    return self.permute(*dims_)


@method("swapaxes")
def swapaxes(self, axis1, axis2):
    """Swap two dims."""
    ndim = ndim_of(self)
    order = list(range(ndim))
    a, b = dims.axis(axis1, ndim), dims.axis(axis2, ndim)
    order[a], order[b] = order[b], order[a]
    return apply_one(TRANSPOSE, self, {"axes": tuple(order)}, "TransposeBackward0")


@method("t", function=True)
def t(self):
    """Transpose of a tensor of at most 2 dims."""
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    return apply(TRANSPOSE, self, axes=tuple(range(self.ndim))[::-1], _name="TBackward0")


def _reversed_dims(self):
    """All dims in reverse order, as NumPy's `.T`."""
    return apply(TRANSPOSE, self, axes=tuple(range(self.ndim))[::-1])


METHODS["T"] = property(_reversed_dims)


@numpy_function(np.transpose)
def _np_transpose(a, axes=None):
    x = lift(a)
    return x.permute(tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


@numpy_function(np.swapaxes)
def _np_swapaxes(a, axis1, axis2):
    return lift(a).transpose(axis1, axis2)


def movedim(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """Dims `source` moved to positions `destination`, the others keeping their order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ShapeError(f"movedim: `source` and `destination` arguments must have the same number "
                         f"of elements, got {len(src)} and {len(dst)}")
    src = tuple(dims.axis(int(k), x.ndim) for k in src)
    dst = tuple(dims.axis(int(k), x.ndim) for k in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"movedim: repeated dim in source {src} or destination {dst}")
    order = [k for k in range(x.ndim) if k not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.permute(order)


@numpy_function(np.moveaxis)
def _np_moveaxis(a, source, destination):
    return movedim(lift(a), source, destination)


# ---------------------------------------------------------------- broadcast_to

def _broadcast_batch(op, args, batched, params, size):
    target = tuple(params["shape"])
    return apply(op, batching.lifted(args[0], batched[0], len(target), size), shape=(size,) + target)


# broadcasting's VJP is the identity: `vjp` sums the cotangent back to the input's shape.
BROADCAST_TO = defop("broadcast_to", "np.broadcast_to({x}, {shape})", view=True, shape=_broadcast_to_shape,
                     grad_fn="ExpandBackward0", linear=True, batch=_broadcast_batch,
                     vjps=(lambda ct, ans, x, *, shape: ct,))


@method("broadcast_to", function=True)
def broadcast_to(self, shape):
    """Broadcast to a shape."""
    return apply_one(BROADCAST_TO, self, {"shape": tuple(shape)})


@method("expand", function=True)
def expand(self, *sizes):
    """Broadcast to `sizes`; -1 keeps a dim's size."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    if not all(type(n) is int and n >= 0 for n in sizes):  # -1 keeps a size; 2.0 is a TypeError
        sizes = tuple(dims.integer(n, "expand(): a size") for n in sizes)
        old = shape_of(self)
        lead = len(sizes) - len(old)
        sizes = tuple(old[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return apply_one(BROADCAST_TO, self, {"shape": sizes})


@numpy_function(np.broadcast_to)
def _np_broadcast_to(array, shape, subok=False):
    return lift(array).broadcast_to((shape,) if isinstance(shape, int) else tuple(shape))


# ---------------------------------------------------------------- windows

def _windows_shape(x: tuple, *, axis: int, width: int, step: int, dilation: int) -> tuple:
    span = dilation * (width - 1) + 1
    if min(width, step, dilation) < 1 or span > x[axis]:
        raise ShapeError(f"windows of {width} elements {dilation} apart (span {span}) every {step} "
                         f"do not fit axis {axis} of shape {x}")
    return x[:axis] + ((x[axis] - span) // step + 1, width) + x[axis + 1:]


def _unwindows_shape(ct: tuple, *, axis: int, length: int, step: int, dilation: int) -> tuple:
    return ct[:axis] + (length,) + ct[axis + 2:]


def _on_next_axis(op, args, batched, params, size):
    """A batch of values is a leading dim: the op's axis moves one on."""
    return apply(op, args[0], **{**params, "axis": params["axis"] + 1})


# windows are a view (the windows of a convolution overlap: no copy of each); the adjoint
# adds each window's elements back where they were, one strided add per element of a
# window (not a scatter-add per value, as an integer-array gather's adjoint is)
WINDOWS = defop(
    "windows", "windows({x}, {axis}, {width}, {step}, {dilation})", kernels=("windows",), view=True,
    shape=_windows_shape, dtype=lambda inputs, params: np.result_type(inputs[0]), grad_fn="UnfoldBackward0",
    linear=True, batch=_on_next_axis, vjps=(
        lambda ct, ans, x, *, axis, width, step, dilation: ct._unwindows(axis, x.shape[axis], step, dilation),
    ),
)
UNWINDOWS = defop(
    "unwindows", "unwindows({x}, {axis}, {length}, {step}, {dilation})", kernels=("unwindows",),
    shape=_unwindows_shape, dtype=lambda inputs, params: np.result_type(inputs[0]),
    grad_fn="UnfoldBackwardBackward0", linear=True, batch=_on_next_axis, vjps=(
        lambda ct, ans, g, *, axis, length, step, dilation: ct._windows(axis, g.shape[axis + 1], step,
                                                                         dilation),
    ),
)


@method("_windows")
def _windows(self, axis, width, step=1, dilation=1):
    """Windows of `width` elements `dilation` apart along `axis`, one every `step`: that
    axis becomes (window, element)."""
    return apply(WINDOWS, self, axis=axis, width=width, step=step, dilation=dilation)


@method("_unwindows")
def _unwindows(self, axis, length, step=1, dilation=1):
    """`_windows`' adjoint: each window's elements added back into an axis of `length`."""
    return apply(UNWINDOWS, self, axis=axis, length=length, step=step, dilation=dilation)


# ---------------------------------------------------------------- ones_like, zeros_like

# they read only their input's shape and dtype: no gradient flows.
# (`symgrad.ones_like` is the eager creation function, which takes a dtype)
defop("ones_like", "np.ones_like({x})", vjps=(None,), methods=("ones_like",), functions=())
defop("zeros_like", "np.zeros_like({x})", vjps=(None,), methods=("zeros_like",), functions=())


def _as(x: Value, dtype: Any) -> Value:
    return x if dtype is None or np.dtype(dtype) == x.dtype else x.astype(dtype)


@numpy_function(np.zeros_like, np.empty_like)
def _np_zeros_like(a, dtype=None, **kw):
    """np.zeros_like, and np.empty_like, whose contents NumPy leaves unset (zeros will do)."""
    return _as(lift(a).zeros_like(), dtype)


@numpy_function(np.ones_like)
def _np_ones_like(a, dtype=None, **kw):
    return _as(lift(a).ones_like(), dtype)


@numpy_function(np.full_like)
def _np_full_like(a, fill_value, dtype=None, **kw):
    """The fill value in a's shape, cast to `dtype` (a's own by default, as NumPy casts)."""
    a = lift(a)
    return _as(a.ones_like() * fill_value, a.dtype if dtype is None else dtype)


# ---------------------------------------------------------------- cat


def _cat_shape(*shapes: tuple, axis: int) -> tuple:
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(a != b for k, (a, b) in enumerate(zip(s, first)) if k != axis):
            raise ShapeError(
                f"sizes of tensors must match except in dimension {axis}: got {first} and {s}")
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def _cat_vjp(ct, ans, *xs, argnum, axis):
    start = sum(x.shape[axis] for x in xs[:argnum])
    return ct[(slice(None),) * axis + (slice(start, start + xs[argnum].shape[axis]),)]


CAT = defop(
    "cat", lambda names, params, lib: f"{lib.np.concatenate}(({', '.join(names)},), axis={params['axis']})",
    forward=lambda *xs, axis: np.concatenate(xs, axis=axis), shape=_cat_shape,
    dtype=lambda inputs, params: np.result_type(*inputs), promote="common", linear=True,
    batch=lambda op, args, batched, params, size: apply(
        op, *[batching.full(a, b, size) for a, b in zip(args, batched)], axis=params["axis"] + 1),
    variadic=True, vjps=(_cat_vjp,),
)


def _tensor_list(tensors: Any, fn: str) -> list:
    """`tensors` (a list or tuple of them) as a list; one tensor, a string or a number is a
    TypeError, as in PyTorch (iterating one tensor would silently cut it into rows)."""
    if isinstance(tensors, (Value, str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{fn}(): argument 'tensors' must be a sequence of Tensors, not "
                        f"{type(tensors).__name__}")
    return list(tensors)


@function
def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Join tensors along an existing dim."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    ndim = max(len(np.shape(t)) for t in tensors)
    return apply(CAT, *tensors, axis=dims.axis(dim, ndim), _name="CatBackward0")


@function
def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Join tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    lifted = [lift(t, *tensors) for t in tensors]
    d = dims.axis(dim, lifted[0].ndim + 1)
    return apply(CAT, *[t.unsqueeze(d) for t in lifted], axis=d, _name="StackBackward0")


@numpy_function(np.concatenate)
def _np_concatenate(arrays, axis=0, out=None, **kw):
    no_out("concatenate", out, **kw)
    if axis is None:  # NumPy flattens every array first
        arrays = [lift(a, *arrays).reshape(-1) for a in arrays]
        axis = 0
    return cat(list(arrays), axis)


@numpy_function(np.stack)
def _np_stack(arrays, axis=0, out=None, **kw):
    no_out("stack", out, **kw)
    return stack(list(arrays), axis)
