"""Indexing primitives: `getitem`, its adjoint `scatter_add`, and `setitem` (item assignment).

An index is kept as a hashable structure in the op's params: ("int", k), ("slice", start,
stop, step), ("new",) for None, ("...",), and ("arr", j) for the j-th integer array, which
is an input of the op (after the indexed value). Boolean masks become integer arrays
(`nonzero`) before they get here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symgrad.ops import kernels
from symgrad.ops.core import defop

Index = tuple[tuple, ...]


def key(index: Index, arrays: tuple) -> tuple:
    """The NumPy index that `index` describes, given its integer arrays."""
    out: list[Any] = []
    for kind, *rest in index:
        if kind == "int":
            out.append(rest[0])
        elif kind == "slice":
            out.append(slice(*rest))
        elif kind == "new":
            out.append(None)
        elif kind == "...":
            out.append(Ellipsis)
        else:
            out.append(arrays[rest[0]])
    return tuple(out)


def key_code(index: Index, names: list[str], as_tuple: bool = False) -> str:
    """Source text of the index: `1, 2:5, None, idx` (or a tuple expression with `slice(...)`)."""
    parts = []
    for kind, *rest in index:
        if kind == "int":
            parts.append(repr(rest[0]))
        elif kind == "slice":
            if as_tuple:
                parts.append(f"slice({rest[0]!r}, {rest[1]!r}, {rest[2]!r})")
            else:
                text = ":".join("" if v is None else repr(v) for v in rest)
                parts.append(text[:-1] if text.endswith(":") else text)
        elif kind == "new":
            parts.append("None")
        elif kind == "...":
            parts.append("Ellipsis" if as_tuple else "...")
        else:
            parts.append(names[rest[0]])
    if as_tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return ", ".join(parts) if parts else "()"


def _probe(shape: tuple, arrays: tuple) -> np.ndarray:
    """A zero-cost array of `shape` to index, and index arrays of the right shapes."""
    return np.broadcast_to(np.zeros((), np.int8), shape), tuple(np.zeros(a, np.intp) for a in arrays)


def _getitem_shape(x: tuple, *arrays: tuple, index: Index) -> tuple:
    probe, zeros = _probe(x, arrays)
    return probe[key(index, zeros)].shape


defop(
    "getitem", lambda names, p: f"{names[0]}[{key_code(p['index'], names[1:])}]", view=True,
    forward=lambda x, *arrays, index: x[key(index, arrays)], shape=_getitem_shape,
    dtype=lambda inputs, params: np.result_type(inputs[0]), grad_fn="IndexBackward0", linear=True,
    variadic=True,
    vjps=(lambda ct, ans, x, *arrays, argnum, index: ct._scatter(x.shape, index, arrays), None),
)
defop(
    "scatter_add",
    lambda names, p: f"scatter_add({names[0]}, {p['shape']!r}, "
                     f"{key_code(p['index'], names[1:], as_tuple=True)})",
    forward=lambda ct, *arrays, shape, index: kernels.scatter_add(ct, shape, key(index, arrays)),
    shape=lambda ct, *arrays, shape, index: shape,
    dtype=lambda inputs, params: np.result_type(inputs[0]),
    linear=True, variadic=True, kernels=("scatter_add",),
    vjps=(lambda ct, ans, g, *arrays, argnum, shape, index: ct._getitem(index, arrays), None),
)
defop(
    "setitem",
    lambda names, p: f"setitem({names[0]}, {names[1]}, "
                     f"{key_code(p['index'], names[2:], as_tuple=True)})",
    forward=lambda x, v, *arrays, index: kernels.setitem(x, v, key(index, arrays)),
    shape=lambda x, v, *arrays, index: x, dtype=lambda inputs, params: np.result_type(inputs[0]),
    grad_fn="CopySlices", variadic=True, kernels=("setitem",),
    vjps=(
        lambda ct, ans, x, v, *arrays, argnum, index: ct._setitem(0.0, index, arrays),
        lambda ct, ans, x, v, *arrays, argnum, index: ct._getitem(index, arrays),
        None,
    ),
)


def _index_add_code(kernel: str) -> Any:
    return lambda names, p: (f"{kernel}({names[0]}, {names[1]}, "
                             f"{key_code(p['index'], names[2:], as_tuple=True)})")


# y + scatter_add(ct): the simplifier's merge of a scatter into a value of the full shape
defop(
    "index_add", _index_add_code("index_add"), inplace=_index_add_code("index_add_"),
    forward=lambda base, ct, *arrays, index: kernels.index_add(base, ct, key(index, arrays)),
    shape=lambda base, ct, *arrays, index: base,
    dtype=lambda inputs, params: np.result_type(inputs[0], inputs[1]),
    kernels=("index_add", "index_add_"), linear=True, variadic=True,
    vjps=(
        lambda ct, ans, base, g, *arrays, argnum, index: ct,
        lambda ct, ans, base, g, *arrays, argnum, index: ct._getitem(index, arrays),
        None,
    ),
)
