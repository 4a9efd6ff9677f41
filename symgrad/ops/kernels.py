"""NumPy has no function for these; generated code imports them from here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, to double precision (`math.erf`)."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return np.asarray(_erf(x), dtype=dtype)


# ---------------------------------------------------------------- special functions
# SciPy's when it is installed (imported on first use, never at symgrad's import), else NumPy
# code to double precision: symgrad works without SciPy.

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _scipy(name: str) -> Any:
    """`scipy.special.<name>`, or None without SciPy."""
    try:
        from scipy import special
    except ImportError:
        return None
    return getattr(special, name)


def _float(x: Any) -> np.ndarray:
    """`x` as an array of its float dtype, or of float64."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def erfc(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), elementwise, accurate where erf(x) is close to 1 (`math.erfc`)."""
    x = _float(x)
    return np.asarray(_erfc(x), dtype=x.dtype)


def erfinv(x: np.ndarray) -> np.ndarray:
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside): SciPy's, or
    Newton's method from Giles's single-precision approximation: on erf(y) = |x| below 0.5,
    on log erfc(y) = log(1 - |x|) above (exact near 1, where erf(y) - x would cancel)."""
    x = _float(x)
    scipy_erfinv = _scipy("erfinv")
    if scipy_erfinv is not None:
        return np.asarray(scipy_erfinv(x), dtype=x.dtype)
    a = np.abs(x.astype(np.float64))
    inner = a < 1
    a = np.where(inner, a, 0.0)
    w = -np.log((1.0 - a) * (1.0 + a))
    y = a * np.where(w < 5.0, np.polyval(_GILES_CENTRAL, w - 2.5),
                     np.polyval(_GILES_TAIL, np.sqrt(np.maximum(w, 5.0)) - 3.0))
    central, log_tail = a < 0.5, np.log1p(-a)
    for _ in range(3):  # quadratic convergence: ~1e-7 -> double precision
        slope = _TWO_OVER_SQRT_PI * np.exp(-y * y)
        tail = np.asarray(_erfc(y), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(central, (np.asarray(_erf(y), dtype=np.float64) - a) / slope,
                            (log_tail - np.log(tail)) * tail / slope)
        y = y - np.where(inner, step, 0.0)
    edge = np.where(np.abs(x) == 1, np.inf, np.nan)
    return np.asarray(np.sign(x) * np.where(inner, y, edge), dtype=x.dtype)


_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _lgamma1(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...
        return math.inf


_lgamma = np.frompyfunc(_lgamma1, 1, 1)


def lgamma(x: np.ndarray) -> np.ndarray:
    """log|Gamma(x)|, elementwise (SciPy's gammaln, or `math.lgamma`); inf at the poles."""
    x = _float(x)
    gammaln = _scipy("gammaln")
    if gammaln is not None:
        return np.asarray(gammaln(x), dtype=x.dtype)
    return np.asarray(_lgamma(x), dtype=x.dtype)


# Bernoulli numbers B2, B4, ..., B20 for the asymptotic series of digamma and polygamma
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)


