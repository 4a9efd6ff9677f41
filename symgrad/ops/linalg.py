"""Matrix products: `matmul` over 1-D, 2-D and batched operands, as NumPy's `@`, and its
spellings: `mm`, `bmm`, `mv`, `dot`, `outer`, `np.dot`."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops import batching
from symgrad.ops.core import ShapeError, broadcast_shapes, defop, shape_of
from symgrad.ops.dispatch import apply, function, lift, method, no_out, numpy_function


def _matmul_shape(x: tuple, y: tuple) -> tuple:
    if not x or not y:
        raise ShapeError(f"both arguments must be at least 1-D, got shapes {x} and {y}")
    k1 = x[-1]
    k2 = y[-2] if len(y) > 1 else y[0]
    if k1 != k2:
        raise ShapeError(f"shapes {x} and {y} cannot be multiplied ({k1} != {k2})")
    batch = broadcast_shapes(x[:-2], y[:-2])
    return batch + x[-2:-1] + y[-1:] if len(y) > 1 else batch + x[-2:-1]


def _swap_last(v: Any) -> Any:
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return v.permute(axes)


def _matmul_vjp_x(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * y
    if y.ndim == 1:
        return ct.unsqueeze(-1) * y
    if x.ndim == 1 and y.ndim == 2:
        return ct @ y.T  # (m,) @ (m, k): a plain product, also for a batch of cotangents
    if x.ndim == 1:
        return (y @ ct.unsqueeze(-1)).squeeze(-1)
    return ct @ _swap_last(y)


def _matmul_vjp_y(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * x
    if x.ndim == 1:
        return x.unsqueeze(-1) * ct.unsqueeze(-2)
    if y.ndim == 1 and x.ndim == 2:
        return ct @ x  # (n,) @ (n, k)
    if y.ndim == 1:
        return (_swap_last(x) @ ct.unsqueeze(-1)).squeeze(-1)
    return _swap_last(x) @ ct


def _matmul_name(inputs: tuple, params: dict) -> str:
    nx, ny = len(shape_of(inputs[0])), len(shape_of(inputs[1]))
    if nx == 1 and ny == 1:
        return "DotBackward0"
    if ny == 1:
        return "MvBackward0"
    return "MmBackward0" if nx <= 2 and ny == 2 else "BmmBackward0"


def _matmul_batch(op, args, batched, params, size):
    x, y = args
    xb, yb = batched
    xs, ys = batching.example_shape(x, xb), batching.example_shape(y, yb)
    if len(xs) > 2 or len(ys) > 2:
        raise batching.NotBatchable("batched matmul")
    if xb and yb:
        if len(xs) == 1 and len(ys) == 1:
            return (x * y).sum(1)
        xt = x.unsqueeze(1) if len(xs) == 1 else x
        yt = y.unsqueeze(-1) if len(ys) == 1 else y
        return (xt @ yt).reshape((size,) + (xs[:-1] + ys[1:] if len(ys) > 1 else xs[:-1]))
    if xb:  # (B, k) @ (k, m), (B, n, k) @ (k, m), (B, k) @ (k,): NumPy's rules batch it
        return x @ y
    if len(ys) == 1:  # x @ y_b for each b: y (B, k) @ x.T
        return y @ (x.T if len(xs) == 2 else x)
    return x @ y  # (n, k) @ (B, k, m) or (k,) @ (B, k, m)


MATMUL = defop(
    "matmul", "{x} @ {y}", ufunc=np.matmul, shape=_matmul_shape, grad_fn=_matmul_name,
    operators=("matmul", "rmatmul"), methods=("matmul",), batch=_matmul_batch,
    doc="Matrix product with NumPy's 1-D and batch rules.", vjps=(_matmul_vjp_x, _matmul_vjp_y),
)


def _matmul_of_rank(name: str, rank: int, input: Any, mat2: Any) -> Any:
    """input @ mat2, both of `rank` dimensions, as PyTorch's `name` requires."""
    if np.ndim(input) != rank or np.ndim(mat2) != rank:
        raise RuntimeError(f"{name}: both arguments must be {rank}-D, got {np.ndim(input)}-D and "
                           f"{np.ndim(mat2)}-D")
    return lift(input) @ mat2


@function
def mm(input: Any, mat2: Any) -> Any:
    """Product of two matrices."""
    return _matmul_of_rank("mm", 2, input, mat2)


@function
def bmm(input: Any, mat2: Any) -> Any:
    """Batched product of two stacks of matrices, (b, n, m) @ (b, m, p)."""
    return _matmul_of_rank("bmm", 3, input, mat2)


@function
def mv(input: Any, vec: Any) -> Any:
    """Matrix times vector."""
    return lift(input) @ vec


@function
def dot(input: Any, other: Any) -> Any:
    """Inner product of two 1-D tensors."""
    if np.ndim(input) != 1 or np.ndim(other) != 1:
        raise RuntimeError(f"1D tensors expected, but got {np.ndim(input)}D and {np.ndim(other)}D tensors")
    return lift(input) @ other


@function
def outer(input: Any, vec2: Any) -> Any:
    """Outer product of two 1-D tensors."""
    return lift(input).unsqueeze(-1) * lift(vec2).unsqueeze(0)


@method("dot")
def dot_method(self, other):
    """NumPy's ndarray.dot."""
    return _np_dot(self, other)


@numpy_function(np.dot)
def _np_dot(a, b, out=None):
    no_out("dot", out)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return lift(a, a, b) * b
    if np.ndim(b) > 2:
        raise TypeError("numpy.dot with a >2-D second argument is not supported; use np.matmul")
    return apply(MATMUL, a, b)

