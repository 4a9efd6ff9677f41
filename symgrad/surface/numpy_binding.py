"""The NumPy binding: what NumPy's ufuncs and functions do when given symgrad values.

`Surface.__array_ufunc__` and `__array_function__` land here, so `np.tanh(x @ w).sum()`
traces (and records eagerly) exactly like `(x @ w).tanh().sum()`. A ufunc that is an op's
`ufunc` applies that op; a NumPy function looks up its handler, declared next to the op or
composite it spells (`symgrad.ops.dispatch.numpy_function`). The spellings made of several
ops are here. NumPy's conventions are kept: `axis=`, `keepdims=`, `ddof=0` for var/std.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad.ops import UFUNCS, Value, apply, lift
from symgrad.ops.dispatch import NUMPY, call_sites, numpy_function, user_line
from symgrad.ops.special import SCIPY_UFUNCS
from symgrad.surface.tensor_functions import _logaddexp2

# ---------------------------------------------------------------- ufuncs

_UFUNC_COMPOSITES: dict[np.ufunc, Callable] = {
    np.square: lambda x: x.square(),
    np.reciprocal: lambda x: x.reciprocal(),
    np.rint: lambda x: x.round(),
    np.logaddexp2: lambda x, y: _logaddexp2(x, y),
    np.positive: lambda x: x,
    np.fabs: lambda x: x.abs(),
    np.deg2rad: lambda x: x.deg2rad(), np.radians: lambda x: x.deg2rad(),
    np.rad2deg: lambda x: x.rad2deg(), np.degrees: lambda x: x.rad2deg(),
    np.ldexp: lambda x, y: x.ldexp(y), np.float_power: lambda x, y: x.float_power(y),
    np.floor_divide: None, np.remainder: None,  # piecewise constant: no useful gradient
}
# ufuncs NumPy does not export (ndarray.clip calls numpy's private `umath.clip`)
_UNEXPORTED_UFUNCS: dict[str, Callable] = {"clip": lambda x, lo, hi: x.clamp(lo, hi)}


def _from_scipy(uf: np.ufunc) -> bool:
    """Whether `uf` is one of SciPy's special ufuncs: found by name, SciPy itself never imported
    (if `uf` is SciPy's, SciPy is loaded already)."""
    special = sys.modules.get("scipy.special")
    return special is not None and getattr(special, uf.__name__, None) is uf


def ufunc(uf: np.ufunc, inputs: tuple, kwargs: dict) -> Any:
    """Apply NumPy ufunc `uf` (called plainly, no out=) to values some of which are symgrad's."""
    out = kwargs.get("out")
    if out is not None and any(isinstance(o, np.ndarray) for o in out):
        raise TypeError(
            f"numpy.{uf.__name__} would write a traced result into a NumPy array{user_line()} (as "
            "`acc += v` does when acc is a NumPy array): a NumPy array holds numbers, not traced "
            "values. Make the accumulator traced (acc = np.zeros_like(v)), or write acc = acc + v.")
    if out is not None or kwargs.get("where", True) is not True:
        raise TypeError(f"numpy.{uf.__name__}: out= and where= are not supported on symgrad values"
                        f"{user_line()}; assign the result instead (np.where for where=)")
    op = UFUNCS.get(uf)
    if op is not None:
        return apply(op, *inputs)
    if uf in NUMPY:  # a generalized ufunc (np.vecdot, np.matvec) or np.conjugate: its own arguments
        return NUMPY[uf](*inputs, **kwargs)
    scipy = _from_scipy(uf)
    composite = SCIPY_UFUNCS.get(uf.__name__) if scipy else _UFUNC_COMPOSITES.get(
        uf, _UNEXPORTED_UFUNCS.get(uf.__name__))
    if composite is None:
        module = "scipy.special" if scipy else "numpy"
        raise TypeError(f"{module}.{uf.__name__}{user_line()} has no registered symgrad op; "
                        "write it with symgrad ops or register one with symgrad.extend")
    return composite(*[lift(v, *inputs) for v in inputs])


# ---------------------------------------------------------------- shapes and norms

@numpy_function(np.shape)
def _shape(a):
    return tuple(a.shape)


@numpy_function(np.ndim)
def _ndim(a):
    return len(a.shape)


@numpy_function(np.size)
def _size(a, axis=None):
    return int(np.prod(a.shape)) if axis is None else a.shape[axis]


def function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Apply NumPy function `func` to arguments some of which are symgrad values."""
    handler = NUMPY.get(func)
    if handler is None:
        module = getattr(func, "__module__", None) or "numpy"
        module = "numpy" if module.startswith("numpy") and module.count(".") <= 1 and \
            not module.startswith("numpy.linalg") else module
        site, library = call_sites()
        at = f" (at {site})" if site else ""
        if library:
            raise TypeError(f"{library} calls {module}.{func.__name__}, which has no symgrad op{at}; use "
                            "the symgrad.* function, or write the computation with NumPy operations")
        raise TypeError(f"{module}.{func.__name__}{at} has no registered symgrad op; "
                        "write it with symgrad ops or register one with symgrad.extend")
    return handler(*args, **kwargs)


@numpy_function(np.result_type)
def _result_type(*arrays_and_dtypes):
    """The dtype NumPy would give: libraries ask before computing (SciPy's logsumexp)."""
    return np.result_type(*[a.dtype if isinstance(a, Value) else a for a in arrays_and_dtypes])
