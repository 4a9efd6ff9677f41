"""Extending symgrad: register an op, override a function's derivative, check gradients."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.api import grad
from symgrad.ops import OPS, Op, apply, defop
from symgrad.ops.dispatch import owner
from symgrad.surface import Surface
from symgrad.tracing import pytree


def extend(name: str, forward: Callable[..., np.ndarray], vjps: Sequence[Callable | None],
           shape: Callable[..., tuple[int, ...]] | None = None,
           dtype: Callable[..., Any] | None = None, grad_fn: str | None = None) -> Callable[..., Any]:
    """Register a primitive op and return the function that applies it.

    `forward(*arrays)` computes it with NumPy; `vjps[i](ct, ans, *inputs)` is the cotangent
    of input i, written with symgrad operations (so it works eagerly, traced and to any
    order). Without `shape` the op is elementwise (NumPy broadcasting); otherwise
    `shape(*input_shapes)` gives the output shape and `dtype(input_dtypes)` its dtype (the
    first input's by default). The op then works in eager mode, in traces and in generated
    code, which calls `forward` by name.

    >>> cube = symgrad.extend("cube", lambda x: x ** 3, [lambda ct, ans, x: ct * 3 * x * x])
    """
    if name in OPS:
        raise ValueError(f"an op named {name!r} is already registered")
    if not name.isidentifier():
        raise ValueError(f"op name {name!r} must be a Python identifier")
    nargs = len(vjps)
    args = ["x", "y", "z", "w"][:nargs]
    if len(args) != nargs:
        raise ValueError("extend supports ops of 1 to 4 inputs")
    helper = f"op_{name}"
    if dtype is not None:
        dtype_rule = lambda inputs, params: dtype(inputs)  # noqa: E731
    elif shape is not None:
        dtype_rule = lambda inputs, params: np.result_type(inputs[0])  # noqa: E731
    else:
        dtype_rule = None  # elementwise: whatever NumPy gives
    op = defop(
        name, f"{helper}({', '.join('{' + a + '}' for a in args)})", vjps=tuple(vjps), shape=shape,
        grad_fn=grad_fn or "".join(p.capitalize() for p in name.split("_")) + "Backward0",
        dtype=dtype_rule, helpers={helper: forward},
    )

    @functools.wraps(forward)
    def apply_op(*inputs: Any) -> Any:
        if len(inputs) != nargs:
            raise TypeError(f"{name} takes {nargs} input(s), got {len(inputs)}")
        return apply(op, *inputs)
    return apply_op


# ---------------------------------------------------------------- custom derivatives

_custom_ids = itertools.count()


class custom_vjp:  # noqa: N801 - named like JAX's decorator
    """A function whose derivative is given by the user, as JAX's `custom_vjp`.

    `fwd(*args)` returns `(output, residuals)`, `bwd(residuals, ct)` a tuple with one
    cotangent per argument, both written with symgrad or NumPy operations. Works in eager
    mode and in traces (the residuals are computed once; the primal computation inside
    `fwd` is not differentiated).

    >>> @symgrad.custom_vjp
    ... def clip_grad(x): return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, ct: (ct.clamp(-1, 1),))
    """

    def __init__(self, fn: Callable) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self._ops: dict[int, Op] = {}

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def _op(self, nargs: int, nres: int, res_tree: Any) -> Op:
        """The op standing for one call: inputs (fwd's output, *args, *residuals); it passes
        the output through, and its VJP for each argument is the user's `bwd`."""
        key = (nargs, nres, res_tree)
        if key not in self._ops:
            bwd = self.bwd

            def vjp_arg(ct, ans, *inputs, argnum):
                residuals = pytree.unflatten(res_tree, list(inputs[1 + nargs:]))
                grads = bwd(residuals, ct)
                grads = grads if isinstance(grads, tuple) else (grads,)
                if len(grads) != nargs:
                    raise ValueError(
                        f"custom_vjp bwd returned {len(grads)} cotangents for {nargs} arguments")
                g = grads[argnum - 1]
                return g if g is None or isinstance(g, Surface) else ct._constant(g)

            name = f"custom_vjp_{getattr(self.fn, '__name__', 'fn')}_{next(_custom_ids)}"
            self._ops[key] = defop(
                name, lambda names, params, lib: names[0], forward=lambda out, *rest: out,
                variadic=True, shape=lambda out, *rest: out, promote=None, view=True,
                dtype=lambda inputs, params: np.result_type(inputs[0]),
                grad_fn="CustomVjpBackward", vjps=(None, *(vjp_arg,) * nargs, None),
            )
        return self._ops[key]

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or not any(isinstance(a, Surface) for a in args):
            return self.fn(*args)
        out, residuals = self.fwd(*args)
        res_leaves, res_tree = pytree.flatten(residuals)
        op = self._op(len(args), len(res_leaves), res_tree)
        detached = [r.detach() if isinstance(r, Surface) else r for r in res_leaves]
        like = next(a for a in args if isinstance(a, Surface) and type(a) is owner(args))
        out = out if isinstance(out, Surface) else like._constant(out)
        return apply(op, out.detach(), *args, *detached)


# ---------------------------------------------------------------- gradient checks

def check_grads(f: Callable, args: Sequence[Any], order: int = 2, eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-8, seed: int = 0) -> None:
    """Check `grad(f)` (and, with order 2, its derivative) against central differences
    along random directions, as JAX's `check_grads` (reverse mode). Raises AssertionError.

    Arguments are float arrays; f returns a scalar.
    """
    rng = np.random.default_rng(seed)
    args = [np.asarray(a, dtype=np.float64) for a in args]
    fun = f
    for k in range(order):
        g = grad(fun, argnums=tuple(range(len(args))))
        dirs = [rng.standard_normal(a.shape) for a in args]
        analytic = sum(float(np.sum(gi * d)) for gi, d in zip(g(*args), dirs))
        plus = float(np.asarray(fun(*[a + eps * d for a, d in zip(args, dirs)])))
        minus = float(np.asarray(fun(*[a - eps * d for a, d in zip(args, dirs)])))
        numeric = (plus - minus) / (2 * eps)
        if not np.isclose(analytic, numeric, rtol=rtol, atol=atol + rtol * abs(numeric)):
            raise AssertionError(
                f"check_grads: order {k + 1} derivative of {getattr(f, '__name__', 'f')} along a "
                f"random direction is {analytic!r} by reverse mode but {numeric!r} by central "
                f"differences (eps={eps})")
        u = [rng.standard_normal(a.shape) for a in args]
        fun = _directional(g, u)


def _directional(g: Callable, u: list[np.ndarray]) -> Callable:
    def along(*xs: Any) -> Any:
        grads = g(*xs)
        return sum((gi * ui).sum() for gi, ui in zip(grads, u))
    return along