def digamma(x: np.ndarray) -> np.ndarray:
    """The digamma function psi(x) = d/dx log Gamma(x), elementwise (SciPy's psi, or NumPy).

    Without SciPy: psi(x) = psi(1 - x) - pi / tan(pi x) for x < 0, the recurrence
    psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series (error below 1e-16).
    """
    x = _float(x)
    psi = _scipy("psi")
    if psi is not None:
        return np.asarray(psi(x), dtype=x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = x.astype(np.float64)
        negative = v < 0
        t = np.where(negative, 1.0 - v, v)
        out = np.zeros_like(t)
        low = np.isfinite(t) & (t < 10.0)
        while low.any():
            out[low] -= 1.0 / t[low]
            t[low] += 1.0
            low &= t < 10.0
        inv2 = 1.0 / (t * t)
        series = np.zeros_like(t)
        for k in range(len(_BERNOULLI), 0, -1):
            series = (series + _BERNOULLI[k - 1] / (2 * k)) * inv2
        out += np.log(t) - 0.5 / t - series
        reflected = out - np.pi / np.tan(np.pi * (v - np.trunc(v)))
        out = np.where(negative, reflected, out)
        out = np.where(negative & (v == np.trunc(v)), np.nan, out)  # the poles -1, -2, ...
        out = np.where(v == 0, -np.copysign(np.inf, v), out)  # psi(+-0) = -+inf
    return np.asarray(out, dtype=x.dtype)


def polygamma(n: int, x: np.ndarray) -> np.ndarray:
    """The n-th derivative of digamma, elementwise (SciPy's polygamma, or NumPy).

    Without SciPy (n >= 1): the recurrence psi_n(x) = psi_n(x + 1) + (-1)^(n+1) n! / x^(n+1)
    up to x >= n + 10 (for negative x too: one step per unit below), then the asymptotic series.
    """
    if n == 0:
        return digamma(x)
    x = _float(x)
    scipy_polygamma = _scipy("polygamma")
    if scipy_polygamma is not None:
        return np.asarray(scipy_polygamma(n, x), dtype=x.dtype)
    sign, fact = (-1.0) ** (n + 1), math.factorial(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = x.astype(np.float64)
        out = np.zeros_like(t)
        low = np.isfinite(t) & (t < n + 10.0)
        while low.any():
            out[low] += fact / t[low] ** (n + 1)
            t[low] += 1.0
            low &= t < n + 10.0
        inv2 = 1.0 / (t * t)
        series = np.zeros_like(t)
        for k in range(len(_BERNOULLI), 0, -1):  # B_2k (2k+n-1)! / (2k)! / t^(2k+n)
            coeff = _BERNOULLI[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
            series = (series + coeff) * inv2
        lead = math.factorial(n - 1) / t ** n + fact / (2 * t ** (n + 1))
        out = sign * (out + lead + series / t ** n)
    return np.asarray(out, dtype=x.dtype)


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def log_ndtr(x: np.ndarray) -> np.ndarray:
    """log of the standard normal CDF, elementwise, accurate in both tails (SciPy's log_ndtr,
    or NumPy: log1p(-ndtr(-x)) above 0, log(ndtr(x)) down to -20, the asymptotic series
    -x^2/2 - log(-x) - log(2 pi)/2 + log(1 - 1/x^2 + 3/x^4 - ...) below)."""
    x = _float(x)
    scipy_log_ndtr = _scipy("log_ndtr")
    if scipy_log_ndtr is not None:
        return np.asarray(scipy_log_ndtr(x), dtype=x.dtype)
    v = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = 0.5 * np.asarray(_erfc(np.abs(v) * math.sqrt(0.5)), dtype=np.float64)  # ndtr(-|x|)
        out = np.where(v > 0, np.log1p(-half), np.log(half))
        tail = v < -20
        if tail.any():
            t = v[tail]
            inv2 = 1.0 / (t * t)
            series, term = np.zeros_like(t), np.ones_like(t)
            for k in range(1, 11):  # (-1)^k (2k-1)!! / x^2k
                term = -term * (2 * k - 1) * inv2
                series += term
            out[tail] = -0.5 * t * t - np.log(-t) - _LOG_SQRT_2PI + np.log1p(series)
    return np.asarray(out, dtype=x.dtype)


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), and 0 where x == 0 (unless y is nan): the convention of entropies."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.log(y)  # of a Python number, a Python float again: weak, as y was (float32 x stays)
        out = np.multiply(x, log if isinstance(log, np.ndarray) else float(log))
    return np.where((np.asarray(x) == 0) & ~np.isnan(y), 0.0, out)


def xlog1py(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log1p(y), and 0 where x == 0 (unless y is nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.multiply(x, np.log1p(y))
    return np.where((np.asarray(x) == 0) & ~np.isnan(y), 0.0, out)


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
MASKED_FROM = 512  # elements: below, NumPy's `where` costs less than the mask's three calls


def bitwise_where(condition: Any, x: Any, y: Any) -> Any:
    """`np.where(condition, x, y)`. Where one branch is a zero number and the other an
    integer or float array (a ReLU-like mask: `clamp(min=0)`, its gradient `where(x < 0, 0,
    ct)`; a max's gradient, the cotangent spread over the elements equal to the max), the
    kept elements' bits are and-ed with a mask of all-ones or all-zeros instead, broadcast
    as `where` broadcasts: NumPy's `where` branches per element, which on a random mask
    costs 3 ns an element (50 us on 64x256; more when a branch broadcasts), the mask 0.4
    (from 512 elements: below, NumPy's costs less than three calls). The same bits either
    way: a kept NaN, inf or -0.0 stays as it is, a zero is +0.0."""
    if type(condition) is np.ndarray and condition.size >= MASKED_FROM and condition.dtype == np.bool_:
        if type(y) is np.ndarray and _zero_of(x, y):
            u = _UNSIGNED[y.itemsize]  # condition - 1: 0 where true, all-ones where false
            return np.bitwise_and(y.view(u), np.subtract(condition, u(1), dtype=u)).view(y.dtype)
        if type(x) is np.ndarray and _zero_of(y, x):
            u = _UNSIGNED[x.itemsize]  # 0 - condition: all-ones where true, 0 where false
            return np.bitwise_and(x.view(u), np.subtract(u(0), condition, dtype=u)).view(x.dtype)
    return np.where(condition, x, y)


def _zero_of(zero: Any, array: np.ndarray) -> bool:
    """Whether `zero` is +0 that `np.where` would give as `array`'s dtype: a Python 0 (0.0
    for a float array) or a NumPy zero of that dtype; `array` of integers or floats whose
    itemsize has an unsigned integer of its size, in the machine's byte order."""
    kind = array.dtype.kind
    if kind not in "iuf" or array.itemsize not in _UNSIGNED or not array.dtype.isnative:
        return False
    t = type(zero)
    if t is int or t is float and kind == "f":
        return zero == 0 and not math.copysign(1.0, zero) < 0
    return isinstance(zero, np.generic) and zero.dtype == array.dtype and zero == 0 \
        and not np.signbit(zero)


def _basic(key: tuple) -> bool:
    """Whether a NumPy key is basic indexing (ints, slices, None, Ellipsis), which never
    reaches an element twice: writing there is adding. (A loop, not `all` of a generator:
    a getitem's gradient asks once per backward.)"""
    for k in key:
        if type(k) is not slice and k is not None and k is not Ellipsis and not isinstance(k, int):
            return False
    return True


def scatter_add(ct: np.ndarray, shape: tuple[int, ...], key: tuple) -> np.ndarray:
    """Zeros of `shape` with `ct` added at `key`; repeated indices accumulate (np.add.at)."""
    out = np.zeros(shape, np.asarray(ct).dtype)
    if _basic(key):
        out[key] = ct  # a basic index never repeats an element: plain assignment
    else:
        np.add.at(out, key, ct)
    return out


def windows(x: np.ndarray, axis: int, width: int, step: int, dilation: int) -> np.ndarray:
    """Windows of `width` elements `dilation` apart along `axis`, one starting every `step`:
    that axis becomes two, (window, element), in a read-only view of `x` (no copy; windows
    may overlap, so the view must not be written)."""
    x = np.asarray(x)
    span = dilation * (width - 1) + 1
    if min(width, step, dilation) < 1 or span > x.shape[axis]:
        raise ValueError(f"windows of {width} elements {dilation} apart (span {span}) every {step} "
                         f"do not fit axis {axis} of shape {x.shape}")
    count = (x.shape[axis] - span) // step + 1
    stride = x.strides[axis]
    return np.lib.stride_tricks.as_strided(
        x, x.shape[:axis] + (count, width) + x.shape[axis + 1:],
        x.strides[:axis] + (stride * step, stride * dilation) + x.strides[axis + 1:], writeable=False)


def unwindows(ct: np.ndarray, axis: int, length: int, step: int, dilation: int) -> np.ndarray:
    """`windows`' adjoint: axes `axis` and `axis + 1` of `ct` (window, element) merged back
    into one of `length`, each element added where its window took it from: one strided add
    per element of a window, not a scatter per value."""
    ct = np.asarray(ct)
    count, width = ct.shape[axis], ct.shape[axis + 1]
    shape = ct.shape[:axis] + (length,) + ct.shape[axis + 2:]
    if dilation == 1 and step == width and count * width == length and ct.flags.c_contiguous:
        return ct.reshape(shape)  # windows side by side: the same elements, a view
    out = np.zeros(shape, ct.dtype)
    lead = (slice(None),) * axis
    for j in range(width):
        start = j * dilation
        out[lead + (slice(start, start + step * (count - 1) + 1, step),)] += ct[lead + (slice(None), j)]
    return out


def index_add(base: np.ndarray, ct: np.ndarray, key: tuple) -> np.ndarray:
    """A copy of `base` with `ct` added at `key` (repeated indices accumulate)."""
    return index_add_(np.array(base, copy=True), ct, key)


def index_add_(base: np.ndarray, ct: np.ndarray, key: tuple) -> np.ndarray:
    """`base` itself, with `ct` added at `key`: for a temporary nothing else reads."""
    if _basic(key):
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


SIGMOID_LOOP_FROM = 128  # elements: below, exp(-logaddexp(0, -x)) costs less than the errstate


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)): exact for every x (exp overflowing to inf gives the right 0),
    in one array: each step writes over the last. Below `SIGMOID_LOOP_FROM` elements it is
    exp(-logaddexp(0, -x)), as the generated code prints it there: the errstate costs about
    1.5 us, logaddexp 40 ns an element (16 float32: 1.3 us against 2.8)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if x.size < SIGMOID_LOOP_FROM:
        return np.exp(-np.logaddexp(0.0, -x))
    t = np.negative(x, out=np.empty(x.shape, x.dtype))
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


# ---------------------------------------------------------------- SciPy's special functions, second batch
# Each is `scipy.special.<name>`; those with a short exact NumPy form have it as the fallback,
# the others need SciPy and say so.

def _needs_scipy(name: str) -> Any:
    """`scipy.special.<name>`, or a ModuleNotFoundError naming what needs it."""
    fn = _scipy(name)
    if fn is None:
        raise ModuleNotFoundError(f"symgrad's {name} kernel needs SciPy (scipy.special.{name})")
    return fn


def gamma(x: np.ndarray) -> np.ndarray:
    """The gamma function: +-inf at +-0, NaN at the negative integers."""
    return _needs_scipy("gamma")(_float(x))


def rgamma(x: np.ndarray) -> np.ndarray:
    """1 / Gamma(x), zero at the poles 0, -1, -2, ..."""
    return _needs_scipy("rgamma")(_float(x))


def betaln(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log|B(a, b)|, accurate where lgamma(a) + lgamma(b) - lgamma(a + b) would cancel."""
    return _needs_scipy("betaln")(a, b)


def beta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The beta function B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b)."""
    return _needs_scipy("beta")(a, b)


def binom(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The binomial coefficient for real n and k."""
    return _needs_scipy("binom")(n, k)


def ndtri(p: np.ndarray) -> np.ndarray:
    """The inverse of the standard normal CDF, accurate in both tails."""
    return _needs_scipy("ndtri")(_float(p))


def erfcx(x: np.ndarray) -> np.ndarray:
    """exp(x^2) erfc(x), without overflow for large x."""
    return _needs_scipy("erfcx")(_float(x))


def entr(x: np.ndarray) -> np.ndarray:
    """-x log(x) for x > 0, 0 at 0, -inf below (SciPy's entr, or NumPy)."""
    x = _float(x)
    fn = _scipy("entr")
    if fn is not None:
        return fn(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, -x * np.log(x), np.where(x == 0, 0.0, -np.inf)).astype(x.dtype)[()]


def rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x log(x / y) for x, y > 0; 0 at x == 0, y >= 0; inf elsewhere (SciPy's, or NumPy)."""
    fn = _scipy("rel_entr")
    if fn is not None:
        return fn(x, y)
    x, y = np.broadcast_arrays(_float(x), _float(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((x > 0) & (y > 0), x * np.log(x / y), np.where((x == 0) & (y >= 0), 0.0, np.inf))
    return np.where(np.isnan(x) | np.isnan(y), np.nan, out)[()]


def kl_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x log(x / y) - x + y for x, y > 0; y at x == 0, y >= 0; inf elsewhere (SciPy's, or NumPy)."""
    fn = _scipy("kl_div")
    if fn is not None:
        return fn(x, y)
    x, y = np.broadcast_arrays(_float(x), _float(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((x > 0) & (y > 0), x * np.log(x / y) - x + y,
                       np.where((x == 0) & (y >= 0), y, np.inf))
    return np.where(np.isnan(x) | np.isnan(y), np.nan, out)[()]


def i0(x: np.ndarray) -> np.ndarray:
    """The modified Bessel function of the first kind, order 0 (SciPy's, or `np.i0`)."""
    x = _float(x)
    fn = _scipy("i0")
    return np.asarray(fn(x) if fn is not None else np.i0(x), dtype=x.dtype)[()]


def i0e(x: np.ndarray) -> np.ndarray:
    """exp(-|x|) i0(x), without overflow for large |x|."""
    return _needs_scipy("i0e")(_float(x))


def i1(x: np.ndarray) -> np.ndarray:
    """The modified Bessel function of the first kind, order 1."""
    return _needs_scipy("i1")(_float(x))


def i1e(x: np.ndarray) -> np.ndarray:
    """exp(-|x|) i1(x), without overflow for large |x|."""
    return _needs_scipy("i1e")(_float(x))


def gammainc(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The regularized lower incomplete gamma function P(a, x)."""
    return _needs_scipy("gammainc")(a, x)


def gammaincc(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return _needs_scipy("gammaincc")(a, x)


def betainc(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The regularized incomplete beta function I_x(a, b)."""
    return _needs_scipy("betainc")(a, b, x)


def boxcox(x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
    """The Box-Cox transform (x**lmbda - 1) / lmbda, log(x) at lmbda == 0 (SciPy's, or NumPy)."""
    fn = _scipy("boxcox")
    return fn(x, lmbda) if fn is not None else _boxcox_of_log(np.log, x, lmbda)


def boxcox1p(x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
    """boxcox(1 + x, lmbda), accurate for small x (SciPy's, or NumPy)."""
    fn = _scipy("boxcox1p")
    return fn(x, lmbda) if fn is not None else _boxcox_of_log(np.log1p, x, lmbda)


def _boxcox_of_log(log: Any, x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
    """expm1(lmbda L) / lmbda for L = log(x), and L itself where lmbda == 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        big_l = log(_float(x))
        return np.where(np.asarray(lmbda) == 0, big_l, np.expm1(lmbda * big_l) / lmbda)[()]


def inv_boxcox(y: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
    """The inverse of boxcox, (1 + lmbda y)**(1 / lmbda), exp(y) at lmbda == 0 (SciPy's, or NumPy)."""
    fn = _scipy("inv_boxcox")
    if fn is not None:
        return fn(y, lmbda)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = _float(y)
        return np.where(np.asarray(lmbda) == 0, np.exp(y), np.exp(np.log1p(lmbda * y) / lmbda))[()]
