"""Elementwise primitives: NumPy ufuncs with broadcasting, each with its VJP rules.

Each is a method and a `symgrad.*` function of its own name unless `methods=` says
otherwise, reached from NumPy through its `ufunc`, and batched by broadcasting."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symgrad.ops import batching
from symgrad.ops import kernels as kernels_module
from symgrad.ops.core import OPS, _is_scalar, defop
from symgrad.ops.dispatch import Value, apply, composite, function, lift, method, no_out, numpy_function


def _log(x: Any, like: Any) -> Any:
    """log of a value, or of a plain number: `2 ** x` is differentiated in its exponent only.
    An integer value (the base 2 of `2 ** x`, made a tensor by `_unless_zero`) is taken in
    `like`'s dtype, not the default float32."""
    if not isinstance(x, Value):
        return np.log(x)
    return (x if x.dtype.kind == "f" else x.astype(like.dtype)).log()


ADD = defop("add", "{x} + {y}", sympy=lambda x, y: x + y, ufunc=np.add, linear=True, commutative=True,
            methods=(), operators=("add", "radd"), reflected="commuted", vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: ct,
))
# sub and div are primitives, not add/mul of neg/reciprocal: generated code reads `x - y`.
SUB = defop("sub", "{x} - {y}", sympy=lambda x, y: x - y, ufunc=np.subtract, linear=True, methods=(),
            operators=("sub", "rsub"), reflected=lambda x, other: apply(RSUB, x, other), vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: -ct,
))
# PyTorch's rsub(input, other) = other - input: `2.0 - x` on an eager tensor (RsubBackward1, one
# edge: the number is a param), `torch.rsub(x, y)` (RsubBackward0, x's edge first)
RSUB = defop("rsub", "{y} - {x}", sympy=lambda x, y: y - x, linear=True, methods=(), scalars=(1,),
             grad_fn=lambda inputs, params: "RsubBackward" + ("1" if _is_scalar(inputs[1]) else "0"),
             doc="other - input (PyTorch's reflected subtraction).", vjps=(
    lambda ct, ans, x, y: -ct,
    lambda ct, ans, x, y: ct,
))


@function
def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Value:  # noqa: A002 - PyTorch's name
    """other - alpha * input (PyTorch's `torch.rsub`, what `other - input` records)."""
    return apply(RSUB, input if alpha == 1 else input * alpha, other)
defop("mul", "{x} * {y}", sympy=lambda x, y: x * y, ufunc=np.multiply, commutative=True,
      operators=("mul", "rmul"), methods=("mul", "multiply"), reflected="commuted",
      doc="input * other, elementwise with broadcasting.", vjps=(
    lambda ct, ans, x, y: ct * y,
    lambda ct, ans, x, y: ct * x,
))
defop("div", "{x} / {y}", sympy=lambda x, y: x / y, promote="float", ufunc=np.true_divide,
      operators=("truediv", "rtruediv"), methods=("div", "true_divide"),
      reflected=lambda x, other: apply(RECIPROCAL, x) * other,  # PyTorch's __rtruediv__: MulBackward0
      doc="input / other (true division), elementwise.", vjps=(
    lambda ct, ans, x, y: ct / y,
    lambda ct, ans, x, y: -ct * ans / y,
))
# 1 / x as one node, as PyTorch's ReciprocalBackward0 (which reads its output): what an eager
# `2.0 / x` records before its product (`Op.reflected`)
RECIPROCAL = defop("reciprocal", "1 / {x}", sympy=lambda x: 1 / x, promote="float", methods=(),
                   doc="1 / input, elementwise.", vjps=(
    lambda ct, ans, x: -ct * (ans * ans),
))
defop("neg", "-{x}", sympy=lambda x: -x, ufunc=np.negative, linear=True, operators=("neg",),
      methods=("neg", "negative"), doc="-input.",
      vjps=(
    lambda ct, ans, x: -ct,
))
# x ** n as PyTorch's pow computes it for these exponents: by products (and sqrt), exact where
# pow rounds and several times faster (x ** 3 on 2,000 float32: 0.8 us against 2.2 us)
_POWER_FORMS = {2: "{x} * {x}", 3: "{x} * {x} * {x}", -1: "1 / {x}", -2: "1 / ({x} * {x})",
                0.5: "np.sqrt({x})", -0.5: "1 / np.sqrt({x})"}
