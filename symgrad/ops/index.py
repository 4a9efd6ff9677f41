"""Indexing primitives: `getitem`, its adjoint `scatter_add`, and `setitem` (item assignment).

An index is kept as a hashable structure in the op's params: ("int", k), ("slice", start,
stop, step), ("new",) for None, ("...",), and ("arr", j) for the j-th integer array, which
is an input of the op (after the indexed value). Boolean masks become integer arrays
(`nonzero`) before they get here. `index_of` turns a Python index into that structure.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from symgrad.ops import batching, kernels
from symgrad.ops.core import OPS, defop, ndim_of, shape_of
from symgrad.ops.dispatch import Value, apply, apply_one, method, user_line

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


def numpy_key(index: Index, arrays: tuple) -> tuple:
    """`key(index, arrays)`, kept per index without arrays (a model slices the same way
    each step): a dict lookup, not a tuple built item by item, per call."""
    if arrays:
        return key(index, arrays)
    found = _KEYS.get(index)
    if found is None:
        if len(_KEYS) > 4096:
            _KEYS.clear()
        found = _KEYS[index] = key(index, ())
    return found


_KEYS: dict[Index, tuple] = {}  # index without arrays -> its NumPy key


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


def index_of(key: Any, x: Value) -> tuple[Index, tuple]:
    """(structure, integer arrays) for the Python index `key` of `x`."""
    items = key if isinstance(key, tuple) else (key,)
    index: list[tuple] = []
    for item in items:  # the usual index, of ints, slices, None and `...`, in one pass
        kind = type(item)
        if kind is slice:
            start, stop, step = item.start, item.stop, item.step
            if not ((start is None or type(start) is int) and (stop is None or type(stop) is int)
                    and (step is None or type(step) is int)):
                start, stop, step = _bound(start), _bound(stop), _bound(step)
            index.append(("slice", start, stop, step))
        elif kind is int:
            index.append(("int", item))
        elif item is None:
            index.append(_NEW)
        elif item is Ellipsis:
            index.append(_ELLIPSIS)
        else:  # an array, a mask, a NumPy integer, a bool: the general pass
            return _index_of(items, x)
    return tuple(index), ()


_NEW, _ELLIPSIS = ("new",), ("...",)


def _index_of(items: tuple, x: Value) -> tuple[Index, tuple]:
    """`index_of` for an index with arrays, masks or NumPy integers among its items."""
    index: list[tuple] = []
    arrays: list[Any] = []
    dim = 0  # the dim of x the next item indexes
    for item in items:
        if item is None:
            index.append(_NEW)
        elif item is Ellipsis:
            index.append(_ELLIPSIS)
            dim += ndim_of(x) - sum(_dims_taken(k) for k in items)
        elif type(item) is slice:
            index.append(("slice", _bound(item.start), _bound(item.stop), _bound(item.step)))
            dim += 1
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            index.append(("int", int(item)))
            dim += 1
        else:
            taken = _dims_taken(item)
            _check_mask(item, shape_of(x), dim, taken)
            for arr in _index_arrays(item):
                index.append(("arr", len(arrays)))
                arrays.append(arr)
            dim += taken
    return tuple(index), tuple(arrays)


def _bound(v: Any) -> int | None:
    """A slice's start, stop or step as an int: 1.5 is a TypeError, as in NumPy and PyTorch."""
    if v is None or type(v) is int:
        return v
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("slice indices must be integers or None or have an __index__ method") from None


def _is_mask(item: Any) -> bool:
    return np.result_type(item) == np.bool_ if isinstance(item, (Value, np.ndarray)) else \
        isinstance(item, list) and np.asarray(item).dtype == np.bool_


def _dims_taken(item: Any) -> int:
    """How many dims of the indexed value an index item consumes (a mask: its ndim)."""
    if item is None or item is Ellipsis:
        return 0
    return len(np.shape(item)) if _is_mask(item) else 1


def _check_mask(item: Any, shape: tuple, dim: int, taken: int) -> None:
    """A boolean mask must have the shape of the dims it covers (IndexError, as in PyTorch)."""
    if not _is_mask(item):
        return
    mask = tuple(np.shape(item))
    covered = shape[dim:dim + taken]
    for k, (m, n) in enumerate(zip(mask, covered)):
        if m != n:
            raise IndexError(f"The shape of the mask {list(mask)} at index {k} does not match the "
                             f"shape of the indexed tensor {list(shape)} at index {dim + k}")


