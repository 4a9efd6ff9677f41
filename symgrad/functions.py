"""The op functions (`symgrad.exp(x)`, `symgrad.matmul(a, b)`...): the surface's methods as functions.

Arguments that are not yet tensors (lists, arrays, scalars) become constant tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.surface import Surface, mean, where


def _surface(x: Any) -> Surface:
    return x if isinstance(x, Surface) else Surface._default._lift(np.asarray(x))


def add(input: Any, other: Any) -> Surface: return _surface(input) + other
def sub(input: Any, other: Any) -> Surface: return _surface(input) - other
def mul(input: Any, other: Any) -> Surface: return _surface(input) * other
def div(input: Any, other: Any) -> Surface: return _surface(input) / other
def neg(input: Any) -> Surface: return -_surface(input)
def pow(input: Any, exponent: Any) -> Surface: return _surface(input) ** exponent  # noqa: A001
def exp(input: Any) -> Surface: return _surface(input).exp()
def log(input: Any) -> Surface: return _surface(input).log()
def log1p(input: Any) -> Surface: return _surface(input).log1p()
def expm1(input: Any) -> Surface: return _surface(input).expm1()
def tanh(input: Any) -> Surface: return _surface(input).tanh()
def sqrt(input: Any) -> Surface: return _surface(input).sqrt()
def sigmoid(input: Any) -> Surface: return _surface(input).sigmoid()
def matmul(input: Any, other: Any) -> Surface: return _surface(input) @ other


def sum(input: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Surface:  # noqa: A001
    return _surface(input).sum(dim, keepdim)


def reshape(input: Any, shape: Sequence[int]) -> Surface:
    return _surface(input).reshape(tuple(shape))


def transpose(input: Any, dim0: int, dim1: int) -> Surface:
    return _surface(input).transpose(dim0, dim1)


def permute(input: Any, dims: Sequence[int]) -> Surface:
    return _surface(input).permute(tuple(dims))


def t(input: Any) -> Surface:
    return _surface(input).t()


def unsqueeze(input: Any, dim: int) -> Surface:
    return _surface(input).unsqueeze(dim)


def squeeze(input: Any, dim: int | None = None) -> Surface:
    return _surface(input).squeeze(dim)


def broadcast_to(input: Any, shape: Sequence[int]) -> Surface:
    return _surface(input).broadcast_to(tuple(shape))


__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "log1p", "expm1", "tanh", "sqrt",
    "sigmoid", "matmul", "sum", "mean", "reshape", "transpose", "permute", "t", "unsqueeze",
    "squeeze", "broadcast_to", "where",
]
