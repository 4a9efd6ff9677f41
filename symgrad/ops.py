"""The op registry: every primitive is declared here once.

An entry gives the op's name, its NumPy code (a template that is both the eager forward and
what `codegen` prints), its shape rule and one vector-Jacobian product per input. VJP
rules are written with the operators and methods of the op surface (`symgrad.surface`), so
the same rule runs on eager tensors (and records when `create_graph=True`) and on tracer
values (and emits gradient graph nodes). Broadcasting is undone once, in `vjp`, never in a
rule.

Composite functions (`mean`, `binary_cross_entropy_with_logits`, ...) are ordinary
functions of primitives; they have no derivative rule of their own.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


class ShapeError(RuntimeError, ValueError):
    """Shapes that an op cannot combine; a RuntimeError like PyTorch's, a ValueError like NumPy's."""


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: NumPy code template, shape rule, dtype rule and per-input VJPs."""

    name: str
    code: str
    args: tuple[str, ...]
    params: tuple[str, ...]
    shape_rule: Callable[..., tuple[int, ...]]
    vjps: tuple[Callable[..., Any] | None, ...]
    grad_fn: Callable[[tuple, dict], str]  # PyTorch's grad_fn class name for (inputs, params)
    elementwise: bool
    linear: bool
    promote: str | None  # eager dtype promotion: "common" (PyTorch's rules), "float", or None
    forward: Callable[..., np.ndarray]

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    def out_shape(self, shapes: tuple[tuple[int, ...], ...], params: dict) -> tuple[int, ...]:
        """The output shape for these input shapes, or a ShapeError naming the op."""
        try:
            return tuple(self.shape_rule(*shapes, **params))
        except ShapeError as e:
            raise ShapeError(f"{self.name}: {e}") from None

    def out_dtype(self, inputs: tuple, params: dict) -> np.dtype:
        """The output dtype NumPy gives for these inputs (dtypes, or Python scalars)."""
        key = (self, tuple(v if isinstance(v, np.dtype) else type(v) for v in inputs))
        dt = _DTYPE_CACHE.get(key)
        if dt is None:
            if self.elementwise:
                probes = [np.zeros((), v) if isinstance(v, np.dtype) else v for v in inputs]
                with np.errstate(all="ignore"):
                    dt = np.asarray(self.forward(*probes, **params)).dtype
            else:
                dt = np.result_type(*inputs)
            _DTYPE_CACHE[key] = dt
        return dt

    def code_for(self, names: list[str], params: dict) -> str:
        """This op's NumPy expression over the given input expressions."""
        fields = dict(zip(self.args, names))
        fields.update({k: repr(v) for k, v in params.items()})
        return self.code.format(**fields)


_DTYPE_CACHE: dict = {}
OPS: dict[str, Op] = {}
UFUNCS: dict[np.ufunc, Op] = {}


def defop(
    name: str,
    code: str,
    vjps: tuple = (),
    shape: Callable[..., tuple[int, ...]] | None = None,
    grad_fn: str | Callable[[tuple, dict], str] | None = None,
    ufunc: np.ufunc | None = None,
    linear: bool = False,
    promote: str | None = "default",
) -> Op:
    """Register a primitive. Without `shape`, it is elementwise with NumPy broadcasting.

    `code` is a NumPy expression with `{role}` fields for inputs and params; it is compiled
    into the eager forward and printed by codegen, so the two never disagree.
    """
    fields = [f for _, f, _, _ in string.Formatter().parse(code) if f]
    args = tuple(dict.fromkeys(f for f in fields if f in "xyzw"))
    params = tuple(dict.fromkeys(f for f in fields if f not in args))
    signature = ", ".join(args) + (", *, " + ", ".join(params) if params else "")
    body = code.format(**{f: f for f in fields})
    forward = eval(f"lambda {signature}: {body}", {"np": np})  # noqa: S307 - our own templates
    if grad_fn is None:
        grad_fn = "".join(p.capitalize() for p in name.split("_")) + "Backward0"
    name_rule = grad_fn if callable(grad_fn) else (lambda inputs, params, _n=grad_fn: _n)
    op = Op(
        name=name, code=code, args=args, params=params,
        shape_rule=shape or broadcast_shapes, vjps=tuple(vjps), grad_fn=name_rule,
        elementwise=shape is None, linear=linear, forward=forward,
        promote=("common" if shape is None else None) if promote == "default" else promote,
    )
    OPS[name] = op
    if ufunc is not None:
        UFUNCS[ufunc] = op
    return op