def _index_arrays(item: Any) -> list[Any]:
    """An array index as integer arrays: a boolean mask becomes one array per dim it covers."""
    if isinstance(item, Value):
        if item.dtype != np.bool_:
            return [item]
        if type(item) is not Value._default:
            raise TypeError(
                f"boolean mask indexing gives a shape that depends on the values{user_line()}, so "
                "it cannot be traced; use np.where(mask, x, 0) instead (or x[mask] = v, which "
                "traces)")
        item = np.asarray(item)
    array = np.asarray(item)
    if array.dtype == np.bool_:
        return list(np.nonzero(array))
    if array.dtype.kind not in "iubf":  # a string, a dict, an object: not an index at all
        # (PyTorch: a string is a TypeError, as tensor("a") is; anything else an IndexError)
        error = TypeError if array.dtype.kind in "US" else IndexError
        raise error(f"only integers, slices (`:`), ellipsis (`...`), None and integer or bool "
                    f"arrays are valid indices (got {type(item).__name__} {item!r})")
    if array.dtype.kind not in "iu":
        raise IndexError(
            "tensors used as indices must be long, int, byte or bool tensors, got "
            f"{array.dtype}")
    return [array]


# ---------------------------------------------------------------- batching: a leading slice

def _with_batch(op_name: str, index: Index) -> Index:
    kinds = [k[0] for k in index]
    advanced = [i for i, k in enumerate(kinds) if k in ("arr", "int")]
    if "arr" in kinds and advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise batching.NotBatchable(f"{op_name} with separated array indices")
    return (("slice", None, None, None),) + tuple(index)


def _plain_arrays(batched: tuple[bool, ...], first: int) -> None:
    if any(batched[first:]):
        raise batching.NotBatchable("batched index arrays")


def _getitem_batch(op, args, batched, params, size):
    _plain_arrays(batched, 1)
    index = _with_batch(op.name, params["index"])
    return apply(op, batching.full(args[0], batched[0], size), *args[1:], index=index)


def _scatter_batch(op, args, batched, params, size):
    _plain_arrays(batched, 1)
    index = _with_batch(op.name, params["index"])
    return apply(op, batching.full(args[0], batched[0], size), *args[1:],
                 shape=(size,) + tuple(params["shape"]), index=index)


def _setitem_batch(op, args, batched, params, size):
    x, v, *arrays = args
    _plain_arrays(batched, 2)
    index = _with_batch(op.name, params["index"])
    shapes = [batching.example_shape(a, b) for a, b in zip(args, batched)]
    region = OPS["getitem"].out_shape((shapes[0], *shapes[2:]), {"index": params["index"]})
    return apply(op, batching.full(x, batched[0], size), batching.lifted(v, batched[1], len(region), size),
                 *arrays, index=index)


# ---------------------------------------------------------------- the ops

_STEP_NAMES = {"int": "SelectBackward0", "new": "UnsqueezeBackward0", "slice": "SliceBackward0"}


def _getitem_name(inputs: tuple, params: dict) -> str:
    """PyTorch's grad_fn for x[key], worked out once per index (see `_name_of`)."""
    index = params["index"]
    name = _NAMES.get(index)
    if name is None:
        if len(_NAMES) > 4096:
            _NAMES.clear()
        name = _NAMES[index] = _name_of(index)
    return name


_NAMES: dict[Index, str] = {}  # index -> its grad_fn's name


def _name_of(index: Index) -> str:
    """IndexBackward0 with index arrays; basic indexing is named after its last step that
    does something (t[:, 0] selects, t[0, :2] slices)."""
    if any(item[0] == "arr" for item in index):
        return "IndexBackward0"
    for item in reversed(index):
        if item[0] in ("int", "new") or item[0] == "slice" and item[1:] != (None, None, None):
            return _STEP_NAMES[item[0]]
    return "SliceBackward0" if index == (("slice", None, None, None),) else "AliasBackward0"


