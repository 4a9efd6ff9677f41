"""The compiled forward-mode face: `jvp`, `linearize`, `hvp`, `jacfwd` and `jacrev`.

They are `Transform`s like `grad`: traced once per signature, simplified, generated as NumPy
source (`.source(...)`, `.graph(...)`) and composable with the others. Tangents are pushed
forward by transposing the reverse pass (`symgrad.autodiff.forward`), so every op's one VJP
rule serves both modes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symgrad.api.transforms import (
    Jacobian,
    Transform,
    Variables,
    _as_tracer,
    _tracer_in,
)
from symgrad.autodiff.forward import pushforward
from symgrad.tracing import pytree
from symgrad.tracing.tracer import Tracer, arg_names


def _dtype(leaf: Any) -> np.dtype:
    return np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def _shape(leaf: Any) -> tuple[int, ...]:
    return tuple(leaf.shape) if hasattr(leaf, "shape") else np.shape(leaf)


def check_tangent(what: str, name: str, primal: Any, tangent: Any) -> None:
    """Raise as JAX does when `tangent` cannot be a tangent of `primal`: TypeError for another
    structure or dtype, ValueError for another shape; the message names the argument."""
    p_leaves, p_tree = pytree.flatten(primal)
    t_leaves, t_tree = pytree.flatten(tangent)
    if p_tree != t_tree:
        raise TypeError(f"{what}: the tangent of argument {name!r} must have the structure of the primal; "
                        f"got {type(tangent).__name__} with {len(t_leaves)} leaves for "
                        f"{type(primal).__name__} with {len(p_leaves)}")
    for leaf_name, p, t in zip(pytree.leaf_names(primal, name), p_leaves, t_leaves):
        if _shape(p) != _shape(t):
            raise ValueError(f"{what}: tangent {leaf_name!r} has shape {_shape(t)}, "
                             f"but the primal has shape {_shape(p)}")
        if _dtype(p) != _dtype(t):
            raise TypeError(f"{what}: tangent {leaf_name!r} has dtype {_dtype(t)}, but the primal has "
                            f"dtype {_dtype(p)}; dtypes must be equal")


def _named(fn: Callable, names: Sequence[str]) -> Callable:
    """`fn` under a signature naming its arguments `names`, so a transform that appends
    arguments (tangents, the vector of an hvp) has them named in its generated source."""
    @functools.wraps(fn)
    def named(*args: Any) -> Any:
        return fn(*args)
    named.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names])
    return named


def _with_vector(fn: Callable) -> list[str] | None:
    """The names of `fn`'s arguments and then "v", when they are exactly its positional
    parameters without defaults (else None: the arguments keep the names tracing gives)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
             and p.default is p.empty]
    if len(names) != len(params):
        return None
    return [*names, "v" if "v" not in names else "v_"]


class JVP(Transform):
    """The Jacobian-vector product at primals: `(*primals, *tangents) -> (out, tangent_out)`,
    or the tangent alone (`with_value=False`, the function `linearize` returns)."""

    kind = "jvp"

    def __init__(self, fn: Callable, nargs: int, has_aux: bool = False, with_value: bool = True,
                 passes: tuple[str, ...] | None = None) -> None:
        names = arg_names(fn, nargs)
        super().__init__(_named(fn, [*names, *(f"{n}_dot" for n in names)]), tuple(range(nargs)), has_aux,
                         passes=passes)
        self._nargs, self._with_value = nargs, with_value
        if not with_value:
            self.kind = "linearized"

    def rule(self, *args: Any) -> Any:
        n = self._nargs
        if len(args) != 2 * n:
            raise TypeError(f"{self.kind}: expected {n} primal(s) and {n} tangent(s), "
                            f"got {len(args)} arguments")
        primals, tangents = args[:n], args[n:]
        for name, p, t in zip(arg_names(self._fn, n), primals, tangents):
            check_tangent(self.kind, name, p, t)
        wrt = Variables(self._fn, primals, range(n))
        out, aux = self._split_aux(self._fn(*wrt.args))
        like = _tracer_in(wrt.args)
        leaves, tree = pytree.flatten(out)
        leaves = [self._stable(o if isinstance(o, Tracer) else like._constant(np.asarray(o))) for o in leaves]
        v = [_as_tracer(leaf, like) for t in tangents for leaf in pytree.flatten(t)[0]]
        tangent_out = pytree.unflatten(tree, pushforward(leaves, wrt.leaves, v))
        if not self._with_value:
            return tangent_out
        value = pytree.unflatten(tree, leaves)
        return (value, tangent_out, aux) if self._has_aux else (value, tangent_out)

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return f"Jacobian-vector product of {described}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        return ["out"] if self._with_value else ["tangent"]