# ---------------------------------------------------------------- shape rules

def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"cannot broadcast shapes {listed}") from None


def _matmul_shape(x: tuple, y: tuple) -> tuple:
    if not x or not y:
        raise ShapeError(f"both arguments must be at least 1-D, got shapes {x} and {y}")
    k1 = x[-1]
    k2 = y[-2] if len(y) > 1 else y[0]
    if k1 != k2:
        raise ShapeError(f"shapes {x} and {y} cannot be multiplied ({k1} != {k2})")
    batch = broadcast_shapes(x[:-2], y[:-2])
    return batch + x[-2:-1] + y[-1:] if len(y) > 1 else batch + x[-2:-1]


def _reduce_shape(x: tuple, *, axes: tuple[int, ...], keepdims: bool) -> tuple:
    for a in axes:
        if not 0 <= a < len(x):
            raise ShapeError(f"axis {a} is out of range for shape {x}")
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(x))
    return tuple(n for i, n in enumerate(x) if i not in axes)


def _reshape_shape(x: tuple, *, shape: tuple[int, ...]) -> tuple:
    if int(np.prod(x)) != int(np.prod(shape)):
        raise ShapeError(f"cannot reshape shape {x} ({int(np.prod(x))} elements) into {shape}")
    return shape


def _transpose_shape(x: tuple, *, axes: tuple[int, ...]) -> tuple:
    if sorted(axes) != list(range(len(x))):
        raise ShapeError(f"axes {axes} are not a permutation of the dims of shape {x}")
    return tuple(x[a] for a in axes)


def _broadcast_to_shape(x: tuple, *, shape: tuple[int, ...]) -> tuple:
    if broadcast_shapes(x, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast shape {x} to {shape}")
    return shape


# ---------------------------------------------------------------- broadcasting, undone once

def shape_of(v: Any) -> tuple[int, ...]:
    return tuple(v.shape) if hasattr(v, "shape") else ()


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, bool, np.number))


def unbroadcast(ct: Any, shape: tuple[int, ...]) -> Any:
    """Sum a cotangent back to an input's shape: the one rule for every broadcasting op."""
    ct_shape = shape_of(ct)
    if ct_shape == shape:
        return ct
    lead = len(ct_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and ct_shape[lead + i] != 1
    )
    if axes:
        ct = ct.sum(axes, keepdim=True)
    if shape_of(ct) != shape:
        ct = ct.reshape(shape)
    return ct


def vjp(op: Op, i: int, ct: Any, ans: Any, inputs: tuple, params: dict) -> Any:
    """Cotangent of input `i` of one op application, summed back to that input's shape.

    None when the op is not differentiable in that input.
    """
    rule = op.vjps[i]
    if rule is None:
        return None
    return unbroadcast(rule(ct, ans, *inputs, **params), shape_of(inputs[i]))


# ---------------------------------------------------------------- elementwise primitives

