"""Math functions for Numba kernels in plain arithmetic that LLVM vectorizes (no libm call).

Numba compiles `np.sin`, `np.exp`... on a scalar to a call of libm, one element at a time,
and a call in a loop keeps the whole loop scalar, while NumPy runs most of them in SIMD
loops. These run in the kernel's own vector loop instead, so the values need no pass of
their own over memory. Each is valid on a range (`ok_*` says whether an argument is in it):
kernels use them while every argument is, and run their loop again with NumPy's scalar
functions (libm) when one is not, so infinities, NaNs and huge arguments give libm's answer.

* sin, cos: x is reduced by pi/2 (in four pieces of 33 bits or less, as
  `symgrad.ops.kernels.sincos` does: for |x| <= 2**19 each n * piece is exact) and fdlibm's
  polynomials run on [-pi/4, pi/4]: within 2 ulp of libm (on 10^6 points in [-100, 100]).
* exp: x = k ln 2 + r with |r| <= ln 2 / 2, exp(r) by its Taylor series to r**13, times 2**k
  made from its bits; |x| <= 708, so that 2**k is a normal number.
* expm1: its Taylor series to x**14 for |x| < 0.35 (no cancellation near 0), else exp(x) - 1.
* log, log1p: the exponent and mantissa m in [sqrt(2)/2, sqrt(2)) from the bits, log(m) =
  2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s**25; log1p adds
  the rounding error of 1 + x back, (x - (u - 1)) / u. Normal finite x (log), x > -1 (log1p).
* tanh: -t / (t + 2) with t = expm1(-2|x|), the sign of x, and 1 past |x| = 20.

Each is within 4 ulp of libm on the tests' points (tests/test_backend_numba.py), far inside
the back end's 1e-12 relative tolerance; no fastmath, so no fused multiply-adds either.
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

LIMIT = 2.0**19  # sin and cos
EXP_LIMIT = 708.0
TANH_ONE = 20.0  # tanh(x) rounds to 1 past this
_PIO2 = (1.57079632673412561417e+00, 6.07710050630396597660e-11, 2.02226624871116645580e-21,
         8.47842766036889956997e-32)
_S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_SQRT2 = 1.4142135623730951
_MANTISSA = (1 << 52) - 1


@intrinsic
def _bits(typingctx, x):  # noqa: ANN001, ANN202 - Numba's intrinsic signature
    """The int64 with x's float64 bits."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _float(typingctx, n):  # noqa: ANN001, ANN202
    """The float64 with n's int64 bits."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@numba.njit(cache=True, error_model="numpy")
def _reduce(x: float) -> tuple:
    """(sin r, cos r, quadrant) with x = n pi/2 + r, |r| <= pi/4, quadrant = n mod 4."""
    n = np.rint(x * 0.6366197723675814)
    r = (((x - n * _PIO2[0]) - n * _PIO2[1]) - n * _PIO2[2]) - n * _PIO2[3]
    z = r * r
    s = r + r * z * (_S[0] + z * (_S[1] + z * (_S[2] + z * (_S[3] + z * (_S[4] + z * _S[5])))))
    c = 1.0 - 0.5 * z + z * z * (_C[0] + z * (_C[1] + z * (_C[2] + z * (_C[3] + z * (_C[4] + z * _C[5])))))
    return s, c, np.int64(n) & 3


@numba.njit(cache=True, error_model="numpy")
def vsin(x: float) -> float:
    """sin(x) within 2 ulp for |x| <= LIMIT."""
    s, c, q = _reduce(x)
    return (s if q == 0 else c) if q < 2 else (-s if q == 2 else -c)


@numba.njit(cache=True, error_model="numpy")
def vcos(x: float) -> float:
    """cos(x) within 2 ulp for |x| <= LIMIT."""
    s, c, q = _reduce(x)
    return (c if q == 0 else -s) if q < 2 else (-c if q == 2 else s)


@numba.njit(cache=True, error_model="numpy")
def vexp(x: float) -> float:
    """exp(x) for |x| <= EXP_LIMIT."""
    k = np.rint(x * _INV_LN2)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (
            1 / 39916800 + r * (1 / 479001600 + r * (1 / 6227020800)))))))))))))
    return p * _float((np.int64(k) + 1023) << 52)


@numba.njit(cache=True, error_model="numpy")
def vexpm1(x: float) -> float:
    """exp(x) - 1 for |x| <= EXP_LIMIT, to a few ulp also near 0."""
    small = x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (1 / 720 + x * (
        1 / 5040 + x * (1 / 40320 + x * (1 / 362880 + x * (1 / 3628800 + x * (1 / 39916800 + x * (
            1 / 479001600 + x * (1 / 6227020800 + x * (1 / 87178291200))))))))))))))
    big = vexp(x) - 1.0  # computed either way: a branch around a call would keep the loop scalar
    return small if abs(x) < 0.35 else big


@numba.njit(cache=True, error_model="numpy")
def _log(u: float, c: float) -> float:
    """log(u) + c for a normal finite u > 0, c small against it."""
    b = _bits(u)
    e = (b >> 52) - 1023
    m = _float((b & _MANTISSA) | (1023 << 52))  # in [1, 2)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    k = np.float64(e + 1 if high else e)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    t = z * (1 / 3 + z * (1 / 5 + z * (1 / 7 + z * (1 / 9 + z * (1 / 11 + z * (1 / 13 + z * (
        1 / 15 + z * (1 / 17 + z * (1 / 19 + z * (1 / 21 + z * (1 / 23 + z * (1 / 25))))))))))))
    return k * _LN2_HI + (f - (s * (f - t * 2.0) - (k * _LN2_LO + c)))


@numba.njit(cache=True, error_model="numpy")
def vlog(x: float) -> float:
    """log(x) for a normal finite x > 0."""
    return _log(x, 0.0)


@numba.njit(cache=True, error_model="numpy")
def vlog1p(x: float) -> float:
    """log(1 + x) for -1 < x < 1e300, to a few ulp also near 0."""
    u = 1.0 + x
    return _log(u, (x - (u - 1.0)) / u)


@numba.njit(cache=True, error_model="numpy")
def vtanh(x: float) -> float:
    """tanh(x) for x not NaN."""
    a = abs(x)
    t = vexpm1(-2.0 * (a if a < TANH_ONE else TANH_ONE))
    return np.copysign(-t / (t + 2.0), x)