_POWERS = {n: eval(f"lambda x: {form.format(x='x')}", {"np": np})  # noqa: S307 - the table above
           for n, form in _POWER_FORMS.items()}


def _power(x: Any, y: Any) -> Any:
    """`x ** y`; for a float array and one of PyTorch's exponents, by `_POWER_FORMS`."""
    if type(y) in (int, float) and isinstance(x, np.ndarray) and x.dtype.kind == "f":
        form = _POWERS.get(y)
        if form is not None:
            return form(x)
    return x ** y


def _print_power(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
    """`x ** y` in generated code, as `_power` computes it unless y is one of its exponents."""
    try:
        special = float(names[1]) in _POWERS
    except ValueError:  # a name: an array exponent, which `_power` passes to `**`
        special = False
    return None if special else f"{names[0]} ** {names[1]}"


defop(
    "pow", "power({x}, {y})", ufunc=np.power, sympy=lambda x, y: x ** y, operators=("pow", "rpow"),
    scalars=(0, 1),
    helpers={"power": _power}, printer=_print_power, doc="input ** exponent.",
    grad_fn=lambda inputs, params: "PowBackward" + (
        "0" if _is_scalar(inputs[1]) else "2" if _is_scalar(inputs[0]) else "1"),
    vjps=(
        lambda ct, ans, x, y: ct * y * x ** _unless_zero(y, y - 1, 1),
        lambda ct, ans, x, y: ct * ans * _log(_unless_zero(x, x, 1, also=y >= 0), ans),
    ),
)


def _unless_zero(a: Any, value: Any, instead: int, also: Any = True) -> Any:
    """`value`, but `instead` where a == 0 (and `also` holds). PyTorch's pow derivatives are 0
    where their formula is 0 * inf: y x**(y-1) at y = 0, x = 0, and x**y log x at x = 0,
    y >= 0. A finite `instead` in the factor that would be inf gives that 0 without a warning."""
    if not isinstance(a, Value) and not isinstance(also, Value):  # Python numbers
        return instead if a == 0 and also else value
    like = a if isinstance(a, Value) else also
    keep = lift(a, like) != 0
    if also is not True:
        keep = keep.logical_or(lift(also, like).logical_not())
    return lift(value, like).where(keep, instead)
defop("exp", "np.exp({x})", sympy="exp", promote="float", ufunc=np.exp, doc="e ** input.", vjps=(
    lambda ct, ans, x: ct * ans,
))
defop("log", "np.log({x})", sympy="log", promote="float", ufunc=np.log, doc="Natural logarithm.", vjps=(
    lambda ct, ans, x: ct / x,
))
defop("log1p", "np.log1p({x})", sympy="log1p", promote="float", ufunc=np.log1p,
      grad_fn="Log1PBackward0", doc="log(1 + input), accurate near 0.", vjps=(
    lambda ct, ans, x: ct / (x + 1),
))
defop("expm1", "np.expm1({x})", sympy="expm1", promote="float", ufunc=np.expm1,
      doc="exp(input) - 1, accurate near 0.", vjps=(
    lambda ct, ans, x: ct * (ans + 1),
))
defop("tanh", "np.tanh({x})", sympy="tanh", promote="float", ufunc=np.tanh, doc="Hyperbolic tangent.",
      vjps=(
    lambda ct, ans, x: ct * (1 - ans * ans),
))
defop("sqrt", "np.sqrt({x})", sympy="sqrt", promote="float", ufunc=np.sqrt, doc="Square root.", vjps=(
    lambda ct, ans, x: ct / (2 * ans),
))
# sigmoid and softplus are primitives for stability: exp(-x) overflows for x << 0 (the
# kernel silences it), and the composite max(x, 0) + log1p(exp(-|x|)) has the wrong
# derivative at x == 0.
def _print_sigmoid(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
    """On small arrays the kernel's errstate costs more than computing through logaddexp
    (measured: logaddexp costs about 40 ns an element, the errstate about 1.5 us, so they
    cross near 128 elements; at 1000 the kernel is 3x faster). The kernel itself switches
    at the same size, so eager and compiled agree."""
    size = int(np.prod(shapes[0])) if shapes[0] else 1
    if size >= kernels_module.SIGMOID_LOOP_FROM:
        return None
    return f"{lib.np.exp}(-{lib.np.logaddexp}(0.0, -{names[0]}))"


defop("sigmoid", "sigmoid({x})", kernels=("sigmoid",), printer=_print_sigmoid, sympy="Sigmoid",
      promote="float", doc="1 / (1 + exp(-input)), without overflow.", vjps=(
    lambda ct, ans, x: ct * (ans * (1 - ans)),
))
defop("softplus", "np.logaddexp(0.0, {x})", sympy="Softplus", promote="float", methods=(), vjps=(
    lambda ct, ans, x: ct * x.sigmoid(),
))


# comparisons have no gradient; `where` routes the cotangent to the branch that was taken
for _name, _code, _ufunc in [("lt", "<", np.less), ("le", "<=", np.less_equal),
                             ("gt", ">", np.greater), ("ge", ">=", np.greater_equal),
                             ("eq", "==", np.equal), ("ne", "!=", np.not_equal)]:
    defop(_name, f"{{x}} {_code} {{y}}", ufunc=_ufunc, vjps=(None, None), commutative=_name in ("eq", "ne"),
          operators=(_name,), methods=(_name, *([_ufunc.__name__] if _name != "eq" else [])),
          doc=f"input {_code} other, elementwise (no gradient; PyTorch's alias `{_ufunc.__name__}`).")
def _print_where(names: list[str], params: dict, shapes: list, lib: Any) -> str | None:
    """NumPy's `where`, but the kernel (a bit mask) where it can apply: a condition of
    `kernels.MASKED_FROM` elements or more, one branch an array, the other a number (which
    the kernel checks is a zero)."""
    cond, x, y = (tuple(s) for s in shapes)
    size = int(np.prod(cond)) if cond else 1
    if size >= kernels_module.MASKED_FROM and (x and not y or y and not x):
        return None
    return f"{lib.np.where}({names[0]}, {names[1]}, {names[2]})"


WHERE = defop("where", "bitwise_where({x}, {y}, {z})", kernels=("bitwise_where",), printer=_print_where,
              methods=(), vjps=(
    None,
    lambda ct, ans, c, x, y: ct.where(c, 0.0),
    lambda ct, ans, c, x, y: apply(WHERE, c, 0.0, ct),  # a number branch: the kernel's mask
))

defop("abs", "np.abs({x})", sympy="Abs", ufunc=np.absolute, operators=("abs",), methods=("abs", "absolute"),
      doc="|input|.", vjps=(
    lambda ct, ans, x: ct * x.sign(),
))
# its gradient is zero almost everywhere, as PyTorch's
defop("sign", "np.sign({x})", ufunc=np.sign, doc="The sign of input (-1, 0 or 1).", vjps=(
    lambda ct, ans, x: ct.zeros_like(),
))
# nested differentiation: a fresh name for a value, so an inner grad's variable is not the
# outer one (no perturbation confusion); simplification removes it
defop("alias", "{x}", view=True, linear=True, methods=(), vjps=(lambda ct, ans, x: ct,))
defop("sin", "np.sin({x})", sympy="sin", promote="float", ufunc=np.sin, doc="Sine.", vjps=(
    lambda ct, ans, x: ct * x.cos(),
))
defop("cos", "np.cos({x})", sympy="cos", promote="float", ufunc=np.cos, doc="Cosine.", vjps=(
    lambda ct, ans, x: -ct * x.sin(),
))
defop("tan", "np.tan({x})", sympy="tan", promote="float", ufunc=np.tan, doc="Tangent.", vjps=(
    lambda ct, ans, x: ct * (1 + ans * ans),
))
defop("atan", "np.arctan({x})", sympy="atan", promote="float", ufunc=np.arctan,
      methods=("atan", "arctan"), doc="Arctangent.", vjps=(
    lambda ct, ans, x: ct / (1 + x * x),
))
defop("erf", "erf({x})", sympy="erf", promote="float", kernels=("erf",), doc="The error function.",
      vjps=(
    lambda ct, ans, x: ct * (2 / np.sqrt(np.pi)) * (-(x * x)).exp(),
))
defop("sinh", "np.sinh({x})", sympy="sinh", promote="float", ufunc=np.sinh, doc="Hyperbolic sine.", vjps=(
    lambda ct, ans, x: ct * x.cosh(),
))
defop("cosh", "np.cosh({x})", sympy="cosh", promote="float", ufunc=np.cosh, doc="Hyperbolic cosine.", vjps=(
    lambda ct, ans, x: ct * x.sinh(),
))
defop("asin", "np.arcsin({x})", sympy="asin", promote="float", ufunc=np.arcsin, methods=("asin", "arcsin"),
      doc="Arcsine.", vjps=(
    lambda ct, ans, x: ct / (1 - x * x).sqrt(),
))
defop("acos", "np.arccos({x})", sympy="acos", promote="float", ufunc=np.arccos, methods=("acos", "arccos"),
      doc="Arccosine.", vjps=(
    lambda ct, ans, x: -ct / (1 - x * x).sqrt(),
))
defop("asinh", "np.arcsinh({x})", sympy="asinh", promote="float", ufunc=np.arcsinh,
      methods=("asinh", "arcsinh"), doc="Inverse hyperbolic sine.", vjps=(
    lambda ct, ans, x: ct / (x * x + 1).sqrt(),
))
defop("acosh", "np.arccosh({x})", sympy="acosh", promote="float", ufunc=np.arccosh,
      methods=("acosh", "arccosh"), doc="Inverse hyperbolic cosine.", vjps=(
    lambda ct, ans, x: ct / (x * x - 1).sqrt(),
))
defop("atanh", "np.arctanh({x})", sympy="atanh", promote="float", ufunc=np.arctanh,
      methods=("atanh", "arctanh"), doc="Inverse hyperbolic tangent.", vjps=(
    lambda ct, ans, x: ct / (1 - x * x),
))
defop("atan2", "np.arctan2({x}, {y})", sympy="atan2", promote="float", ufunc=np.arctan2,
      methods=("atan2", "arctan2"),
      doc="The angle of the point (other, input): arctan(input / other) in the right quadrant.", vjps=(
    lambda ct, ans, x, y: ct * y / (x * x + y * y),
    lambda ct, ans, x, y: -ct * x / (x * x + y * y),
))
# a primitive, not sqrt(x*x + y*y): np.hypot neither overflows nor underflows
defop("hypot", "np.hypot({x}, {y})", sympy="hypot", promote="float", ufunc=np.hypot,
      commutative=True, doc="sqrt(input**2 + other**2), without overflow.", vjps=(
    lambda ct, ans, x, y: ct * x / ans,
    lambda ct, ans, x, y: ct * y / ans,
))
# a primitive, not max(x, y) + log1p(exp(-|x - y|)): np.logaddexp is exact where one term
# dominates and gives the common infinity where both are one (x - y is nan there); its
# gradient is torch's, sigmoid(x - y): 1 and 0 at x = +inf, nan where x - y is nan
defop("logaddexp", "np.logaddexp({x}, {y})", sympy="Logaddexp", promote="float", ufunc=np.logaddexp,
      commutative=True, doc="log(exp(input) + exp(other)), without overflow.", vjps=(
    lambda ct, ans, x, y: ct * (x - y).sigmoid(),
    lambda ct, ans, x, y: ct * (y - x).sigmoid(),
))
# primitives rather than log(x) / log(2) and 2 ** x: np.log2 is exact at powers of two
defop("log2", "np.log2({x})", sympy="log2", promote="float", ufunc=np.log2,
      doc="Base-2 logarithm.", vjps=(
    lambda ct, ans, x: ct / (x * math.log(2.0)),
))
defop("log10", "np.log10({x})", sympy="log10", promote="float", ufunc=np.log10,
      doc="Base-10 logarithm.", vjps=(
    lambda ct, ans, x: ct / (x * math.log(10.0)),
))
defop("exp2", "np.exp2({x})", sympy="exp2", promote="float", ufunc=np.exp2, doc="2 ** input.", vjps=(
    lambda ct, ans, x: ct * ans * math.log(2.0),
))
# NumPy's only: PyTorch has no cbrt (a primitive: x ** (1/3) is nan for x < 0)
defop("cbrt", "np.cbrt({x})", sympy="Cbrt", promote="float", ufunc=np.cbrt, methods=(),
      doc="Cube root, real for negative input.", vjps=(
    lambda ct, ans, x: ct / (3 * ans * ans),
))
# relu is a primitive (not where(x > 0, x, 0)) so generated code is one np.maximum call, and its
# gradient one masked pass; compiled, maximum(x, 0), where(x > 0, x, 0) and clip(x, 0, None)
# become relu (symgrad/simplify/idioms.py)
defop("relu", "np.maximum({x}, 0)", doc="max(input, 0), with gradient 0 at input == 0 (PyTorch's).",
      vjps=(
    # reads the output, as PyTorch's ReluBackward0; a product with the mask, not a select: in
    # NumPy 9x faster (21 against 189 us on 51,200 values), and equal but for a nan or inf
    # cotangent where x <= 0 (nan here, 0 in PyTorch)
    lambda ct, ans, x: ct * (ans > 0),
))
# at ties PyTorch gives each side half the gradient
defop("maximum", "np.maximum({x}, {y})", ufunc=np.maximum, commutative=True,
      doc="Elementwise maximum (ties share the gradient).", vjps=(
    lambda ct, ans, x, y: ct.where(x > y, 0.0) + (ct / 2).where(x == y, 0.0),
    lambda ct, ans, x, y: ct.where(y > x, 0.0) + (ct / 2).where(x == y, 0.0),
))
defop("minimum", "np.minimum({x}, {y})", ufunc=np.minimum, commutative=True,
      doc="Elementwise minimum (ties share the gradient).", vjps=(
    lambda ct, ans, x, y: ct.where(x < y, 0.0) + (ct / 2).where(x == y, 0.0),
    lambda ct, ans, x, y: ct.where(y < x, 0.0) + (ct / 2).where(x == y, 0.0),
))
# NaN-ignoring maximum and minimum: the gradient goes to the operand taken (input at ties,
# as PyTorch's FmaxBackward0)
defop("fmax", "np.fmax({x}, {y})", ufunc=np.fmax, doc="Elementwise maximum, ignoring NaN.", vjps=(
    lambda ct, ans, x, y: ct.where((x >= y).logical_or(_isnan(y)), 0.0),
    lambda ct, ans, x, y: ct.zeros_like().where((x >= y).logical_or(_isnan(y)), ct),
))
defop("fmin", "np.fmin({x}, {y})", ufunc=np.fmin, doc="Elementwise minimum, ignoring NaN.", vjps=(
    lambda ct, ans, x, y: ct.where((x <= y).logical_or(_isnan(y)), 0.0),
    lambda ct, ans, x, y: ct.zeros_like().where((x <= y).logical_or(_isnan(y)), ct),
))
# the magnitude's gradient is +-1 (0 at 0, as PyTorch's); the sign's is zero
defop("copysign", "np.copysign({x}, {y})", ufunc=np.copysign, promote="float", scalars=(1,),
      grad_fn=lambda inputs, params: "CopysignBackward1" if _is_scalar(inputs[1]) else "CopysignBackward0",
      doc="The magnitude of input with the sign of other.", vjps=(
    lambda ct, ans, x, y: ct * (x.sign() * ans.sign()),
    lambda ct, ans, x, y: ct.zeros_like(),
))
def _print_nan_to_num(names: list[str], params: dict, shapes: list, lib: Any) -> str:
    """Replacements printed as Python reads them back: `float('inf')`, not `inf`."""
    def literal(v: float | None) -> str:
        return repr(v) if v is None or math.isfinite(v) else f"float('{v}')"
    bounds = ", ".join(f"{k}={literal(params[k])}" for k in ("nan", "posinf", "neginf"))
    return f"{lib.np.nan_to_num}({names[0]}, {bounds})"


NAN_TO_NUM = defop("nan_to_num", "np.nan_to_num({x}, nan={nan}, posinf={posinf}, neginf={neginf})",
                   printer=_print_nan_to_num, shape=lambda x, **replacements: x, batch=batching.unary,
                   vjps=(
    lambda ct, ans, x, *, nan, posinf, neginf: ct.where(x.isfinite(), 0.0),
))

# piecewise constant: a zero gradient, as PyTorch's FloorBackward0 (not none: the result
# requires grad)
for _name, _ufunc, _methods in [("floor", np.floor, ("floor",)), ("ceil", np.ceil, ("ceil",)),
                                ("trunc", np.trunc, ("trunc", "fix"))]:
    defop(_name, f"np.{_ufunc.__name__}({{x}})", ufunc=_ufunc, methods=_methods,
          doc=f"{_name.capitalize()} of input, elementwise (zero gradient).", vjps=(
        lambda ct, ans, x: ct.zeros_like(),
    ))
ROUND = defop("round", "np.round({x}, {decimals})", shape=lambda x, *, decimals: x, batch=batching.unary,
              grad_fn=lambda inputs, params: "RoundBackward1" if params["decimals"] else "RoundBackward0",
              vjps=(lambda ct, ans, x, *, decimals: ct.zeros_like(),))
# PyTorch has no derivative for heaviside (its backward raises); a zero gradient, as for sign
defop("heaviside", "np.heaviside({x}, {y})", ufunc=np.heaviside, methods=("heaviside",),
      doc="0 for input < 0, values where input == 0, 1 for input > 0 (zero gradient).", vjps=(
    lambda ct, ans, x, y: ct.zeros_like(),
    lambda ct, ans, x, y: ct.zeros_like(),
))


def _tensor_other(base: str) -> Any:
    """PyTorch's overloads: Backward0 for a number `other`, Backward1 for a tensor."""
    return lambda inputs, params: f"{base}Backward{0 if _is_scalar(inputs[1]) else 1}"


# the quotient's integer part is piecewise constant: d/dy is -trunc(x / y) (fmod, C's sign of x)
# or -floor(x / y) (remainder, Python's % with the sign of y)
defop("fmod", "np.fmod({x}, {y})", ufunc=np.fmod, grad_fn=_tensor_other("Fmod"), scalars=(1,),
      doc="The remainder of input / other with the sign of input (C's fmod).", vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: -ct * (x / y).trunc(),
))
defop("remainder", "np.remainder({x}, {y})", ufunc=np.remainder, operators=("mod", "rmod"),
      grad_fn=_tensor_other("Remainder"), scalars=(0, 1),
      doc="The remainder of input / other with the sign of other (Python's %).", vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: -ct * (x / y).floor(),
))

