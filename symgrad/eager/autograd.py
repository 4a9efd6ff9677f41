"""`symgrad.autograd`: `backward`, `grad`, custom `Function`s, gradient checks and
`functional` (jacobian, hessian, vjp, jvp, hvp, vhp), as in PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.eager import autograd_functional as functional
from symgrad.eager import engine
from symgrad.eager.engine import _FREED, Node, _tensors, node_class
from symgrad.eager.modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_detect_anomaly
from symgrad.eager.tensor import Tensor, checked_gradients, checked_inputs

__all__ = ["Function", "backward", "detect_anomaly", "functional", "grad", "gradcheck", "gradgradcheck",
           "set_detect_anomaly"]


# ---------------------------------------------------------------- torch.autograd.backward and grad

def _gradient_list(grads: Any) -> Any:
    """The gradients argument checked (Tensors or None), in the form it was given."""
    if grads is None:
        return None
    checked_gradients([grads] if isinstance(grads, Tensor) or not isinstance(grads, (list, tuple))
                      else list(grads), "backward")
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any | None = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (or of `inputs`).
    Bad arguments raise as in PyTorch, before anything is touched."""
    engine.backward(tensors, _gradient_list(grad_tensors), retain_graph, create_graph,
                    inputs=checked_inputs(inputs, "backward"))


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    >>> x = symgrad.tensor(2.0, requires_grad=True)
    >>> symgrad.autograd.grad(x ** 3, x, create_graph=True)   # (tensor(12., grad_fn=...),)
    """
    return engine.grad(outputs, checked_inputs(inputs, "grad"), _gradient_list(grad_outputs),
                       retain_graph, create_graph, allow_unused, materialize_grads)


# ---------------------------------------------------------------- custom functions

class FunctionCtx:
    """The `ctx` of a custom Function: what `forward` saves for `backward`."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.non_differentiable: set[int] = set()

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self.non_differentiable.update(id(t) for t in tensors)


class FunctionNode(Node):
    """The `grad_fn` of a custom Function's outputs: calls its `backward`."""

    __slots__ = ("_fn", "_ctx", "n_outputs", "_freed")

    def __init__(self, fn: type[Function], ctx: FunctionCtx, n_outputs: int, edges: tuple) -> None:
        self._init(edges)
        self._fn, self._ctx, self.n_outputs, self._freed = fn, ctx, n_outputs, False

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        if self._freed:
            raise RuntimeError(_FREED)
        cts = [Tensor._make(np.zeros(s, dt)) if g is None else g
               for g, (s, dt) in zip(cts, self._ctx._out_meta)]
        grads = self._fn.backward(self._ctx, *cts)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(self.next_functions):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {len(self.next_functions)}, got {len(grads)})")
        return [None if g is None else (g if isinstance(g, Tensor) else Tensor._make(np.asarray(g)))
                for g in grads]

    def release(self) -> None:
        self._freed = bool(self._ctx.saved_tensors)  # nothing saved: nothing to free


class Function:
    """Define an op by its `forward` and `backward` (static methods), used as `MyFn.apply(...)`.

    `forward(ctx, *args)` runs on tensors without recording; `backward(ctx, *grads)` returns
    one gradient (or None) per argument of `forward`.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("a Function subclass must define backward")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        outs = out if isinstance(out, tuple) else (out,)
        ctx._out_meta = [(o.shape, o.dtype) for o in outs]
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        edges = tuple(a._edge() if isinstance(a, Tensor) else (None, 0) for a in args)
        node = node_class(cls.__name__ + "Backward", FunctionNode)(cls, ctx, len(outs), edges)
        results = []
        for nr, o in enumerate(outs):
            if id(o) in ctx.non_differentiable:
                results.append(Tensor._make(o._data))
                continue
            t = Tensor._make(o._data, node)
            t._output_nr = nr
            results.append(t)
        return tuple(results) if isinstance(out, tuple) else results[0]


# ---------------------------------------------------------------- gradient checks

def _numerical_vjp(fn: Callable, inputs: list[Tensor], v: list[np.ndarray], eps: float) -> list:
    """d/d inputs of sum(v * fn(inputs)) by central differences, one input element at a time."""
    grads = []
    for t in inputs:
        g = np.zeros(t.shape)
        if t.requires_grad:
            flat = t._data.reshape(-1)
            for k in range(flat.size):
                old = flat[k]
                flat[k] = old + eps
                plus = _dot(fn(*inputs), v)
                flat[k] = old - eps
                minus = _dot(fn(*inputs), v)
                flat[k] = old
                g.reshape(-1)[k] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _dot(out: Any, v: list[np.ndarray]) -> float:
    outs = out if isinstance(out, tuple) else (out,)
    return float(sum(np.sum(o._data * w) for o, w in zip(outs, v)))


def gradcheck(func: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare `func`'s backward with central finite differences along random output weights.

    Inputs that require grad should be float64, as PyTorch recommends.
    """
    inputs = _tensors(inputs)
    with enable_grad():  # func may itself differentiate (gradgradcheck)
        out = func(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        v = [rng.standard_normal(o.shape) for o in outs]
        wrt = [t for t in inputs if t.requires_grad]
        with enable_grad():
            res = func(*inputs)
            res = res if isinstance(res, tuple) else (res,)
            pairs = [(o, Tensor._make(w.astype(o.dtype))) for o, w in zip(res, v) if o.requires_grad]
            if pairs:
                analytic = grad([o for o, _ in pairs], wrt, [w for _, w in pairs],
                                allow_unused=True, materialize_grads=True)
            else:  # no output depends on the inputs: the analytical gradient is zero
                analytic = [Tensor._make(np.zeros(t.shape)) for t in wrt]
        with enable_grad():
            numeric = _numerical_vjp(func, inputs, v, eps)
        numeric = [g for g, t in zip(numeric, inputs) if t.requires_grad]
        for i, (a, n) in enumerate(zip(analytic, numeric)):
            if not np.allclose(a._data, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for input {i}:\nnumerical: {n}\nanalytical: {a._data}")
                return False
    return True


def gradgradcheck(func: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """`gradcheck` of the first derivative (built with `create_graph=True`): checks second order."""
    inputs = _tensors(inputs)
    with enable_grad():
        out = func(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed + 1)
    v = [Tensor._make(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]

    def first_derivative(*args: Tensor) -> tuple:
        res = func(*args)
        res = res if isinstance(res, tuple) else (res,)
        chosen = [k for k, a in enumerate(args) if a.requires_grad]
        return grad(list(res), [args[k] for k in chosen], v, create_graph=True,
                    allow_unused=True, materialize_grads=True)

    return gradcheck(first_derivative, inputs, eps, atol, rtol, raise_exception, seed)


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""