class HVP(Transform):
    """The Hessian of scalar `fn` times a vector, `(*args, v) -> H v`, without the Hessian:
    the gradient of <grad fn, v> (reverse over reverse), about two gradients' work."""

    kind = "hvp"
    _differentiates = True

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0,
                 passes: tuple[str, ...] | None = None) -> None:
        super().__init__(_named(fn, _with_vector(fn)) if _with_vector(fn) else fn, argnums, passes=passes)
        self._user = fn

    def rule(self, *args: Any) -> Any:
        if not args:
            raise TypeError("hvp: expected the function's arguments and then the vector v")
        *xs, v = args
        wrt_nums = self._wrt(len(xs))
        names = arg_names(self._user, len(xs))
        vs = (v,) if isinstance(self._argnums, int) else tuple(v) if isinstance(v, (tuple, list)) else None
        if vs is None or len(vs) != len(wrt_nums):
            raise TypeError(f"hvp: v must be a tuple of {len(wrt_nums)} vectors, one per argnum")
        for i, vi in zip(wrt_nums, vs):
            check_tangent("hvp", names[i], xs[i], vi)
        wrt = Variables(self._fn, xs, wrt_nums, self.kind)
        like = _tracer_in(wrt.args)
        grads = wrt.gradients(self._stable(self._scalar(self._fn(*wrt.args), like)))
        v_leaves = [_as_tracer(leaf, like) for vi in vs for leaf in pytree.flatten(vi)[0]]
        inner = sum((g * vl.astype(g.dtype)).sum() for g, vl in zip(grads, v_leaves))
        return self._grouped(wrt.regroup(wrt.gradients(inner)))

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        wrt = ", ".join(names[i] for i in self._wrt(nargs - 1))
        return f"Hessian-vector product of {described} with respect to {wrt}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        return [f"hvp_{n}" for i in self._wrt(nargs - 1) for n in leaves_of.get(i, [])]


@functools.lru_cache(maxsize=64)
def _jvp_of(fn: Callable, nargs: int, has_aux: bool, with_value: bool) -> JVP:
    """One JVP transform per function and arity, so repeated `jvp` calls reuse its builds."""
    return JVP(fn, nargs, has_aux, with_value)


def _transform(fn: Callable, nargs: int, has_aux: bool, with_value: bool) -> JVP:
    try:
        return _jvp_of(fn, nargs, has_aux, with_value)
    except TypeError:  # an unhashable callable: compiled afresh
        return JVP(fn, nargs, has_aux, with_value)


def _sequence(what: str, primals: Any, tangents: Any = ()) -> None:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{what}: primals and tangents must be tuples or lists; found "
                        f"{type(primals).__name__} and {type(tangents).__name__}")


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:
    """JAX's `jvp`: `(fn(*primals), J @ tangents)` from one generated function (compiled once
    per signature and reused by later calls with the same `fn`). Inside a traced function it
    adds to that trace, so `symgrad.compile(lambda x, v: symgrad.jvp(f, (x,), (v,)))` is the
    reusable compiled form; `symgrad.linearize` gives one with `.source()`.

    >>> symgrad.jvp(np.sin, (np.zeros(2),), (np.ones(2),))
    (array([0., 0.]), array([1., 1.]))
    """
    _sequence("jvp", primals, tangents)
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents; "
                        "give one tangent per primal")
    return _transform(fn, len(primals), has_aux, True)(*primals, *tangents)


def linearize(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """JAX's `linearize`: `(fn(*primals), f_jvp)` where `f_jvp(*tangents)` is J @ tangents at
    the primals, compiled (`f_jvp.source()`, `f_jvp.graph()`). It recomputes the factors that
    depend on the primals at each call rather than storing them."""
    forward = Transform(fn)
    out = forward(*primals)
    value, aux = (out[0], out[1]) if has_aux else (out, None)
    transform = _transform(fn, len(primals), has_aux, False)

    def f_jvp(*tangents: Any) -> Any:
        return transform(*primals, *tangents)
    f_jvp.source = lambda: transform.source(*primals, *primals)  # type: ignore[attr-defined]
    f_jvp.graph = lambda: transform.graph(*primals, *primals)  # type: ignore[attr-defined]
    return (value, f_jvp, aux) if has_aux else (value, f_jvp)


def hvp(fn: Callable, argnums: int | Sequence[int] = 0,
        passes: tuple[str, ...] | None = None) -> HVP:
    """The compiled Hessian-vector product of scalar `fn`: `hvp(fn)(*args, v)` is H @ v, with
    H never formed (the cost of about two gradients). `v` has the structure of
    `args[argnums]` (a tuple of such for a sequence of argnums). It is what
    `scipy.optimize.minimize(..., hessp=)` wants: `hessp=symgrad.hvp(f)`.
    """
    return HVP(fn, argnums, passes=passes)


def jacfwd(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           passes: tuple[str, ...] | None = None) -> Jacobian:
    """The compiled Jacobian in forward mode (one batched pushforward of the identity): the
    cheaper choice when there are fewer inputs than outputs."""
    return Jacobian(fn, argnums, has_aux, passes=passes, mode="fwd")


def jacrev(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           passes: tuple[str, ...] | None = None) -> Jacobian:
    """The compiled Jacobian in reverse mode (one batched pullback of the identity), as
    `symgrad.jacobian`: the cheaper choice when there are fewer outputs than inputs."""
    return Jacobian(fn, argnums, has_aux, passes=passes, mode="rev")
