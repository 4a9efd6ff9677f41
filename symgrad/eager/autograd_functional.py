"""`symgrad.autograd.functional`: PyTorch's jacobian, hessian, vjp, jvp, hvp and vhp.

Built on the eager engine (`autograd.grad` with `create_graph`), so the function being
differentiated is ordinary PyTorch-style code run eagerly. Inputs and outputs are a Tensor
or a tuple of Tensors, and each result has the structure PyTorch gives it. A Jacobian takes
one backward pass per output element; `vectorize=` is accepted and gives the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager.engine import grad
from symgrad.eager.modes import enable_grad, is_grad_enabled, set_grad_enabled
from symgrad.eager.tensor import Tensor
from symgrad.ops.shape import stack

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


# ---------------------------------------------------------------- inputs and outputs

def _as_tuple(x: Any, what: str, fn_name: str) -> tuple[bool, tuple]:
    """(whether `x` is a tuple, `x` as a tuple), checking that it holds Tensors only."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            if is_tuple:
                raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of "
                                f"Tensors but the value at index {i} has type {type(t)}.")
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of "
                            f"Tensors but the given {what} has type {type(t)}.")
    return is_tuple, items


def _outputs(out: Any, fn_name: str) -> tuple[bool, tuple]:
    return _as_tuple(out, "outputs of the user-provided function", fn_name)


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs the function can be differentiated at: fresh leaves, or (for a higher-order
    graph) an identity view of inputs that already require grad, so gradients reach them."""
    return tuple(t.reshape(t.shape) if create_graph and t.requires_grad else t.detach().requires_grad_(True)
                 for t in inputs)


def _finish(values: tuple, create_graph: bool) -> tuple:
    """Results without history unless the caller asked for a differentiable graph."""
    return values if create_graph else tuple(None if v is None else v.detach() for v in values)


def _untuple(values: Any, is_tuple: bool | tuple[bool, bool]) -> Any:
    """The result shaped as PyTorch gives it: a tuple only where the argument was one."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        values = tuple(_untuple(v, inner) for v in values)
        return values if outer else values[0]
    return values if is_tuple else values[0]


def _check_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(v) != len(other):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (w, o) in enumerate(zip(v, other)):
        if w.shape != o.shape:
            entry = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {o.size()} but got {w.size()}.")


def _vector(v: Any, other: tuple, is_other_tuple: bool, fn_name: str, of: str) -> tuple:
    """`v` checked against the shapes of `other`; None only where `other` is one element."""
    if v is None:
        if len(other) != 1 or other[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if the {of} is a single Tensor with a "
                               "single element.")
        return (Tensor._make(np.ones(other[0].shape, other[0].dtype)),)
    _, v = _as_tuple(v, "v", fn_name)
    _check_v(v, other, is_other_tuple)
    return tuple(w.detach() for w in v)


def _require_grad(outputs: tuple, what: str, strict: bool) -> None:
    if strict:
        for i, o in enumerate(outputs):
            if o is None or not o.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. "
                                   "The outputs must be computed in a differentiable manner from the input "
                                   "when running in strict mode." if what == "outputs" else
                                   f"The {what} {i} of the user-provided function does not require "
                                   "gradients in strict mode.")


