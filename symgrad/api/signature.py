"""Cache keys of compiled functions, and why a new one was needed (`explain_retraces`).

A call's signature is each argument's structure, each array leaf's shape and dtype, each
static value, and the switches that change the generated code. A call seen before is looked
up by a cheaper key first (`symgrad.api.callpath.call_key`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symgrad.api.config import config
from symgrad.ir import type_str
from symgrad.surface import Surface
from symgrad.tracing import pytree
from symgrad.tracing.tracer import Traced, is_static

_NUMERIC = "biufc"  # the dtype kinds a leaf may have (complex ones are refused when traced)


def _leaf_key(leaf: Any) -> tuple:
    if is_static(leaf):
        return ("static", type(leaf).__name__, leaf)
    a = leaf if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else np.asarray(leaf)
    if np.dtype(a.dtype).kind not in _NUMERIC:
        raise TypeError(f"cannot trace a value of type {type(leaf).__name__}; pass arrays or numbers")
    return (tuple(a.shape), np.dtype(a.dtype).name)


def leaf_problem(leaf: Any) -> str | None:
    """What a pytree leaf is when it cannot be traced (`str`, `an array of dtype <U3`), or
    None for a number, a Tensor or an array of booleans, integers, floats or complex numbers."""
    if is_static(leaf) or isinstance(leaf, Surface):
        return None
    try:
        dtype = np.dtype(leaf.dtype) if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else \
            np.asarray(leaf).dtype
    except (TypeError, ValueError):
        return type(leaf).__name__
    if dtype.kind in _NUMERIC:
        return None
    return f"an array of dtype {dtype}" if isinstance(leaf, np.ndarray) else type(leaf).__name__


def bad_argument(who: str, names: Sequence[str], args: Sequence[Any], static: Sequence[int],
                 hint_static: bool) -> TypeError | None:
    """The error naming the first argument leaf that cannot be traced, with its key path
    (`grad(f): argument 'd' leaf ['b'] is str, expected an array or a number`), or None."""
    for i, a in enumerate(args):
        if i in static:
            continue
        for path, leaf in pytree.leaf_paths(a):
            problem = leaf_problem(leaf)
            if problem is None:
                continue
            where = f"argument {names[i]!r}" + (f" leaf {path}" if path else "")
            hint = (f"; pass static_argnums={i} if it is a setting, not data"
                    if hint_static and not path and isinstance(leaf, str) else "")
            return TypeError(f"{who}: {where} is {problem}, expected an array or a number{hint}")
    return None


def signature(args: Sequence[Any], static: Sequence[int] = ()) -> tuple:
    """The cache key of a call: each array's shape and dtype, each static value, the structure."""
    key = []
    for i, a in enumerate(args):
        if i in static:
            key.append(("static_arg", _hashable(a)))
            continue
        leaves, tree = pytree.flatten(a)
        key.append((tree, tuple(_leaf_key(leaf) for leaf in leaves)))
    return tuple(key) + (("debug_nans", config.debug_nans),)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"static argument {value!r} must be hashable") from None
    return value


def describe(traced: Traced) -> str:
    """`loss(x: f32[5], y: f32[3])`: the traced function and its input types."""
    graph = traced.graph
    types = {n.name: type_str(n.shape, n.dtype) for n in graph.inputs}
    parts = [f"{name}: {types[name]}" if name in types else name for name in traced.arg_names]
    return f"{getattr(traced.fn, '__name__', 'fn')}({', '.join(parts)})"


def distance(a: tuple, b: tuple) -> int:
    """How many shapes, dtypes and static values differ between two signatures."""
    diff = 0
    for x, y in zip(a, b):
        if x == y:
            continue
        if x[0] in ("static_arg", "debug_nans") or x[0] != y[0] or len(x[1]) != len(y[1]):
            diff += 1
            continue
        diff += sum((la[0] != lb[0]) + (la[-1] != lb[-1]) for la, lb in zip(x[1], y[1]))
    return diff


def why(old: tuple, new: tuple, names: Sequence[str]) -> str:
    """Which argument's structure, shape, dtype or static value differs between two keys."""
    reasons = []
    for i, (a, b) in enumerate(zip(old, new)):
        if a == b:
            continue
        if a[0] == "debug_nans":
            reasons.append("debug_nans was switched")
            continue
        name = names[i] if i < len(names) else f"arg{i}"
        if a[0] == "static_arg":
            reasons.append(f"static argument '{name}' changed from {a[1]!r} to {b[1]!r}")
        elif a[0] != b[0] or len(a[1]) != len(b[1]):
            reasons.append(f"argument '{name}' changed structure")
        else:
            for la, lb in zip(a[1], b[1]):
                if la == lb:
                    continue
                if "static" in (la[0], lb[0]):
                    reasons.append(f"argument '{name}' changed static value {la[-1]!r} -> {lb[-1]!r}")
                    continue
                if la[0] != lb[0]:
                    reasons.append(f"argument '{name}' changed shape {la[0]} -> {lb[0]}")
                if la[1] != lb[1]:
                    reasons.append(f"argument '{name}' changed dtype {la[1]} -> {lb[1]}")
    return "; ".join(dict.fromkeys(reasons)) or "a new signature"
