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
    """1 / (1 + exp(-x)): exact for every x (exp overflowing to inf gives the right 0),
    in one array: each step writes over the last."""
    x = np.asarray(x)
    t = np.negative(x, out=np.empty(x.shape, x.dtype if x.dtype.kind == "f" else np.float64))
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    np.add(t, 1.0, out=t)
    np.divide(1.0, t, out=t)
    return t if t.ndim else t[()]


# pi/2 in four pieces of 33 bits or less (fdlibm's __rem_pio2): for |n| < 2**20 each n * piece
# is exact, so x - n*pi/2 keeps its accuracy even next to a multiple of pi/2
_PIO2 = (1.57079632673412561417e+00, 6.07710050630396597660e-11, 2.02226624871116645580e-21,
         8.47842766036889956997e-32)
_SINCOS_LIMIT = 2.0**19


def sincos(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin(x) and cos(x) of float64 `x` at once, within 4 ulp, about twice as fast as np.sin
    and np.cos: NumPy's float64 sin and cos are scalar libm calls, but its tan is vectorized.

    x = n*pi/2 + r with |r| <= pi/4, then t = tan(r/2) gives sin r = 2t/(1+t^2) and
    cos r = (1-t^2)/(1+t^2), and n mod 4 picks the signs. |x| > 2**19, inf and nan go to
    np.sin and np.cos.
    """
    with np.errstate(invalid="ignore"):
        n = np.multiply(x, 2 / np.pi)
        np.rint(n, out=n)
        np.add(n, 0.0, out=n)  # -0.0 -> 0.0, so that x - n*pi/2 keeps the sign of a zero x
        r = np.multiply(n, _PIO2[0])
        np.subtract(x, r, out=r)
        w = np.empty_like(r)
        for piece in _PIO2[1:]:
            np.subtract(r, np.multiply(n, piece, out=w), out=r)
        t = np.tan(np.multiply(r, 0.5, out=r), out=r)
        u = np.multiply(t, t, out=w)
        d = np.add(u, 1.0)
        s = np.divide(np.add(t, t, out=t), d, out=t)
        c = np.divide(np.subtract(1.0, u, out=u), d, out=u)
        q = n.astype(np.int64)
        sign = np.subtract(1.0, q & 2, out=d)  # -1 in quadrants 2 and 3
        np.multiply(s, sign, out=s)
        np.multiply(c, sign, out=c)
        odd = (q & 1).astype(bool)
        sin = np.where(odd, c, s)
        cos = np.where(odd, np.negative(s, out=s), c)
    far = ~(np.abs(x) <= _SINCOS_LIMIT)
    if far.any():
        sin[far] = np.sin(x[far])
        cos[far] = np.cos(x[far])
    return sin, cos


def cumulative_argmax(x: np.ndarray, axis: int, largest: bool) -> np.ndarray:
    """Where each running maximum (or minimum) of `x` along `axis` was found: at ties the
    later index, and a NaN stays the extreme once met, as PyTorch's cummax/cummin."""
    running = (np.fmax if largest else np.fmin).accumulate(x, axis=axis)
    nan = np.isnan(x) if x.dtype.kind in "fc" else np.zeros(x.shape, bool)
    seen_nan = np.logical_or.accumulate(nan, axis=axis)
    positions = np.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    hit = np.where(seen_nan, nan, x == running)
    return np.maximum.accumulate(np.where(hit, positions, 0), axis=axis)