def _grads(outputs: tuple, inputs: tuple, cts: tuple | None, create_graph: bool) -> tuple:
    """`grad` of the outputs that require it (None for inputs none of them reach)."""
    pairs = [(o, None if cts is None else c) for o, c in zip(outputs, cts or outputs)
             if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    seeds = [Tensor._make(np.ones(o.shape, o.dtype)) if c is None else c for o, c in pairs]
    return grad([o for o, _ in pairs], list(inputs), seeds, retain_graph=True,
                create_graph=create_graph, allow_unused=True)


def _zeros_for(grads: tuple, like: tuple, strict: bool, message: str) -> tuple:
    """Missing gradients as zeros (an error in strict mode)."""
    out = []
    for i, (g, t) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(message.format(i=i))
            g = Tensor._make(np.zeros(t.shape, t.dtype))
        out.append(g)
    return tuple(out)


_INDEPENDENT = ("The output of the user-provided function is independent of input {i}. This is not "
                "allowed in strict mode.")


# ---------------------------------------------------------------- vjp, jvp

def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`.

    >>> vjp(lambda x: x ** 2, x, symgrad.ones(3))   # (x ** 2, 2 * x)
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        is_outputs_tuple, outputs = _outputs(func(*inputs), "vjp")
        _require_grad(outputs, "outputs", strict)
        v = _vector(v, outputs, is_outputs_tuple, "vjp",
                    "user-provided function returns")
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zeros_for(_grads(outputs, inputs, v, create_graph), inputs, strict,
                                _INDEPENDENT)
    return (_untuple(_finish(outputs, create_graph), is_outputs_tuple),
            _untuple(_finish(result, create_graph), is_inputs_tuple))


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick
    (the VJP is linear in its cotangent u, so J v is the gradient of u -> u^T J v)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        v = _vector(v, inputs, is_inputs_tuple, "jvp", "input to the user-provided function")
        is_outputs_tuple, outputs = _outputs(func(*inputs), "jvp")
        _require_grad(outputs, "outputs", strict)
        us = tuple(Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outputs)
        vjps = _grads(outputs, inputs, us, create_graph=True)
        if strict and create_graph and any(g is None or not g.requires_grad for g in vjps):
            raise RuntimeError("The jacobian of the user-provided function is independent of an input. "
                               "This is not allowed in strict mode when create_graph=True.")
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zeros_for(_grads(vjps, us, v, create_graph), outputs, strict,
                                "The output {i} of the user-provided function is independent of the "
                                "input. This is not allowed in strict mode.")
    return (_untuple(_finish(outputs, create_graph), is_outputs_tuple),
            _untuple(_finish(result, create_graph), is_outputs_tuple))


# ---------------------------------------------------------------- jacobian, hessian

def _jacobian_of(out: Tensor, inputs: tuple, create_graph: bool, strict: bool, k: int) -> tuple:
    """d out / d each input, shaped out.shape + input.shape: one backward pass per element."""
    if not out.requires_grad:
        if strict:
            raise RuntimeError(f"Output {k} of the user-provided function does not require gradients. "
                               "The outputs must be computed in a differentiable manner from the input "
                               "when running in strict mode.")
        return tuple(Tensor._make(np.zeros(out.shape + t.shape, t.dtype)) for t in inputs)
    rows: list[list] = [[] for _ in inputs]
    for e in range(out.numel()):
        seed = np.zeros(out.numel(), out.dtype)
        seed[e] = 1
        got = grad([out], list(inputs), [Tensor._make(seed.reshape(out.shape))], retain_graph=True,
                   create_graph=create_graph, allow_unused=True)
        for j, (g, t) in enumerate(zip(got, inputs)):
            if g is None and strict:
                raise RuntimeError(f"Output {k} of the user-provided function is independent of input "
                                   f"{j}. This is not allowed in strict mode.")
            rows[j].append(Tensor._make(np.zeros(t.shape, t.dtype)) if g is None else g)
    return tuple(stack(r).reshape(out.shape + t.shape) if r else
                 Tensor._make(np.zeros(out.shape + t.shape, t.dtype)) for r, t in zip(rows, inputs))


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of `func` at `inputs`: for output o and input x, shape o.shape + x.shape;
    a tuple over inputs (outputs) where `inputs` (func's result) is a tuple.

    >>> jacobian(lambda x: x.exp().sum(dim=1), x)    # shape (n, n, m)
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If '
                         'your function has more outputs than inputs, "forward-mode" tends to be more '
                         'performant. Otherwise, prefer to use "reverse-mode".')
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        is_outputs_tuple, outputs = _outputs(func(*inputs), "jacobian")
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = tuple(_finish(_jacobian_of(o, inputs, create_graph, strict, k), create_graph)
                           for k, o in enumerate(outputs))
    return _untuple(result, (is_outputs_tuple, is_inputs_tuple))


def _single_output(func: Callable, fn_name: str) -> Callable:
    """`func` checked to return one Tensor of one element, squeezed to a scalar."""
    def single(*inputs: Tensor) -> Tensor:
        out = func(*inputs)
        is_tuple, outs = _outputs(out, fn_name)
        if is_tuple and len(outs) != 1:
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
        if outs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain "
                               "a single element")
        return outs[0].reshape(())
    return single


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar `func` at `inputs`: shape x.shape + x.shape, or a tuple of
    tuples (one block per pair of inputs) where `inputs` is a tuple."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    scalar = _single_output(func, "hessian")

    def gradient(*xs: Tensor) -> tuple:
        return jacobian(scalar, xs, create_graph=True, strict=strict)

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return _untuple(result, (is_inputs_tuple, is_inputs_tuple))


def _first_derivative(func: Callable, inputs: Any, v: Any, fn_name: str, strict: bool) -> tuple:
    """(inputs as a tuple, whether a tuple, output, its gradient with a graph, v checked)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph=True)
    v = None if v is None else _vector(v, inputs, is_inputs_tuple, fn_name, "input")
    if v is None and (len(inputs) != 1 or inputs[0].numel() != 1):
        raise RuntimeError("The vector v can only be None if the input to the user-provided function "
                           "is a single Tensor with a single element.")
    v = v or (Tensor._make(np.ones(inputs[0].shape, inputs[0].dtype)),)
    out = _single_output(func, fn_name)(*inputs)
    _require_grad((out,), "outputs", strict)
    jac = _grads((out,), inputs, None, create_graph=True)
    _require_grad(jac, "jacobian", strict)
    jac = _zeros_for(jac, inputs, strict, _INDEPENDENT)
    return inputs, is_inputs_tuple, out, jac, v


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), v^T H): a vector times the Hessian of a scalar `func`."""
    with enable_grad():
        inputs, is_inputs_tuple, out, jac, v = _first_derivative(func, inputs, v, "vhp", strict)
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zeros_for(_grads(jac, inputs, v, create_graph), inputs, strict,
                                _INDEPENDENT)
    return _finish((out,), create_graph)[0], _untuple(_finish(result, create_graph), is_inputs_tuple)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(inputs), H v): the Hessian of a scalar `func` times a vector, by the
    double-backward trick as PyTorch computes it (equal to `vhp` for a symmetric Hessian)."""
    with enable_grad():
        inputs, is_inputs_tuple, out, jac, v = _first_derivative(func, inputs, v, "hvp", strict)
        us = tuple(Tensor(np.zeros(t.shape, t.dtype), requires_grad=True) for t in inputs)
        back = _zeros_for(_grads(jac, inputs, us, create_graph=True), inputs, strict, _INDEPENDENT)
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zeros_for(_grads(back, us, v, create_graph), inputs, strict,
                                _INDEPENDENT)
    return _finish((out,), create_graph)[0], _untuple(_finish(result, create_graph), is_inputs_tuple)
