"""`symgrad.func`: PyTorch's `torch.func.grad` and `grad_and_value`, on the eager engine.

`grad(f)(x)` is the gradient of a scalar `f` at `x` as a function, so it nests:
`grad(grad(f))(x)` is the second derivative. (`vmap` and the other transforms are not here.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from symgrad.eager.autograd_functional import _prepare
from symgrad.eager.engine import grad as _grad
from symgrad.eager.modes import enable_grad
from symgrad.eager.tensor import Tensor

__all__ = ["grad", "grad_and_value"]


def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """`func` made to return (gradient in the `argnums` arguments, value), or
    ((gradient, (value, aux))) with `has_aux` (func then returns (value, aux))."""
    @functools.wraps(func)
    def transformed(*args: Any, **kwargs: Any) -> tuple:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        for k in nums:
            if not -len(args) <= k < len(args):
                raise RuntimeError(f"Got argnum={k}, but only {len(args)} positional inputs")
        nums = tuple(k % len(args) for k in nums)
        nested = any(isinstance(args[k], Tensor) and args[k].requires_grad for k in nums)
        with enable_grad():
            args = list(args)
            for k in nums:
                args[k] = _prepare((args[k],), nested)[0]
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(out)}")
            if out.ndim:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, "
                                   f"got tensor with {out.ndim} dims. Maybe you wanted to use the vjp or "
                                   "jacrev APIs instead?")
            inputs = [args[k] for k in nums]
            if out.requires_grad:
                grads = _grad(out, inputs, create_graph=nested, allow_unused=True, materialize_grads=True)
            else:
                grads = tuple(x.zeros_like() for x in inputs)
        if not nested:
            out = out.detach()
            aux = aux.detach() if isinstance(aux, Tensor) else aux
        grads = grads[0] if isinstance(argnums, int) else tuple(grads)
        return (grads, (out, aux)) if has_aux else (grads, out)
    return transformed


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """`func` (returning a scalar tensor) made to return its gradient in the `argnums`
    arguments (a tuple for a tuple of argnums); with `has_aux`, (gradient, aux).

    >>> symgrad.func.grad(lambda x: (x ** 3).sum())(x)     # 3 * x ** 2
    """
    value_and = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def transformed(*args: Any, **kwargs: Any) -> Any:
        grads, value = value_and(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return transformed
