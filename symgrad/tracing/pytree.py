"""Nested tuples, lists and dicts of arrays ("pytrees"): flattened to leaves and rebuilt."""

from __future__ import annotations

from typing import Any

Treedef = Any  # ("leaf",) | ("tuple"|"list", children) | ("dict", keys, children)


def flatten(tree: Any) -> tuple[list[Any], Treedef]:
    """The leaves of `tree` in order, and its structure. Dict keys are taken in sorted order."""
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for child in tree:
            sub, d = flatten(child)
            leaves += sub
            defs.append(d)
        return leaves, (type(tree).__name__, tuple(defs))
    if isinstance(tree, dict):
        keys = sorted(tree, key=repr)
        leaves, defs = [], []
        for k in keys:
            sub, d = flatten(tree[k])
            leaves += sub
            defs.append(d)
        return leaves, ("dict", tuple(keys), tuple(defs))
    return [tree], ("leaf",)


def unflatten(treedef: Treedef, leaves: list[Any]) -> Any:
    """Rebuild a tree of structure `treedef` from `leaves`."""
    it = iter(leaves)
    out = _build(treedef, it)
    return out


def _build(treedef: Treedef, it: Any) -> Any:
    kind = treedef[0]
    if kind == "leaf":
        return next(it)
    if kind == "dict":
        return {k: _build(d, it) for k, d in zip(treedef[1], treedef[2])}
    children = [_build(d, it) for d in treedef[1]]
    return tuple(children) if kind == "tuple" else children


def leaf_names(tree: Any, prefix: str) -> list[str]:
    """A readable name per leaf: `w`, `params_0`, `params_b` (for generated code and messages)."""
    if isinstance(tree, (tuple, list)):
        return [n for i, c in enumerate(tree) for n in leaf_names(c, f"{prefix}_{i}")]
    if isinstance(tree, dict):
        return [n for k in sorted(tree, key=repr) for n in leaf_names(tree[k], f"{prefix}_{k}")]
    return [prefix]
