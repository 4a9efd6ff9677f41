"""Special functions: SciPy's special ufuncs and PyTorch's `torch.special`, as primitives.

SciPy is optional. Its ufuncs reach these ops through `__array_ufunc__`, looked up by name in
`SCIPY_UFUNCS` (see `symgrad.surface.numpy_binding`), so symgrad never imports SciPy; the
kernels use `scipy.special` when it is installed and NumPy code otherwise (the Bessel, incomplete
gamma and beta, ndtri and erfcx kernels need SciPy and say so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import batching
from symgrad.ops.core import OPS, _is_scalar, defop
from symgrad.ops.dispatch import Value, apply, composite, function, function_of, lift, method

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

defop("erfc", "erfc({x})", sympy="erfc", promote="float", kernels=("erfc",),
      doc="The complementary error function 1 - erf(input), accurate where erf is near 1.", vjps=(
    lambda ct, ans, x: -ct * _TWO_OVER_SQRT_PI * (-(x * x)).exp(),
))
# a primitive: erfinv has no closed form; its derivative sqrt(pi)/2 * exp(erfinv(x)^2) reuses it
defop("erfinv", "erfinv({x})", sympy="erfinv", promote="float", kernels=("erfinv",),
      doc="The inverse error function: erf(erfinv(input)) == input on (-1, 1).", vjps=(
    lambda ct, ans, x: ct * ((ans * ans).exp() / _TWO_OVER_SQRT_PI),
))
defop("lgamma", "lgamma({x})", sympy="loggamma", promote="float", kernels=("lgamma",),
      doc="log|Gamma(input)| (SciPy's gammaln).", vjps=(
    lambda ct, ans, x: ct * x.digamma(),
))
defop("digamma", "digamma({x})", sympy="Digamma", promote="float", kernels=("digamma",),
      doc="The derivative of lgamma (SciPy's psi).", vjps=(
    lambda ct, ans, x: ct * apply(POLYGAMMA, x, n=1),
))
# n is a parameter, so every derivative is again a polygamma: Hessians of lgamma work
POLYGAMMA = defop("polygamma", "polygamma({n}, {x})", promote="float", kernels=("polygamma",),
                  shape=lambda x, *, n: x, batch=batching.unary,
                  vjps=(lambda ct, ans, x, *, n: ct * apply(POLYGAMMA, x, n=n + 1),))
# a primitive: its own form log(x / (1 - x)) is accurate on (0, 1), a composite of log and
# log1p would read worse and cost more
defop("logit", "np.log({x} / (1 - {x}))", sympy="Logit", promote="float", methods=(),
      doc="log(input / (1 - input)), the inverse of sigmoid.", vjps=(
    lambda ct, ans, x: ct / (x * (1 - x)),
))
# a primitive for its tails: log(ndtr(x)) is -inf below x = -38
defop("log_ndtr", "log_ndtr({x})", sympy="LogNdtr", promote="float", kernels=("log_ndtr",), methods=(),
      grad_fn="SpecialLogNdtrBackward0",
      doc="log of the standard normal CDF, accurate in both tails.", vjps=(
    lambda ct, ans, x: ct * _INV_SQRT_2PI * (-(x * x) / 2 - ans).exp(),  # pdf / cdf, without underflow
))


def _x_name(base: str) -> Callable[[tuple, dict], str]:
    """PyTorch's overloads: 0 for two tensors, 1 for a scalar input, 2 for a scalar other."""
    def name(inputs: tuple, params: dict) -> str:
        return base + ("1" if _is_scalar(inputs[0]) else "2" if _is_scalar(inputs[1]) else "0")
    return name


def _taken(x: Any, y: Any, ct: Any, fill: float = 1.0) -> Any:
    """y where x != 0, else `fill`: what the gradients read, so that where x == 0 they are 0,
    never 0/0 or 0 * inf."""
    y = ct._number(y, ct) if type(y) in (int, float, bool) else lift(y, ct)  # 2: of ct's dtype, not int64
    return y.where(lift(x, ct) != 0, fill)


