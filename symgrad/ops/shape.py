"""Structural primitives: reshape, transpose, broadcast_to, concatenate, and `*_like`."""

from __future__ import annotations

import numpy as np

from symgrad.ops.core import ShapeError, broadcast_shapes, defop


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


def _print_reshape(names: list[str], params: dict, shapes: list) -> str | None:
    """`x[:, None]` when the reshape only inserts unit dims: a cheap view, and easy to read."""
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
    if k != len(old) or not old or "None" not in parts:
        return None
    while parts and parts[-1] == ":":
        parts.pop()
    return f"{names[0]}[{', '.join(parts)}]"


def _print_transpose(names: list[str], params: dict, shapes: list) -> str | None:
    return f"{names[0]}.T" if params["axes"] == tuple(range(len(params["axes"])))[::-1] else None


defop("reshape", "{x}.reshape({shape})", view=True, shape=_reshape_shape, grad_fn="ViewBackward0",
      linear=True, printer=_print_reshape,
      vjps=(lambda ct, ans, x, *, shape: ct.reshape(x.shape),))
defop("transpose", "{x}.transpose({axes})", view=True, shape=_transpose_shape, printer=_print_transpose,
      grad_fn="PermuteBackward0", linear=True,
      vjps=(lambda ct, ans, x, *, axes: ct.permute(tuple(np.argsort(axes).tolist())),))
# broadcasting's VJP is the identity: `vjp` sums the cotangent back to the input's shape.
defop("broadcast_to", "np.broadcast_to({x}, {shape})", view=True, shape=_broadcast_to_shape,
      grad_fn="ExpandBackward0", linear=True, vjps=(lambda ct, ans, x, *, shape: ct,))
# ones_like and zeros_like read only their input's shape and dtype: no gradient flows.
defop("ones_like", "np.ones_like({x})", vjps=(None,))
defop("zeros_like", "np.zeros_like({x})", vjps=(None,))


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


defop("cat", lambda names, params: f"np.concatenate(({', '.join(names)},), axis={params['axis']})",
      forward=lambda *xs, axis: np.concatenate(xs, axis=axis), shape=_cat_shape,
      dtype=lambda inputs, params: np.result_type(*inputs), promote="common", linear=True,
      variadic=True, vjps=(_cat_vjp,))
