"""The NumPy binding: which NumPy function is which symgrad op (a plug-in the core never reads).

`Surface.__array_ufunc__` and `__array_function__` look NumPy's functions up here, so
`np.tanh(x @ w).sum()` traces (and records eagerly) exactly like `(x @ w).tanh().sum()`.
NumPy's conventions are kept: `axis=`, `keepdims=`, `ddof=0` for var/std.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import OPS, UFUNCS
from symgrad.surface import composites
from symgrad.surface.base import Surface, apply, lift, user_line
from symgrad.surface.base import _axes as _dims

HANDLERS: dict[Callable, Callable] = {}


def implements(*functions: Callable) -> Callable[[Callable], Callable]:
    def deco(handler: Callable) -> Callable:
        for f in functions:
            HANDLERS[f] = handler
        return handler
    return deco


def _axes(axis: Any) -> Any:
    return None if axis is None else (axis if isinstance(axis, int) else tuple(axis))


def _no_out(name: str, out: Any = None, **kwargs: Any) -> None:
    if out is not None:
        raise TypeError(f"numpy.{name}: out= is not supported on symgrad values")
    extra = {k: v for k, v in kwargs.items() if v is not None and k not in ("dtype",)}
    if extra:
        raise TypeError(f"numpy.{name}: unsupported argument(s) {', '.join(sorted(extra))}")


# ---------------------------------------------------------------- ufuncs

_UFUNC_COMPOSITES: dict[np.ufunc, Callable] = {
    np.square: lambda x: x * x,
    np.reciprocal: lambda x: 1.0 / x,
    np.exp2: lambda x: 2.0 ** x,
    np.log2: lambda x: x.log() / np.log(2.0),
    np.log10: lambda x: x.log() / np.log(10.0),
    np.logaddexp: None,  # handled by _logaddexp, which keeps Python scalars as they are
    np.positive: lambda x: x,
    np.floor_divide: None, np.remainder: None,  # piecewise constant: no useful gradient
}


def _logaddexp(x: Any, y: Any) -> Surface:
    """log(exp(x) + exp(y)) = y + softplus(x - y): stable, with the smooth gradient sigmoid(x - y)."""
    if isinstance(y, (int, float)) and y == 0:
        return apply(OPS["softplus"], x)
    if isinstance(x, (int, float)) and x == 0:
        return apply(OPS["softplus"], y)
    return y + apply(OPS["softplus"], x - y)


def ufunc(uf: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    """Apply NumPy ufunc `uf` (called plainly, no out=) to values some of which are symgrad's."""
    if kwargs.get("out") is not None or kwargs.get("where", True) is not True:
        raise TypeError(f"numpy.{uf.__name__}: out= and where= are not supported on symgrad values")
    op = UFUNCS.get(uf)
    if op is not None:
        return apply(op, *inputs)
    if uf is np.logaddexp:
        return _logaddexp(*inputs)
    composite = _UFUNC_COMPOSITES.get(uf)
    if composite is None:
        raise TypeError(f"numpy.{uf.__name__}{user_line()} has no registered symgrad op; "
                        "write it with symgrad ops or register one with symgrad.extend")
    return composite(*[lift(v, *inputs) for v in inputs])


# ---------------------------------------------------------------- reductions

@implements(np.sum)
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _no_out("sum", out, **kw)
    return lift(a).sum(_axes(axis), keepdim=keepdims)


@implements(np.mean)
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _no_out("mean", out, **kw)
    return composites.mean(lift(a), _axes(axis), keepdims)


