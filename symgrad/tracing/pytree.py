"""Nested tuples, lists and dicts of arrays ("pytrees"): flattened to leaves and rebuilt.

As in JAX, namedtuples come back as the same namedtuple, an OrderedDict keeps its order
(a plain dict's keys are taken in sorted order) and None is a tree with no leaves.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# ("leaf",) | ("none",) | ("seq", type, children) | ("dict", type, keys, children)
Treedef = Any
LEAF = ("leaf",)


def flatten(tree: Any) -> tuple[list[Any], Treedef]:
    """The leaves of `tree` in order, and its structure (hashable: it keys the caches)."""
    if tree is None:
        return [], ("none",)
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for child in tree:
            sub, d = flatten(child)
            leaves += sub
            defs.append(d)
        return leaves, ("seq", type(tree), tuple(defs))
    if isinstance(tree, dict):
        keys = dict_keys(tree)
        leaves, defs = [], []
        for k in keys:
            sub, d = flatten(tree[k])
            leaves += sub
            defs.append(d)
        return leaves, ("dict", type(tree), tuple(keys), tuple(defs))
    return [tree], LEAF


def dict_keys(tree: dict) -> list[Any]:
    """A dict's keys in flattening order: an OrderedDict's own, a dict's sorted by repr."""
    return list(tree) if isinstance(tree, OrderedDict) else sorted(tree, key=repr)


def unflatten(treedef: Treedef, leaves: list[Any]) -> Any:
    """Rebuild a tree of structure `treedef` from `leaves`."""
    return _build(treedef, iter(leaves))


def _build(treedef: Treedef, it: Any) -> Any:
    kind = treedef[0]
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    if kind == "dict":
        _, cls, keys, defs = treedef
        items = [(k, _build(d, it)) for k, d in zip(keys, defs)]
        return cls(items) if cls in (dict, OrderedDict) else dict(items)
    _, cls, defs = treedef
    children = [_build(d, it) for d in defs]
    if cls in (tuple, list):
        return cls(children)
    return cls(*children) if hasattr(cls, "_fields") else cls(children)  # a namedtuple, a subclass


def is_tuple_of_leaves(treedef: Treedef) -> bool:
    """Whether the structure is a plain tuple of arrays (the common multi-output case)."""
    return treedef[0] == "seq" and treedef[1] is tuple and all(d == LEAF for d in treedef[2])


def leaf_paths(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Each leaf with its path, written as JAX writes key paths (`['b'][0]`, `.w` for a
    namedtuple field), in `flatten` order: error messages say which leaf is wrong."""
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        fields = getattr(tree, "_fields", None)
        keys = [f".{f}" for f in fields] if fields else [f"[{i}]" for i in range(len(tree))]
        return [p for k, c in zip(keys, tree) for p in leaf_paths(c, prefix + k)]
    if isinstance(tree, dict):
        return [p for k in dict_keys(tree) for p in leaf_paths(tree[k], f"{prefix}[{k!r}]")]
    return [(prefix, tree)]


def leaf_names(tree: Any, prefix: str) -> list[str]:
    """A readable name per leaf: `w`, `params_0`, `params_b` (for generated code and messages)."""
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        fields = getattr(tree, "_fields", range(len(tree)))
        return [n for f, c in zip(fields, tree) for n in leaf_names(c, f"{prefix}_{f}")]
    if isinstance(tree, dict):
        return [n for k in dict_keys(tree) for n in leaf_names(tree[k], f"{prefix}_{k}")]
    return [prefix]