# piecewise constant: a zero gradient, as divide(rounding_mode="floor") has (PyTorch's
# floor_divide has none: its backward raises)
defop("floor_divide", "np.floor_divide({x}, {y})", ufunc=np.floor_divide, operators=("floordiv", "rfloordiv"),
      scalars=(0, 1),
      doc="floor(input / other), elementwise (zero gradient).", vjps=(
    lambda ct, ans, x, y: ct.zeros_like(),
    lambda ct, ans, x, y: ct.zeros_like(),
))
# boolean results: no gradient
for _name, _ufunc in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                      ("logical_xor", np.logical_xor)]:
    defop(_name, f"np.{_name}({{x}}, {{y}})", ufunc=_ufunc, commutative=True, vjps=(None, None),
          doc=f"Elementwise {_name.replace('_', ' ')} of the truth values (no gradient).")
# bitwise: integers and booleans (on booleans, the logical ops); floats are refused, as NumPy
# and PyTorch refuse them. `mask1 & mask2` and `~mask` are how NumPy code combines masks.
for _name, _ufunc, _operator in [("bitwise_and", np.bitwise_and, "and"), ("bitwise_or", np.bitwise_or, "or"),
                                 ("bitwise_xor", np.bitwise_xor, "xor")]:
    defop(_name, f"np.{_name}({{x}}, {{y}})", ufunc=_ufunc, commutative=True, vjps=(None, None),
          operators=(_operator, "r" + _operator),
          doc=f"Elementwise {_name.replace('_', ' ')} of integers or booleans (no gradient).")