@implements(np.prod)
def _prod(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    _no_out("prod", out, **kw)
    x = lift(a)
    return apply(OPS["prod"], x, axes=_dims(_axes(axis), x.ndim), keepdims=bool(keepdims))


@implements(np.max, np.amax)
def _max(a, axis=None, out=None, keepdims=False, **kw):
    _no_out("max", out, **kw)
    x = lift(a)
    return x.amax(() if axis is None else _axes(axis), keepdim=keepdims)


@implements(np.min, np.amin)
def _min(a, axis=None, out=None, keepdims=False, **kw):
    _no_out("min", out, **kw)
    x = lift(a)
    return x.amin(() if axis is None else _axes(axis), keepdim=keepdims)


@implements(np.var)
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    _no_out("var", out, **kw)
    return composites.var(lift(a), _axes(axis), keepdim=keepdims, correction=ddof)


@implements(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    _no_out("std", out, **kw)
    return composites.std(lift(a), _axes(axis), keepdim=keepdims, correction=ddof)


@implements(np.argmax)
def _argmax(a, axis=None, out=None, keepdims=False):
    return lift(a).argmax(axis, keepdim=keepdims)


@implements(np.argmin)
def _argmin(a, axis=None, out=None, keepdims=False):
    return lift(a).argmin(axis, keepdim=keepdims)


# ---------------------------------------------------------------- products

@implements(np.dot)
def _dot(a, b, out=None):
    _no_out("dot", out)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return lift(a, a, b) * b
    if np.ndim(b) > 2:
        raise TypeError("numpy.dot with a >2-D second argument is not supported; use np.matmul")
    return apply(OPS["matmul"], a, b)


@implements(np.inner)
def _inner(a, b):
    return apply(OPS["matmul"], a, lift(b, a, b).T if np.ndim(b) > 1 else b)


@implements(np.outer)
def _outer(a, b, out=None):
    _no_out("outer", out)
    return lift(a, a, b).reshape(-1, 1) * lift(b, a, b).reshape(1, -1)


@implements(np.vdot)
def _vdot(a, b):
    return (lift(a, a, b).reshape(-1) * lift(b, a, b).reshape(-1)).sum()


@implements(np.einsum)
def _einsum(subscripts, *operands, **kw):
    """The contractions matmul-like code uses: a product of broadcast operands, then a sum."""
    if kw.get("out") is not None or len(operands) not in (1, 2):
        raise TypeError("numpy.einsum: only one or two operands, without out=, are supported")
    spec = subscripts.replace(" ", "")
    lhs, _, out = spec.partition("->")
    terms = lhs.split(",")
    if "..." in spec or len(terms) != len(operands):
        raise TypeError(f"numpy.einsum: unsupported subscripts {subscripts!r}")
    if not _:
        out = "".join(sorted(c for c in set(lhs) if c != "," and lhs.count(c) == 1))
    letters = list(dict.fromkeys(out + "".join(terms)))
    aligned = []
    for term, x in zip(terms, operands):
        x = lift(x, *operands)
        for c in set(term):
            if term.count(c) > 1:
                raise TypeError(f"numpy.einsum: repeated index {c!r} in one operand is not supported")
        perm = sorted(range(len(term)), key=lambda k: letters.index(term[k]))
        x = x.permute(perm) if perm != list(range(len(term))) else x
        shape, src = [], [term[k] for k in perm]
        for c in letters:
            shape.append(x.shape[src.index(c)] if c in src else 1)
        aligned.append(x.reshape(*shape))
    prod = aligned[0] if len(aligned) == 1 else aligned[0] * aligned[1]
    summed = tuple(k for k, c in enumerate(letters) if c not in out)
    return prod.sum(summed) if summed else prod


# ---------------------------------------------------------------- shapes

@implements(np.reshape)
def _reshape(a, *args, **kwargs):
    shape = args[0] if args else kwargs.get("newshape", kwargs.get("shape"))
    return lift(a).reshape(shape if not isinstance(shape, int) else (shape,))


@implements(np.transpose)
def _transpose(a, axes=None):
    x = lift(a)
    return x.permute(tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    return lift(a).transpose(axis1, axis2)


@implements(np.moveaxis)
def _moveaxis(a, source, destination):
    x = lift(a)
    order = [k for k in range(x.ndim) if k != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return x.permute(order)


@implements(np.squeeze)
def _squeeze(a, axis=None):
    x = lift(a)
    if axis is None:
        return x.squeeze()
    axes = sorted({k % x.ndim for k in ((axis,) if isinstance(axis, int) else axis)})
    for k in axes:
        if x.shape[k] != 1:
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return x.reshape(tuple(n for k, n in enumerate(x.shape) if k not in axes))


@implements(np.expand_dims)
def _expand_dims(a, axis):
    x = lift(a)
    for k in sorted((axis,) if isinstance(axis, int) else tuple(axis)):
        x = x.unsqueeze(k)
    return x


@implements(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    return lift(array).broadcast_to((shape,) if isinstance(shape, int) else tuple(shape))


@implements(np.ravel)
def _ravel(a, order="C"):
    return lift(a).reshape(-1)


@implements(np.concatenate)
def _concatenate(arrays, axis=0, out=None, **kw):
    _no_out("concatenate", out, **kw)
    return composites.cat(list(arrays), axis)


@implements(np.stack)
def _stack(arrays, axis=0, out=None, **kw):
    _no_out("stack", out, **kw)
    return composites.stack(list(arrays), axis)


@implements(np.where)
def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise TypeError("numpy.where with one argument gives data-dependent shapes; not traceable")
    return apply(OPS["where"], condition, x, y)


@implements(np.clip)
def _clip(a, a_min=None, a_max=None, out=None, **kw):
    _no_out("clip", out)
    lo, hi = kw.get("min", a_min), kw.get("max", a_max)
    return composites.clamp(lift(a), lo, hi)


@implements(np.zeros_like)
def _zeros_like(a, dtype=None, **kw):
    return lift(a).zeros_like()


@implements(np.ones_like)
def _ones_like(a, dtype=None, **kw):
    return lift(a).ones_like()


@implements(np.full_like)
def _full_like(a, fill_value, dtype=None, **kw):
    return lift(a).ones_like() * fill_value


@implements(np.shape)
def _shape(a):
    return tuple(a.shape)


@implements(np.ndim)
def _ndim(a):
    return len(a.shape)


@implements(np.size)
def _size(a, axis=None):
    return int(np.prod(a.shape)) if axis is None else a.shape[axis]


@implements(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro") or (ord == 2 and np.ndim(x) != 1 and axis is None):
        raise TypeError(f"numpy.linalg.norm: ord={ord!r} is not supported (use None or 'fro')")
    v = lift(x)
    return (v * v).sum(_axes(axis), keepdim=keepdims).sqrt()


def function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Apply NumPy function `func` to arguments some of which are symgrad values."""
    handler = HANDLERS.get(func)
    if handler is None:
        module = getattr(func, "__module__", None) or "numpy"
        module = "numpy" if module.startswith("numpy") and module.count(".") <= 1 and \
            not module.startswith("numpy.linalg") else module
        raise TypeError(f"{module}.{func.__name__}{user_line()} has no registered symgrad op; "
                        "write it with symgrad ops or register one with symgrad.extend")
    return handler(*args, **kwargs)
