"""Inputs for tests/test_fuzz.py: good tensors and bad values, and the public entry points.

The entry points are enumerated from the package itself (`symgrad.surface.functions.__all__`,
`symgrad.linalg`, `symgrad.special`, `symgrad.nn.functional`), so a new function is fuzzed
without a new line here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import symgrad

# Entry points not fuzzed, with the reason.
EXCLUDED: dict[str, str] = {
    "symgrad.use_random_source": "installs a global random source, not a function of its inputs",
    "symgrad.nn.functional.use_random_source": "installs a global random source",
    "symgrad.nn.functional.apply": "internal dispatch helper re-exported by the module",
    "symgrad.nn.functional.composite": "internal decorator re-exported by the module",
    "symgrad.nn.functional.lift": "internal conversion re-exported by the module",
}


def _module_functions(module: Any, prefix: str) -> list[tuple[str, Callable]]:
    """The public functions defined in (not merely imported into) `module`."""
    out = []
    for name in sorted(dir(module)):
        fn = getattr(module, name)
        if name.startswith("_") or not callable(fn) or inspect.isclass(fn) or inspect.ismodule(fn):
            continue
        if getattr(fn, "__module__", "").split(".")[0] != "symgrad":
            continue
        out.append((f"{prefix}.{name}", fn))
    return out


def entry_points() -> list[tuple[str, Callable]]:
    """Every fuzzed public function, as (qualified name, callable), exclusions removed."""
    found = [(f"symgrad.{n}", getattr(symgrad, n)) for n in symgrad.surface.functions.__all__]
    found += _module_functions(symgrad.linalg, "symgrad.linalg")
    found += _module_functions(symgrad.special, "symgrad.special")
    found += _module_functions(symgrad.nn.functional, "symgrad.nn.functional")
    return [(name, fn) for name, fn in found if name not in EXCLUDED]


def _array(shape: tuple[int, ...], dtype: type, special: bool) -> np.ndarray:
    rng = np.random.default_rng(sum(shape) + len(shape))
    a = rng.standard_normal(shape).astype(dtype)
    if special and a.size:
        a.flat[0] = np.nan
        a.flat[-1] = np.inf
    return a


SHAPES = [(), (0,), (3,), (2, 3), (3, 3), (2, 0), (2, 3, 4), (1, 3)]


@st.composite
def good_tensor(draw: Any) -> symgrad.Tensor:
    """A float32/float64 Tensor of a small shape (0-d and empty included), maybe NaN/inf,
    maybe built from a non-contiguous or read-only array."""
    shape = draw(st.sampled_from(SHAPES))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    a = _array(shape, dtype, draw(st.booleans()))
    layout = draw(st.sampled_from(["plain", "transposed", "readonly"]))
    if layout == "transposed" and a.ndim >= 2:
        a = a.T
    if layout == "readonly":
        a.flags.writeable = False
    return symgrad.from_numpy(a) if a.flags.writeable else symgrad.tensor(a)


BAD_VALUES: list[Any] = [
    "abc", None, object(), b"xy", {"a": 1}, {1, 2}, np.datetime64("2020-01-01"), 1 + 2j,
    [[1.0, 2.0], [3.0]], 10**30, -(10**30), True, np.array(["a"]), np.array([1 + 1j]),
    np.array([object()], dtype=object), float("nan"), -7, 99, 2.5, (), [], slice(None),
]

bad_value = st.sampled_from(BAD_VALUES)
small_int = st.integers(-4, 4)
argument = st.one_of(good_tensor(), bad_value, small_int, st.floats(-3, 3))


def numpy_entry_points() -> list[tuple[str, Callable]]:
    """The NumPy functions and ufuncs symgrad binds, applied to Tensors and inside traces."""
    from symgrad.ops.dispatch import NUMPY
    from symgrad.surface.numpy_binding import UFUNCS
    funcs = {f"{getattr(f, '__module__', None) or 'numpy'}.{f.__name__}": f
             for f in [*NUMPY, *UFUNCS] if hasattr(f, "__name__")}
    return sorted(funcs.items())


@st.composite
def good_array(draw: Any) -> np.ndarray:
    """A float64 NumPy array of a small shape, maybe with NaN/inf, maybe non-contiguous."""
    shape = draw(st.sampled_from(SHAPES))
    a = _array(shape, np.float64, draw(st.booleans()))
    return a.T if draw(st.booleans()) else a