defop("bitwise_not", "np.invert({x})", ufunc=np.invert, vjps=(None,), operators=("invert",),
      doc="Elementwise bitwise not of integers, logical not of booleans (no gradient).")
defop("gcd", "np.gcd({x}, {y})", ufunc=np.gcd, commutative=True, vjps=(None, None),
      doc="Greatest common divisor of integers, elementwise (no gradient).")
for _name, _ufunc, _doc in [("logical_not", np.logical_not, "not input"),
                            ("isnan", np.isnan, "input is NaN"), ("isinf", np.isinf, "input is +-inf"),
                            ("isfinite", np.isfinite, "input is finite"),
                            ("signbit", np.signbit, "the sign bit of input is set")]:
    defop(_name, f"np.{_name}({{x}})", ufunc=_ufunc, vjps=(None,), doc=f"Whether {_doc}, elementwise.")


def _isnan(x: Any) -> Any:
    """isnan of a value, or of a plain number (an operand may be a Python scalar)."""
    return x.isnan() if isinstance(x, Value) else np.isnan(x)


# detach inside traced code: the value passes, the gradient does not
STOP_GRADIENT = defop("stop_gradient", "{x}", view=True, grad_fn="DetachBackward0", linear=True, methods=(),
                      vjps=(None,))
# dtype conversion (and `clone`, a conversion to the same dtype): the gradient converts back
ASTYPE = defop("astype", "{x}.astype({dtype})", shape=lambda x, *, dtype: x, linear=True,
               batch=batching.unary, dtype=lambda inputs, params: np.dtype(params["dtype"]),
               grad_fn="ToCopyBackward0", vjps=(lambda ct, ans, x, *, dtype: ct.astype(x.dtype),))


