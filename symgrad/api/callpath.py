"""The call path of a compiled function: generated callers, found without walking pytrees.

`signature` (the cache key of any call) walks the pytrees, normalises every leaf and names
its dtype: some 10-50 µs for a dict of parameters, more than the generated code of a small
function takes. A call like one before needs none of it:

* `caller` generates, once per kind of call, a function of the arguments that checks them
  (exact types, lengths, dict keys, shapes, dtypes, static values, the `debug_nans` switch)
  with straight-line code, passes their leaves to the generated code in `pytree.flatten`
  order and rebuilds the output structure, or returns MISS for other arguments. A compiled
  function tries the caller it used last first: a repeated call costs that check alone.
* `call_key` finds the caller of other calls seen before: a structural fingerprint built
  with one type lookup per node (an ndarray's shape and dtype, a Python float's type, a static
  value, a container's type, a dict's keys in insertion order, its children's keys). Calls
  with equal keys have equal signatures (the key may be finer: dicts with their keys in
  another order get keys, and callers, of their own).

Anything else (eager Tensors, tracers, other leaf types, subclasses of containers) has no
call key and takes the full path (`Transform.__call__`).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy import ndarray

from symgrad.api.config import config
from symgrad.tracing import pytree

_ARRAY, _FLOAT, _STATIC, _SEQ, _DICT, _NONE, _SCALAR = range(7)
# how each type is keyed; a type not in the table is classified once by `_kind`, None if the
# call path does not take it
_KINDS: dict[type, int | None] = {np.ndarray: _ARRAY, float: _FLOAT, int: _STATIC, bool: _STATIC,
                                  tuple: _SEQ, list: _SEQ, dict: _DICT, OrderedDict: _DICT,
                                  type(None): _NONE}


class _NoKey(Exception):
    """A value the call path does not take: the call goes the full way."""


def _kind(t: type) -> int | None:
    kind = _KINDS.get(t, -1)
    if kind == -1:
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            kind = _SEQ  # a namedtuple
        elif issubclass(t, np.generic) and np.dtype(t).kind in "biuf":
            kind = _SCALAR  # a NumPy scalar: an array leaf of its dtype
        else:
            kind = None
        _KINDS[t] = kind
    return kind


def _key(a: Any) -> Any:
    """The fingerprint of one value (see the module doc); raises _NoKey. Array children are
    keyed inline: a call per leaf is a third of the cost."""
    t = type(a)
    if t is ndarray:
        return a.shape, a.dtype
    kind = _KINDS.get(t, -1)
    if kind == -1:
        kind = _kind(t)
    if kind == _SEQ:
        return (t, *[(c.shape, c.dtype) if type(c) is ndarray else _key(c) for c in a])
    if kind == _DICT:  # its keys, then its values' keys: their number tells them apart
        return (t, *a, *[(c.shape, c.dtype) if type(c) is ndarray else _key(c) for c in a.values()])
    if kind == _FLOAT:
        return float
    if kind == _STATIC:
        return t, a
    if kind == _NONE:
        return None
    if kind == _SCALAR:
        return (t,)
    raise _NoKey


def call_key(args: Sequence[Any], static: Sequence[int], debug_nans: bool) -> tuple | None:
    """The call key of `args` (static argument positions `static`), or None where the call
    must go the full way. Unhashable static arguments have none (the full path says why)."""
    try:
        if static:
            key = [(type(a), a) if i in static else _key(a) for i, a in enumerate(args)]
            hash(tuple(key))
        else:
            key = [(a.shape, a.dtype) if type(a) is ndarray else _key(a) for a in args]
    except (_NoKey, TypeError):
        return None
    key.append(debug_nans)
    return tuple(key)


MISS = object()  # what a caller returns for arguments it was not made for


def caller(fn: Callable[..., Any], args: Sequence[Any], static: Sequence[int], out_tree: Any,
           debug_nans: bool, wrap: Callable[[Any], Any] = np.asarray) -> Callable[..., Any]:
    """A function of arguments keyed like `args` that runs `fn` (generated code) on their
    traced leaves, in `pytree.flatten` order, and rebuilds `out_tree` from its results
    (each wrapped by `wrap`). It checks the arguments first (exact types, lengths, shapes,
    dtypes and static values, the `debug_nans` switch) and returns MISS for any others,
    so the last one used can be tried before the key is made. Generated as Python source:
    straight-line checks and indexing, no walk."""
    names: dict[str, Any] = {"fn": fn, "wrap": wrap, "asarray": np.asarray, "ndarray": ndarray,
                             "MISS": MISS, "config": config}
    fresh = (f"k{i}" for i in itertools.count())
    variables = (f"v{i}" for i in itertools.count())
    body: list[str] = []

    def constant(value: Any) -> str:
        name = next(fresh)
        names[name] = value
        return name

    def fail_unless(test: str) -> None:
        body.append(f"    if not ({test}):\n        return MISS")

    def leaves(tree: Any, expr: str) -> list[str]:
        t = type(tree)
        kind = _kind(t)
        if kind == _ARRAY:
            dtype = constant(tree.dtype)
            fail_unless(f"type({expr}) is ndarray and {expr}.shape == {tree.shape!r} and "
                        f"({expr}.dtype is {dtype} or {expr}.dtype == {dtype})")
            return [expr]
        if kind in (_FLOAT, _SCALAR):  # as the full path passes them: 0-d arrays
            fail_unless(f"type({expr}) is {constant(t)}")
            return [f"asarray({expr})"]
        if kind == _STATIC:
            fail_unless(f"type({expr}) is {constant(t)} and {expr} == {tree!r}")
            return []
        if kind == _NONE:
            fail_unless(f"{expr} is None")
            return []
        fail_unless(f"type({expr}) is {constant(t)} and len({expr}) == {len(tree)}")
        out = []
        items = enumerate(tree) if kind == _SEQ else ((k, tree[k]) for k in pytree.dict_keys(tree))
        for k, child in items:
            var = next(variables)
            index = f"[{k}]" if kind == _SEQ else f".get({constant(k)}, MISS)"
            body.append(f"    {var} = {expr}{index}")
            out += leaves(child, var)
        return out
    params = [f"a{i}" for i in range(len(args))]
    inputs = []
    for i, a in enumerate(args):
        if i in static:
            fail_unless(f"type(a{i}) is {constant(type(a))} and a{i} == {constant(a)}")
        else:
            inputs += leaves(a, params[i])
    fail_unless(f"config.debug_nans is {debug_nans}")
    counter = itertools.count()
    out = _rebuild(out_tree, lambda: f"wrap(o[{next(counter)}])", constant)
    if next(counter) == 1:  # the generated function returns one value bare, several as a tuple
        out = out.replace("wrap(o[0])", "wrap(o)")
    source = "\n".join([f"def call({', '.join(params)}):", *body,
                        f"    o = fn({', '.join(inputs)})", f"    return {out}", ""])
    exec(compile(source, "<symgrad call path>", "exec"), names)  # noqa: S102 - our own source
    return names["call"]


def _rebuild(treedef: Any, leaf: Callable[[], str], constant: Callable[[Any], str]) -> str:
    """An expression building a tree of structure `treedef` (as `pytree.unflatten` does)."""
    kind = treedef[0]
    if kind == "leaf":
        return leaf()
    if kind == "none":
        return "None"
    if kind == "dict":
        _, cls, keys, defs = treedef
        items = [(constant(k), _rebuild(d, leaf, constant)) for k, d in zip(keys, defs)]
        if cls is dict:  # a display keeps the keys' order, as dict(items) does
            return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
        pairs = ", ".join(f"({k}, {v})" for k, v in items)
        return f"{constant(cls if cls is OrderedDict else dict)}([{pairs}])"
    _, cls, defs = treedef
    children = [_rebuild(d, leaf, constant) for d in defs]
    if cls is tuple:
        return "(" + "".join(c + ", " for c in children) + ")"
    if cls is list:
        return "[" + ", ".join(children) + "]"
    if hasattr(cls, "_fields"):
        return f"{constant(cls)}({', '.join(children)})"
    return f"{constant(cls)}([{', '.join(children)}])"
