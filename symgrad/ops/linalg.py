"""Matrix products: `matmul` over 1-D, 2-D and batched operands, as NumPy's `@`."""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops.core import ShapeError, broadcast_shapes, defop, shape_of


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


defop(
    "matmul", "{x} @ {y}", ufunc=np.matmul, shape=_matmul_shape, grad_fn=_matmul_name,
    vjps=(_matmul_vjp_x, _matmul_vjp_y),
)