@method("add", function=True, inplace=True)
def add(self, other, alpha=1):
    """input + alpha * other, elementwise with broadcasting."""
    return apply(ADD, self, other if alpha == 1 else alpha * other)


@method("sub", function=True, inplace=True)
def sub(self, other, alpha=1):
    """input - alpha * other, elementwise with broadcasting."""
    return apply(SUB, self, other if alpha == 1 else alpha * other)


@method("where")
def where_method(self, condition, other):
    """self where `condition` holds, else `other`."""
    return apply(WHERE, condition, self, other)


@function
def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elementwise `input` where `condition` holds, else `other` (a data-dependent choice that
    traces). With the condition alone, PyTorch's `condition.nonzero(as_tuple=True)`: the
    indices where it holds, whose number depends on the values (eager only)."""
    if input is None and other is None:
        condition = lift(condition)
        if type(condition) is not Value._default:
            raise TypeError("where(condition) with one argument: the result's shape depends on the values, "
                            "so it cannot be traced; use where(condition, input, other) or call it eagerly")
        return condition.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() takes a condition and both input and other, or the condition alone")
    return apply(WHERE, condition, input, other)


@numpy_function(np.where)
def _np_where(condition, x=None, y=None):
    if x is None or y is None:
        raise TypeError("numpy.where with one argument gives data-dependent shapes; not traceable")
    return apply(WHERE, condition, x, y)


@method("detach", function=True)
def detach(self):
    """The value, without history."""
    return apply(STOP_GRADIENT, self)


@method("astype")
def astype(self, dtype):
    """The value converted to `dtype`."""
    return apply(ASTYPE, self, dtype=np.dtype(dtype).name)


@method("square", function=True, inplace=True)
def square(self):
    """input ** 2 (a power, recorded as PyTorch records it: PowBackward0)."""
    return self ** 2


@composite("ReciprocalBackward0")
def _reciprocal(x: Value) -> Value:
    return apply(OPS["div"], 1.0, x)  # not `1.0 / x`: an eager tensor's is `x.reciprocal() * 1.0`


@method("reciprocal", function=True, inplace=True)
def reciprocal(self):
    """1 / input, elementwise."""
    return _reciprocal(self)


@method("nan_to_num", function=True, inplace=True)
def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    """input with NaN, +inf and -inf replaced (by 0, and the dtype's largest and lowest values by
    default); the gradient passes where input is finite."""
    return apply(NAN_TO_NUM, self, nan=float(nan), posinf=None if posinf is None else float(posinf),
                 neginf=None if neginf is None else float(neginf))


@numpy_function(np.nan_to_num)
def _np_nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return nan_to_num(lift(x), nan, posinf, neginf)


@method("round", function=True, inplace=True)
def round_(self, decimals=None):
    """input rounded half to even, to `decimals` places (zero gradient)."""
    name = "RoundBackward0" if decimals is None else "RoundBackward1"
    return apply(ROUND, self, decimals=int(decimals or 0), _name=name)


@numpy_function(np.round, np.around)
def _np_round(a, decimals=0, out=None):
    no_out("round", out)
    return apply(ROUND, a, decimals=int(decimals))


@numpy_function(np.fix)
def _np_fix(x, out=None):
    no_out("fix", out)
    return apply(OPS["trunc"], x)