GETITEM = defop(
    "getitem", lambda names, p, lib: f"{names[0]}[{key_code(p['index'], names[1:])}]", view=True,
    forward=lambda x, *arrays, index: x[numpy_key(index, arrays)], shape=_getitem_shape,
    dtype=lambda inputs, params: np.result_type(inputs[0]), grad_fn=_getitem_name, linear=True,
    variadic=True, batch=_getitem_batch,
    vjps=(lambda ct, ans, x, *arrays, argnum, index: ct._scatter(x.shape, index, arrays), None),
)
SCATTER_ADD = defop(
    "scatter_add",
    lambda names, p, lib: f"{lib.kernels.scatter_add}({names[0]}, {p['shape']!r}, "
                     f"{key_code(p['index'], names[1:], as_tuple=True)})",
    forward=lambda ct, *arrays, shape, index: kernels.scatter_add(ct, shape, numpy_key(index, arrays)),
    shape=lambda ct, *arrays, shape, index: shape,
    dtype=lambda inputs, params: np.result_type(inputs[0]),
    linear=True, variadic=True, kernels=("scatter_add",), batch=_scatter_batch,
    vjps=(lambda ct, ans, g, *arrays, argnum, shape, index: ct._getitem(index, arrays), None),
)
SETITEM = defop(
    "setitem",
    lambda names, p, lib: f"{lib.kernels.setitem}({names[0]}, {names[1]}, "
                     f"{key_code(p['index'], names[2:], as_tuple=True)})",
    forward=lambda x, v, *arrays, index: kernels.setitem(x, v, numpy_key(index, arrays)),
    shape=lambda x, v, *arrays, index: x, dtype=lambda inputs, params: np.result_type(inputs[0]),
    grad_fn="CopySlices", variadic=True, kernels=("setitem",), batch=_setitem_batch,
    vjps=(
        lambda ct, ans, x, v, *arrays, argnum, index: ct._setitem(0.0, index, arrays),
        lambda ct, ans, x, v, *arrays, argnum, index: ct._getitem(index, arrays),
        None,
    ),
)


def _index_add_code(kernel: str) -> Any:
    return lambda names, p, lib: (f"{getattr(lib.kernels, kernel)}({names[0]}, {names[1]}, "
                             f"{key_code(p['index'], names[2:], as_tuple=True)})")


# y + scatter_add(ct): the simplifier's merge of a scatter into a value of the full shape
defop(
    "index_add", _index_add_code("index_add"), inplace=_index_add_code("index_add_"),
    forward=lambda base, ct, *arrays, index: kernels.index_add(base, ct, numpy_key(index, arrays)),
    shape=lambda base, ct, *arrays, index: base,
    dtype=lambda inputs, params: np.result_type(inputs[0], inputs[1]),
    kernels=("index_add", "index_add_"), linear=True, variadic=True,
    vjps=(
        lambda ct, ans, base, g, *arrays, argnum, index: ct,
        lambda ct, ans, base, g, *arrays, argnum, index: ct._getitem(index, arrays),
        None,
    ),
)


@method("__getitem__")
def getitem(self, key):
    index, arrays = index_of(key, self)
    if arrays:
        return apply(GETITEM, self, *arrays, index=index)
    return apply_one(GETITEM, self, {"index": index})


@method("_getitem")
def _getitem(self, index, arrays):
    return apply(GETITEM, self, *arrays, index=index)


@method("_scatter")
def _scatter(self, shape, index, arrays):
    """Zeros of `shape` with self added at the index: getitem's adjoint."""
    return apply(SCATTER_ADD, self, *arrays, shape=tuple(shape), index=index)


@method("_setitem")
def _setitem(self, value, index, arrays):
    """self with `value` written at the index, as a new value."""
    return apply(SETITEM, self, value, *arrays, index=index)


# ---------------------------------------------------------------- writing through a view

def write_through(op: Any, params: dict, arrays: tuple, base: Value, new: Value) -> Value:
    """`base` once `new` is written into its view `op(base, *arrays, **params)`: what a write
    into a NumPy view does to the array it views (eager mode and tracing share this rule)."""
    if op.name == "getitem":
        return apply(SETITEM, base, new, *arrays, index=params["index"])
    if op.name == "transpose":
        return apply(OPS["transpose"], new, axes=tuple(np.argsort(params["axes"]).tolist()))
    if op.name == "reshape":  # a reshape covers the whole base
        return apply(OPS["reshape"], new, shape=tuple(base.shape))
    if op.name == "broadcast_to":
        raise ValueError("assignment destination is read-only (a broadcast view)")
    return new  # alias, stop_gradient: the same elements