# 0 where x == 0 whatever y (the entropy convention), with gradient 0 there in both inputs;
# PyTorch's y-gradient x / y is nan at (0, 0), symgrad's is 0
defop("xlogy", "xlogy({x}, {y})", sympy="Xlogy", promote="float", kernels=("xlogy",), scalars=(0, 1),
      grad_fn=_x_name("XlogyBackward"), doc="input * log(other), and 0 where input == 0.", vjps=(
    lambda ct, ans, x, y: ct * _taken(x, y, ct).log(),
    lambda ct, ans, x, y: ct * x / _taken(x, y, ct),
))
defop("xlog1py", "xlog1py({x}, {y})", sympy="Xlog1py", promote="float", kernels=("xlog1py",), methods=(),
      grad_fn=_x_name("SpecialXlog1PyBackward"), doc="input * log1p(other), and 0 where input == 0.", vjps=(
    lambda ct, ans, x, y: ct * _taken(x, y, ct, 0.0).log1p(),
    lambda ct, ans, x, y: ct * x / _taken(x, y + 1, ct),
))


def _binary_cross_entropy(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-[t log p + (1 - t) log(1 - p)] with each log clamped at -100 (PyTorch's), so p = 0 or 1
    gives a finite loss; log(0) is expected there, not warned about."""
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


# a primitive for its gradient: PyTorch's (p - t) / max(p (1 - p), 1e-12) is finite at p = 0 and
# p = 1, where the clamped logs' gradient is 0 * inf = nan. The target's is log(1 - p) - log(p)
# unclamped, as PyTorch's (inf at p = 0). PyTorch's 1e-12 is a float32 constant in either dtype.
_BCE_EPS = float(np.float32(1e-12))
BINARY_CROSS_ENTROPY = defop(
    "binary_cross_entropy", "binary_cross_entropy({x}, {y})", promote="float", methods=(), functions=(),
    helpers={"binary_cross_entropy": _binary_cross_entropy}, grad_fn="BinaryCrossEntropyBackward0",
    doc="Binary cross-entropy of probabilities input against target, elementwise.", vjps=(
        lambda ct, ans, x, y: ct * (x - y) / (x * (1 - x)).maximum(_BCE_EPS),
        lambda ct, ans, x, y: ct * ((-x).log1p() - x.log()),
    ))


# ---------------------------------------------------------------- SciPy's special functions, second batch


def _v(x: Any, ct: Any) -> Value:
    """An input as a value of the cotangent's kind: a rule may call its methods (inputs may be
    Python scalars)."""
    return lift(x, ct)


def _no_derivative(name: str, argument: str) -> Callable[..., Any]:
    """A VJP rule for an input with no closed-form derivative: differentiating in it raises,
    as PyTorch's igamma does, rather than giving a silent zero."""
    def rule(ct: Any, ans: Any, *inputs: Any) -> Any:
        raise NotImplementedError(f"the derivative of {name} in {argument} is not implemented (it has no "
                                  "closed form); differentiate only in x, or detach that input")
    return rule


_SQRT_2PI = math.sqrt(2 * math.pi)

defop("gamma", "gamma({x})", promote="float", kernels=("gamma",), methods=(),
      doc="The gamma function.", vjps=(
    lambda ct, ans, x: ct * ans * x.digamma(),
))
defop("rgamma", "rgamma({x})", promote="float", kernels=("rgamma",), methods=(),
      doc="1 / Gamma(input): zero at the poles of Gamma.", vjps=(
    lambda ct, ans, x: -ct * ans * x.digamma(),  # nan at the poles, where Gamma's digamma is
))
# primitives: lgamma(a) + lgamma(b) - lgamma(a + b) cancels for large arguments
BETALN = defop("betaln", "betaln({x}, {y})", promote="float", kernels=("betaln",), methods=(),
               doc="log|B(a, b)|.", vjps=(
    lambda ct, ans, a, b: ct * (_v(a, ct).digamma() - _v(a + b, ct).digamma()),
    lambda ct, ans, a, b: ct * (_v(b, ct).digamma() - _v(a + b, ct).digamma()),
))
defop("beta", "beta({x}, {y})", promote="float", kernels=("beta",), methods=(),
      doc="The beta function B(a, b).", vjps=(
    lambda ct, ans, a, b: ct * ans * (_v(a, ct).digamma() - _v(a + b, ct).digamma()),
    lambda ct, ans, a, b: ct * ans * (_v(b, ct).digamma() - _v(a + b, ct).digamma()),
))
# binom(n, k) = Gamma(n + 1) / (Gamma(k + 1) Gamma(n - k + 1)), for real n and k
defop("binom", "binom({x}, {y})", promote="float", kernels=("binom",), methods=(),
      doc="The binomial coefficient of real n and k.", vjps=(
    lambda ct, ans, n, k: ct * ans * (_v(n + 1, ct).digamma() - _v(n - k + 1, ct).digamma()),
    lambda ct, ans, n, k: ct * ans * (_v(n - k + 1, ct).digamma() - _v(k + 1, ct).digamma()),
))
NDTRI = defop("ndtri", "ndtri({x})", promote="float", kernels=("ndtri",), methods=(),
              grad_fn="SpecialNdtriBackward0", doc="The inverse of the standard normal CDF.", vjps=(
    lambda ct, ans, x: ct * _SQRT_2PI * (ans * ans * 0.5).exp(),
))
defop("erfcx", "erfcx({x})", promote="float", kernels=("erfcx",), methods=(),
      grad_fn="SpecialErfcxBackward0", doc="exp(x**2) erfc(x), the scaled erfc.", vjps=(
    lambda ct, ans, x: ct * (2 * x * ans - _TWO_OVER_SQRT_PI),
))
# PyTorch's rule: +inf at 0, nan below
defop("entr", "entr({x})", promote="float", kernels=("entr",), methods=(),
      grad_fn="SpecialEntrBackward0", doc="-input * log(input), 0 at 0, -inf below.", vjps=(
    lambda ct, ans, x: -ct * (x.log() + 1),
))
# in x the derivative at x == 0 is the one-sided -inf; in y it is 0 there (never 0/0)
defop("rel_entr", "rel_entr({x}, {y})", promote="float", kernels=("rel_entr",), methods=(),
      doc="x log(x / y), 0 at x == 0 (y >= 0), inf elsewhere outside x, y > 0.", vjps=(
    lambda ct, ans, x, y: ct * ((_v(x, ct) / y).log() + 1),
    lambda ct, ans, x, y: -ct * x / _taken(x, y, ct),
))
defop("kl_div", "kl_div({x}, {y})", promote="float", kernels=("kl_div",), methods=(),
      doc="x log(x / y) - x + y, y at x == 0 (y >= 0), inf elsewhere outside x, y > 0.", vjps=(
    lambda ct, ans, x, y: ct * (_v(x, ct) / y).log(),
    lambda ct, ans, x, y: ct * (1 - x / _taken(x, y, ct)),
))


def _over_x(v: Value, x: Value, at_zero: float) -> Value:
    """v / x, and `at_zero` where x == 0 (the limit of the Bessel derivatives there)."""
    return (v / x.where(x != 0, 1.0)).where(x != 0, at_zero)


# d/dx i0 = i1; d/dx i1 = i0 - i1 / x (1/2 at 0); the scaled forms e^-|x| i(x) add -sign(x) i(x)e
I0 = defop("i0", "i0({x})", promote="float", kernels=("i0",),
           doc="The modified Bessel function of the first kind, order 0.", vjps=(
    lambda ct, ans, x: ct * apply(I1, x),
))
I0E = defop("i0e", "i0e({x})", promote="float", kernels=("i0e",), methods=(), grad_fn="SpecialI0EBackward0",
            doc="exp(-|input|) i0(input).", vjps=(
    lambda ct, ans, x: ct * (apply(I1E, x) - x.sign() * ans),
))
I1 = defop("i1", "i1({x})", promote="float", kernels=("i1",), methods=(), grad_fn="SpecialI1Backward0",
           doc="The modified Bessel function of the first kind, order 1.", vjps=(
    lambda ct, ans, x: ct * (apply(I0, x) - _over_x(ans, x, 0.5)),
))
I1E = defop("i1e", "i1e({x})", promote="float", kernels=("i1e",), methods=(), grad_fn="SpecialI1EBackward0",
            doc="exp(-|input|) i1(input).", vjps=(
    lambda ct, ans, x: ct * (apply(I0E, x) - _over_x(ans, x, 0.5) - x.sign() * ans),
))


def _gamma_density(a: Any, x: Any, ct: Any) -> Value:
    """x**(a-1) e**-x / Gamma(a): d/dx of gammainc(a, x) (1 at x == 0, a == 1)."""
    a = _v(a, ct)
    return (apply(OPS["xlogy"], a - 1, x) - x - a.lgamma()).exp()


# in x only: the derivative in a has no closed form (PyTorch's has none either)
defop("gammainc", "gammainc({x}, {y})", promote="float", kernels=("gammainc",), methods=("igamma",),
      functions=("igamma",), grad_fn="IgammaBackward0",
      doc="The regularized lower incomplete gamma function P(a, x) (differentiable in x only).", vjps=(
    _no_derivative("gammainc", "a"),
    lambda ct, ans, a, x: ct * _gamma_density(a, x, ct),
))
defop("gammaincc", "gammaincc({x}, {y})", promote="float", kernels=("gammaincc",), methods=("igammac",),
      functions=("igammac",), grad_fn="IgammacBackward0",
      doc="The regularized upper incomplete gamma function Q(a, x) (differentiable in x only).", vjps=(
    _no_derivative("gammaincc", "a"),
    lambda ct, ans, a, x: -ct * _gamma_density(a, x, ct),
))
defop("betainc", "betainc({x}, {y}, {z})", promote="float", kernels=("betainc",), methods=(),
      doc="The regularized incomplete beta function I_x(a, b) (differentiable in x only).", vjps=(
    _no_derivative("betainc", "a"),
    _no_derivative("betainc", "b"),
    lambda ct, ans, a, b, x: ct * (apply(OPS["xlogy"], a - 1, x) + apply(OPS["xlog1py"], b - 1, -x)
                                   - apply(BETALN, _v(a, ct), b)).exp(),
))


def _series(t: Value, coefficients: tuple[float, ...]) -> Value:
    """The polynomial sum(c_k t**k), by Horner's rule."""
    out = t * 0 + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * t + c
    return out


# g(t) = (t e**t - expm1(t)) / t**2, and h'(u) for h(u) = log1p(u) / u: the lambda-derivatives of
# Box-Cox and its inverse, whose closed forms cancel near 0; there, their Taylor series
_BOXCOX_SERIES = tuple((k - 1) / math.factorial(k) for k in range(2, 10))
_INV_BOXCOX_SERIES = tuple((-1) ** k * k / (k + 1) for k in range(1, 10))
_SMALL = 1e-2


def _near_zero(t: Value, series: tuple[float, ...], exact: Callable[[Value], Value]) -> Value:
    """`exact(t)`, and the Taylor `series` where |t| < 1e-2 (each evaluated only where it is used)."""
    small = t.abs() < _SMALL
    return apply(OPS["where"], small, _series(t, series), exact(t.where(small.logical_not(), 1.0)))


def _boxcox_dlambda(log_x: Value, lmbda: Any) -> Value:
    """d/dlambda expm1(lmbda L) / lmbda = L**2 g(lmbda L) (L**2 / 2 at lmbda == 0)."""
    return log_x * log_x * _near_zero(log_x * lmbda, _BOXCOX_SERIES,
                                      lambda t: (t * t.exp() - t.expm1()) / (t * t))


# primitives: the lambda-derivative needs its series near lmbda == 0 (a composite with a branch
# at lmbda == 0 would differentiate to 0 there)
defop("boxcox", "boxcox({x}, {y})", promote="float", kernels=("boxcox",), methods=(),
      doc="The Box-Cox transform (x**lmbda - 1) / lmbda, log(x) at lmbda == 0.", vjps=(
    lambda ct, ans, x, lmbda: ct * ((_v(lmbda, ct) - 1) * _v(x, ct).log()).exp(),
    lambda ct, ans, x, lmbda: ct * _boxcox_dlambda(_v(x, ct).log(), lmbda),
))
defop("boxcox1p", "boxcox1p({x}, {y})", promote="float", kernels=("boxcox1p",), methods=(),
      doc="boxcox(1 + x, lmbda), accurate for small x.", vjps=(
    lambda ct, ans, x, lmbda: ct * ((_v(lmbda, ct) - 1) * _v(x, ct).log1p()).exp(),
    lambda ct, ans, x, lmbda: ct * _boxcox_dlambda(_v(x, ct).log1p(), lmbda),
))
# inv_boxcox = exp(y h(lmbda y)), h(u) = log1p(u) / u
defop("inv_boxcox", "inv_boxcox({x}, {y})", promote="float", kernels=("inv_boxcox",), methods=(),
      doc="The inverse Box-Cox transform (1 + lmbda y)**(1 / lmbda), exp(y) at lmbda == 0.", vjps=(
    lambda ct, ans, y, lmbda: ct * ans / (_v(y, ct) * lmbda + 1),
    lambda ct, ans, y, lmbda: ct * ans * y * y * _near_zero(
        _v(y, ct) * lmbda, _INV_BOXCOX_SERIES, lambda u: (u / (u + 1) - u.log1p()) / (u * u)),
))


# ---------------------------------------------------------------- composites


@composite("MulBackward1")  # PyTorch's ndtr is this product too
def ndtr(input: Value) -> Value:
    """The standard normal CDF, 0.5 * erfc(-input / sqrt(2)): accurate in the lower tail."""
    return (input * -math.sqrt(0.5)).erfc() * 0.5


def log_expit(x: Value) -> Value:
    """log(sigmoid(x)) = -softplus(-x): stable for any x (SciPy's log_expit)."""
    return -apply(OPS["softplus"], -x)


def loggamma(x: Value) -> Value:
    """SciPy's loggamma of real input: lgamma where input >= 0, nan below (the complex
    logarithm's branch SciPy takes for negative reals is not real)."""
    return apply(OPS["where"], x >= 0, apply(OPS["lgamma"], x), math.nan)


def erfcinv(x: Value) -> Value:
    """The inverse of erfc, -ndtri(x / 2) / sqrt(2): accurate near 0, where 1 - x would round."""
    return apply(NDTRI, x * 0.5) * -math.sqrt(0.5)


def huber(delta: Value, r: Value) -> Value:
    """SciPy's huber: r**2 / 2 where |r| <= delta, delta (|r| - delta / 2) beyond, inf for delta < 0."""
    delta, r = lift(delta, r), lift(r, delta)
    a = r.abs()
    smooth = apply(OPS["where"], a <= delta, r * r * 0.5, delta * (a - delta * 0.5))
    return apply(OPS["where"], delta < 0, math.inf, smooth)


def pseudo_huber(delta: Value, r: Value) -> Value:
    """SciPy's pseudo_huber, delta**2 (sqrt(1 + (r / delta)**2) - 1), written as
    delta r**2 / (hypot(delta, r) + delta) (no cancellation for small r); 0 for delta == 0,
    inf for delta < 0."""
    delta, r = lift(delta, r), lift(r, delta)
    d = delta.where(delta > 0, 1.0)  # the formula only where delta > 0: no 0/0 in its gradient
    value = d * r * r / (d.hypot(r) + d)
    return apply(OPS["where"], delta > 0, value, apply(OPS["where"], delta == 0, 0.0, math.inf))


@composite("MvlgammaBackward0")
def _mvlgamma(x: Value, p: int) -> Value:
    total = x.lgamma()
    for j in range(1, p):
        total = total + (x - j * 0.5).lgamma()
    return total + p * (p - 1) * 0.25 * math.log(math.pi)


@method("mvlgamma", function=True, inplace=True)
def mvlgamma(self, p):
    """The multivariate log-gamma function of dimension p, sum over j < p of lgamma(input - j/2)
    plus p(p-1)/4 log(pi) (SciPy's multigammaln); eager values must all exceed (p - 1) / 2."""
    if int(p) != p or p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    p = int(p)
    if type(self) is Value._default and bool((self <= (p - 1) / 2).any()):
        raise RuntimeError(f"mvlgamma: all elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    return _mvlgamma(self, p)


# ---------------------------------------------------------------- PyTorch's names


@method("polygamma", inplace=True)
def _polygamma_method(self, n):
    return polygamma(n, self)


@function
def polygamma(n: int, input: Any) -> Any:
    """The n-th derivative of digamma (n >= 0), elementwise."""
    if int(n) != n or n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return apply(POLYGAMMA, lift(input), n=int(n))


@method("logit", function=True, inplace=True)
def logit(self, eps=None):
    """log(input / (1 - input)); with `eps`, input is clamped to [eps, 1 - eps] first (zero
    gradient outside), as PyTorch does."""
    x = self if eps is None else self.clamp(eps, 1 - eps)
    return apply(OPS["logit"], x)


function(ndtr, name="special.ndtr")
function(function_of("logit", logit.__doc__, logit), name="special.logit")  # input lifted
function(polygamma, name="special.polygamma")
function(function_of("multigammaln", mvlgamma.__doc__, mvlgamma), name="special.multigammaln")
for _name, _torch in [("sigmoid", "expit"), ("erf", "erf"), ("erfc", "erfc"), ("lgamma", "gammaln"),
                      ("digamma", "digamma"), ("digamma", "psi"), ("log_ndtr", "log_ndtr"),
                      ("xlogy", "xlogy"), ("xlog1py", "xlog1py"), ("erfinv", "erfinv"), ("ndtri", "ndtri"),
                      ("erfcx", "erfcx"), ("entr", "entr"), ("i0", "i0"), ("i0e", "i0e"), ("i1", "i1"),
                      ("i1e", "i1e"), ("gammainc", "gammainc"), ("gammaincc", "gammaincc"),
                      ("log1p", "log1p"), ("expm1", "expm1"), ("exp2", "exp2")]:
    function(function_of(_torch, OPS[_name].doc, lambda x, *others, _op=OPS[_name]: apply(_op, x, *others)),
             name=f"special.{_torch}")

# SciPy's special ufuncs by name: what each does on symgrad values (see numpy_binding)
SCIPY_UFUNCS: dict[str, Callable[..., Any]] = {
    "expit": lambda x: apply(OPS["sigmoid"], x),
    "log_expit": log_expit,
    "logit": lambda x: apply(OPS["logit"], x),
    "erf": lambda x: apply(OPS["erf"], x),
    "erfc": lambda x: apply(OPS["erfc"], x),
    "gammaln": lambda x: apply(OPS["lgamma"], x),
    "psi": lambda x: apply(OPS["digamma"], x),
    "ndtr": ndtr,
    "log_ndtr": lambda x: apply(OPS["log_ndtr"], x),
    "xlogy": lambda x, y: apply(OPS["xlogy"], x, y),
    "xlog1py": lambda x, y: apply(OPS["xlog1py"], x, y),
    # second batch: SciPy's own ufunc objects for functions NumPy has too, then SciPy's own
    **{name: lambda *xs, _op=OPS[op]: apply(_op, *xs) for name, op in [
        ("log1p", "log1p"), ("expm1", "expm1"), ("exp2", "exp2"), ("cbrt", "cbrt"), ("erfinv", "erfinv"),
        ("gamma", "gamma"), ("rgamma", "rgamma"), ("betaln", "betaln"), ("beta", "beta"), ("binom", "binom"),
        ("ndtri", "ndtri"), ("erfcx", "erfcx"), ("entr", "entr"), ("rel_entr", "rel_entr"),
        ("kl_div", "kl_div"), ("i0", "i0"), ("i0e", "i0e"), ("i1", "i1"), ("i1e", "i1e"),
        ("gammainc", "gammainc"), ("gammaincc", "gammaincc"), ("betainc", "betainc"), ("boxcox", "boxcox"),
        ("boxcox1p", "boxcox1p"), ("inv_boxcox", "inv_boxcox")]},
    "exp10": lambda x: 10.0 ** x,
    "sindg": lambda x: (x * (math.pi / 180)).sin(),
    "cosdg": lambda x: (x * (math.pi / 180)).cos(),
    "loggamma": loggamma,
    "erfcinv": erfcinv,
    "huber": huber,
    "pseudo_huber": pseudo_huber,
}
