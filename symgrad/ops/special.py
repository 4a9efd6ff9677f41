"""Special functions: SciPy's special ufuncs and PyTorch's `torch.special`, as primitives.

SciPy is optional. Its ufuncs reach these ops through `__array_ufunc__`, looked up by name in
`SCIPY_UFUNCS` (see `symgrad.surface.numpy_binding`), so symgrad never imports SciPy; the
kernels use `scipy.special` when it is installed and NumPy code otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import sympy as sp

from symgrad.ops import batching
from symgrad.ops.core import OPS, _is_scalar, defop
from symgrad.ops.dispatch import Value, apply, composite, function, function_of, lift, method


class Digamma(sp.Function):
    """digamma as an opaque SymPy function: SymPy's digamma(x) is polygamma(0, x), two arguments."""


class Logit(sp.Function):
    """logit as an opaque SymPy function: log(x / (1 - x)) would be rebuilt as a log of a division."""


class Xlogy(sp.Function):
    """xlogy as an opaque SymPy function: x*log(y) is nan, not 0, at x == 0, y == 0."""


class Xlog1py(sp.Function):
    """xlog1py as an opaque SymPy function, for the same reason."""


class LogNdtr(sp.Function):
    """log_ndtr as an opaque SymPy function: log(ndtr(x)) underflows in the lower tail."""


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

defop("erfc", "erfc({x})", sympy=sp.erfc, promote="float", kernels=("erfc",),
      doc="The complementary error function 1 - erf(input), accurate where erf is near 1.", vjps=(
    lambda ct, ans, x: -ct * _TWO_OVER_SQRT_PI * (-(x * x)).exp(),
))
# a primitive: erfinv has no closed form; its derivative sqrt(pi)/2 * exp(erfinv(x)^2) reuses it
defop("erfinv", "erfinv({x})", sympy=sp.erfinv, promote="float", kernels=("erfinv",),
      doc="The inverse error function: erf(erfinv(input)) == input on (-1, 1).", vjps=(
    lambda ct, ans, x: ct * ((ans * ans).exp() / _TWO_OVER_SQRT_PI),
))
defop("lgamma", "lgamma({x})", sympy=sp.loggamma, promote="float", kernels=("lgamma",),
      doc="log|Gamma(input)| (SciPy's gammaln).", vjps=(
    lambda ct, ans, x: ct * x.digamma(),
))
defop("digamma", "digamma({x})", sympy=Digamma, promote="float", kernels=("digamma",),
      doc="The derivative of lgamma (SciPy's psi).", vjps=(
    lambda ct, ans, x: ct * apply(POLYGAMMA, x, n=1),
))
# n is a parameter, so every derivative is again a polygamma: Hessians of lgamma work
POLYGAMMA = defop("polygamma", "polygamma({n}, {x})", promote="float", kernels=("polygamma",),
                  shape=lambda x, *, n: x, batch=batching.unary,
                  vjps=(lambda ct, ans, x, *, n: ct * apply(POLYGAMMA, x, n=n + 1),))
# a primitive: its own form log(x / (1 - x)) is accurate on (0, 1), a composite of log and
# log1p would read worse and cost more
defop("logit", "np.log({x} / (1 - {x}))", sympy=Logit, promote="float", methods=(),
      doc="log(input / (1 - input)), the inverse of sigmoid.", vjps=(
    lambda ct, ans, x: ct / (x * (1 - x)),
))
# a primitive for its tails: log(ndtr(x)) is -inf below x = -38
defop("log_ndtr", "log_ndtr({x})", sympy=LogNdtr, promote="float", kernels=("log_ndtr",), methods=(),
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
    return lift(y, ct).where(lift(x, ct) != 0, fill)


# 0 where x == 0 whatever y (the entropy convention), with gradient 0 there in both inputs;
# PyTorch's y-gradient x / y is nan at (0, 0), symgrad's is 0
defop("xlogy", "xlogy({x}, {y})", sympy=Xlogy, promote="float", kernels=("xlogy",),
      grad_fn=_x_name("XlogyBackward"), doc="input * log(other), and 0 where input == 0.", vjps=(
    lambda ct, ans, x, y: ct * _taken(x, y, ct).log(),
    lambda ct, ans, x, y: ct * x / _taken(x, y, ct),
))
defop("xlog1py", "xlog1py({x}, {y})", sympy=Xlog1py, promote="float", kernels=("xlog1py",), methods=(),
      grad_fn=_x_name("SpecialXlog1PyBackward"), doc="input * log1p(other), and 0 where input == 0.", vjps=(
    lambda ct, ans, x, y: ct * _taken(x, y, ct, 0.0).log1p(),
    lambda ct, ans, x, y: ct * x / _taken(x, y + 1, ct),
))


# ---------------------------------------------------------------- composites


@composite("MulBackward1")  # PyTorch's ndtr is this product too
def ndtr(input: Value) -> Value:
    """The standard normal CDF, 0.5 * erfc(-input / sqrt(2)): accurate in the lower tail."""
    return (input * -math.sqrt(0.5)).erfc() * 0.5


def log_expit(x: Value) -> Value:
    """log(sigmoid(x)) = -softplus(-x): stable for any x (SciPy's log_expit)."""
    return -apply(OPS["softplus"], -x)


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
function(logit, name="special.logit")
function(polygamma, name="special.polygamma")
for _name, _torch in [("sigmoid", "expit"), ("erf", "erf"), ("erfc", "erfc"), ("lgamma", "gammaln"),
                      ("digamma", "digamma"), ("digamma", "psi"), ("log_ndtr", "log_ndtr"),
                      ("xlogy", "xlogy"), ("xlog1py", "xlog1py")]:
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
}
