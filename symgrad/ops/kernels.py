"""NumPy has no function for these; generated code imports them from here."""

from __future__ import annotations

import math

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, to double precision (`math.erf`)."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return np.asarray(_erf(x), dtype=dtype)


def scatter_add(ct: np.ndarray, shape: tuple[int, ...], key: tuple) -> np.ndarray:
    """Zeros of `shape` with `ct` added at `key`; repeated indices accumulate (np.add.at)."""
    out = np.zeros(shape, np.asarray(ct).dtype)
    if all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key):
        out[key] = ct  # a basic index never repeats an element: plain assignment
    else:
        np.add.at(out, key, ct)
    return out


def index_add(base: np.ndarray, ct: np.ndarray, key: tuple) -> np.ndarray:
    """A copy of `base` with `ct` added at `key` (repeated indices accumulate)."""
    return index_add_(np.array(base, copy=True), ct, key)


def index_add_(base: np.ndarray, ct: np.ndarray, key: tuple) -> np.ndarray:
    """`base` itself, with `ct` added at `key`: for a temporary nothing else reads."""
    if all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key):
        base[key] += ct
    else:
        np.add.at(base, key, ct)
    return base


def setitem(x: np.ndarray, value: object, key: tuple) -> np.ndarray:
    """A copy of `x` with `value` written at `key`."""
    out = np.array(x, copy=True)
    out[key] = value
    return out


def check_nan(value: np.ndarray, op: str, statement: str, where: str) -> None:
    """debug_nans: raise at the first op whose result holds a NaN."""
    if np.isnan(value).any():
        raise FloatingPointError(
            f"debug_nans: op '{op}' produced NaN in `{statement}` (traced from {where})")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)): exact for every x (exp overflowing to inf gives the right 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))