defop("add", "{x} + {y}", ufunc=np.add, linear=True, vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: ct,
))
# sub and div are primitives, not add/mul of neg/reciprocal: generated code reads `x - y`.
defop("sub", "{x} - {y}", ufunc=np.subtract, linear=True, vjps=(
    lambda ct, ans, x, y: ct,
    lambda ct, ans, x, y: -ct,
))
defop("mul", "{x} * {y}", ufunc=np.multiply, vjps=(
    lambda ct, ans, x, y: ct * y,
    lambda ct, ans, x, y: ct * x,
))
defop("div", "{x} / {y}", promote="float", ufunc=np.true_divide, vjps=(
    lambda ct, ans, x, y: ct / y,
    lambda ct, ans, x, y: -ct * ans / y,
))
defop("neg", "-{x}", ufunc=np.negative, linear=True, vjps=(
    lambda ct, ans, x: -ct,
))
defop(
    "pow", "{x} ** {y}", ufunc=np.power,
    grad_fn=lambda inputs, params: "PowBackward" + (
        "0" if _is_scalar(inputs[1]) else "2" if _is_scalar(inputs[0]) else "1"),
    vjps=(
        lambda ct, ans, x, y: ct * y * x ** (y - 1),
        lambda ct, ans, x, y: ct * ans * np.log(x),
    ),
)
defop("exp", "np.exp({x})", promote="float", ufunc=np.exp, vjps=(
    lambda ct, ans, x: ct * ans,
))
defop("log", "np.log({x})", promote="float", ufunc=np.log, vjps=(
    lambda ct, ans, x: ct / x,
))
defop("log1p", "np.log1p({x})", promote="float", ufunc=np.log1p, grad_fn="Log1PBackward0", vjps=(
    lambda ct, ans, x: ct / (x + 1),
))
defop("expm1", "np.expm1({x})", promote="float", ufunc=np.expm1, vjps=(
    lambda ct, ans, x: ct * (ans + 1),
))
defop("tanh", "np.tanh({x})", promote="float", ufunc=np.tanh, vjps=(
    lambda ct, ans, x: ct * (1 - ans * ans),
))
defop("sqrt", "np.sqrt({x})", promote="float", ufunc=np.sqrt, vjps=(
    lambda ct, ans, x: ct / (2 * ans),
))
# sigmoid and softplus are primitives for stability: exp(-x) overflows for x << 0, and the
# composite max(x, 0) + log1p(exp(-|x|)) has the wrong derivative at x == 0.
defop("sigmoid", "np.exp(-np.logaddexp(0.0, -{x}))", promote="float", vjps=(
    lambda ct, ans, x: ct * (ans * (1 - ans)),
))
defop("softplus", "np.logaddexp(0.0, {x})", promote="float", vjps=(
    lambda ct, ans, x: ct * x.sigmoid(),
))


# comparisons have no gradient; `where` routes the cotangent to the branch that was taken
for _name, _code, _ufunc in [("lt", "<", np.less), ("le", "<=", np.less_equal),
                             ("gt", ">", np.greater), ("ge", ">=", np.greater_equal),
                             ("eq", "==", np.equal), ("ne", "!=", np.not_equal)]:
    defop(_name, f"{{x}} {_code} {{y}}", ufunc=_ufunc, vjps=(None, None))
defop("where", "np.where({x}, {y}, {z})", vjps=(
    None,
    lambda ct, ans, c, x, y: ct.where(c, 0.0),
    lambda ct, ans, c, x, y: ct.zeros_like().where(c, ct),
))


# ---------------------------------------------------------------- structural primitives

def _swap_last(v: Any) -> Any:
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return v.permute(axes)


def _matmul_vjp_x(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * y
    if y.ndim == 1:
        return ct.unsqueeze(-1) * y
    if x.ndim == 1:
        return (y @ ct.unsqueeze(-1)).squeeze(-1)
    return ct @ _swap_last(y)


def _matmul_vjp_y(ct, ans, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return ct * x
    if x.ndim == 1:
        return x.unsqueeze(-1) * ct.unsqueeze(-2)
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


def _sum_vjp(ct, ans, x, *, axes, keepdims):
    if not keepdims:
        ct = ct.reshape(_reduce_shape(x.shape, axes=axes, keepdims=True))
    return ct.broadcast_to(x.shape)


defop(
    "sum", "np.sum({x}, axis={axes}, keepdims={keepdims})", shape=_reduce_shape,
    linear=True,
    grad_fn=lambda inputs, params: "SumBackward1" if params["keepdims"] or
    len(params["axes"]) != len(shape_of(inputs[0])) else "SumBackward0",
    vjps=(_sum_vjp,),
)
defop("reshape", "np.reshape({x}, {shape})", shape=_reshape_shape, grad_fn="ViewBackward0",
      linear=True, vjps=(lambda ct, ans, x, *, shape: ct.reshape(x.shape),))
defop("transpose", "np.transpose({x}, {axes})", shape=_transpose_shape,
      grad_fn="PermuteBackward0", linear=True,
      vjps=(lambda ct, ans, x, *, axes: ct.permute(tuple(np.argsort(axes).tolist())),))
# broadcasting's VJP is the identity: `vjp` sums the cotangent back to the input's shape.
defop("broadcast_to", "np.broadcast_to({x}, {shape})", shape=_broadcast_to_shape,
      grad_fn="ExpandBackward0", linear=True, vjps=(lambda ct, ans, x, *, shape: ct,))
# ones_like and zeros_like read only their input's shape and dtype: no gradient flows.
defop("ones_like", "np.ones_like({x})", vjps=(None,))
defop("zeros_like", "np.zeros_like({x})", vjps=(None,))
