"""Tracing: run a function on `Tracer` values and record the ops it applies as a `Graph`.

`trace` is the one way a graph is traced, for `symgrad.trace` and for every compiled
transform: arguments are pytrees (nested tuples, lists and dicts), their array leaves become
graph inputs named after the argument (`w`, `params_b`), Python ints and bools stay static.
What tracing keeps per thread is in one place, `_state`: the graphs being traced (innermost
last) and the forward line that reverse mode's ops are attributed to.
"""

from __future__ import annotations

import ast
import inspect
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgrad.ir import Graph, Node, type_str
from symgrad.ops import Op
from symgrad.ops.dispatch import call_sites, user_line, user_site
from symgrad.ops.index import index_of, write_through
from symgrad.surface import Surface
from symgrad.tracing import pytree
from symgrad.tracing.constructors import stacking_constructors

_state = threading.local()  # graphs: the traces under way; site: see traced_from


@contextmanager
def traced_from(site: str | None) -> Iterator[None]:
    """Attribute the ops recorded inside this block to `site` (reverse mode: a gradient op
    comes from its forward op's source line)."""
    prev = getattr(_state, "site", None)
    _state.site = site
    try:
        yield
    finally:
        _state.site = prev


def active_graph() -> Graph | None:
    """The innermost graph being traced on this thread, if any."""
    graphs = getattr(_state, "graphs", None)
    return graphs[-1] if graphs else None


class TracerError(TypeError):
    """A traced value was used where a concrete one is needed (Python control flow)."""


class Tracer(Surface, face="numpy"):
    """A symbolic value: a node of the graph being traced, with its shape and dtype.

    Writes work as on an ndarray (`x[idx] = v`, `x += 1`): the tracer is pointed at a new
    node, x with the write in it. As in NumPy, a slice, `.T` or a reshape is a view: `_base`
    holds what it views (the value, and the view op with its params and index arrays), so a
    write into it is written through (`write_through`) to the value it views, and the views
    of a written value still in use (`_views`, held weakly) are derived again from its new
    node. A function's argument is a value like any other: writing into it changes the
    traced value, not the caller's array.
    """

    __slots__ = ("graph", "node", "_base", "_views", "__weakref__")
    _priority = 2

    def __init__(self, graph: Graph, node: Node, base: tuple | None = None) -> None:
        self.graph, self.node, self._base = graph, node, base
        self._views: weakref.WeakValueDictionary | None = None  # made at the first view
        if base is not None:
            parent = base[0]
            if parent._views is None:
                parent._views = weakref.WeakValueDictionary()
            parent._views[id(self)] = self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    @property
    def dtype(self) -> np.dtype:
        return self.node.dtype

    def __repr__(self) -> str:
        return f"Tracer<{type_str(self.shape, self.dtype)}>"

    def _constant(self, value: Any) -> Tracer:
        return value if isinstance(value, Tracer) else Tracer(self.graph, _node(self.graph, value))

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Tracer:
        graph = next(a.graph for a in args if isinstance(a, Tracer))
        nodes = tuple(_node(graph, a) for a in args)
        where = getattr(_state, "site", None) or user_site(stop=trace.__code__)
        node = graph.apply(op, nodes, params, where)
        if op.view and isinstance(args[0], Tracer) and not _copies(op, params, len(args), node):
            return Tracer(graph, node, (args[0], op, params, nodes[1:]))
        return Tracer(graph, node)

    def __copy__(self) -> Tracer:
        """A copy: the same node in a new tracer that views nothing."""
        return Tracer(self.graph, self.node)

    def __array_namespace__(self, api_version: str | None = None) -> Any:
        """A traced value is an array API array whose namespace is NumPy: NumPy's functions
        trace (array-API libraries such as SciPy then treat it as a writeable array)."""
        return np

    def __setitem__(self, key: Any, value: Any) -> None:
        """`x[idx] = v`, as NumPy writes it."""
        mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
        if isinstance(mask, Tracer) and mask.dtype == np.bool_:
            self._write(self._masked_write(mask, value))
        else:
            index, arrays = index_of(key, self)
            self._write(self._setitem(value, index, arrays))

    def _update(self, result: Any) -> Tracer:
        """`x op= y`: the result written into x, which keeps its shape and dtype (NumPy's
        same-kind casting)."""
        if result.shape != self.shape:
            raise ValueError(f"non-broadcastable output operand with shape {self.shape} doesn't "
                             f"match the broadcast shape {result.shape}")
        if result.dtype != self.dtype:
            if not np.can_cast(result.dtype, self.dtype, "same_kind"):
                raise TypeError(f"Cannot cast ufunc output from {result.dtype!r} to {self.dtype!r} "
                                "with casting rule 'same_kind'")
            result = result.astype(self.dtype)
        self._write(result)
        return self

    def _write(self, new: Tracer) -> None:
        """Make `new` this value's contents: through the values it views, and into their views."""
        root = self
        while root._base is not None:
            parent, op, params, nodes = root._base
            new = write_through(op, params, tuple(Tracer(self.graph, n) for n in nodes), parent, new)
            root = parent
        root._rebind(new.node)

    def _rebind(self, node: Node) -> None:
        """Point this value at `node`, and its views in use at what they view of it."""
        self.node = node
        for view in list(self._views.values()) if self._views else ():
            _, op, params, nodes = view._base
            view._rebind(self.graph.apply(op, (node, *nodes), params, user_site()))

    def _masked_write(self, mask: Tracer, value: Any) -> Tracer:
        """`x[mask] = v` for a traced boolean mask: np.where(mask, v, x), for a v of one element."""
        if mask.shape != self.shape[:mask.ndim]:
            raise IndexError(f"boolean index of shape {mask.shape} does not match the indexed "
                             f"value's shape {self.shape}")
        if np.size(value) != 1:
            raise TracerError(
                f"x[mask] = values with a traced mask{user_line()}: how many values it takes "
                "depends on the mask. Write x = np.where(mask, values_shaped_like_x, x).")
        mask = mask.reshape(mask.shape + (1,) * (self.ndim - mask.ndim))
        return np.where(mask, np.reshape(value, ()), self).astype(self.dtype)

    @classmethod
    def _composite(cls, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)

    # Python control flow needs concrete values: say where, and what to do instead ----
    def _concrete(self, what: str) -> TracerError:
        return TracerError(concrete_use(what))

    def __bool__(self) -> bool:
        raise self._concrete("bool()")

    def __float__(self) -> float:
        raise self._concrete("float()")

    def __int__(self) -> int:
        raise self._concrete("int()")

    def __index__(self) -> int:
        raise self._concrete("using it as an index")

    def item(self) -> Any:
        raise self._concrete(".item()")

    def tolist(self) -> Any:
        raise self._concrete(".tolist()")

    def nonzero(self) -> Any:
        raise self._concrete(".nonzero() (its shape depends on the values)")

    def put(self, *args: Any, **kwargs: Any) -> None:
        raise TracerError(f".put() writes into a traced value by flat index{user_line()}; write "
                          "into the flattened value instead: y = x.ravel().copy(); y[ind] = v")

    def resize(self, *args: Any, **kwargs: Any) -> None:
        raise TracerError(f".resize() changes a traced value in place{user_line()}; use np.resize(x, shape) "
                          "or x.reshape(shape)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._concrete("conversion to a NumPy array")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]


def _copies(op: Op, params: dict, nargs: int, node: Node) -> bool:
    """Whether NumPy's view op gives a copy here: advanced indexing does, and so does an
    element picked by ints (`m[t]` of a vector is a scalar, not a view of m)."""
    return op.name == "getitem" and (nargs > 1 or node.shape == () and all(
        kind == "int" for kind, *_ in params["index"]))


def _inplace_operator(name: str) -> Callable:
    def method(self: Tracer, other: Any) -> Any:
        result = getattr(self, f"__{name}__")(other)
        return result if result is NotImplemented else self._update(result)
    method.__name__ = f"__i{name}__"
    method.__doc__ = f"`x {name}= y` as NumPy does it: in place, through views (see `Tracer`)."
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    setattr(Tracer, f"__i{_name}__", _inplace_operator(_name))


def concrete_use(what: str) -> str:
    """Why a traced value cannot be `what` (a float, an array...) here, and what to do instead:
    the advice depends on who asked, a library converting its input, a NumPy array being
    assigned into, or the user's own control flow."""
    return _advice(what, *call_sites())


def _advice(what: str, site: str, library: str, assigning: bool = False) -> str:
    at = f" (at {site})" if site else ""
    if library.startswith("numpy."):  # NumPy dispatches on some arguments only
        return (f"{library} was given a traced value where NumPy does not look for one{at}: inside "
                "a list or tuple, or as the indices of np.take. np.stack a list of values first "
                "(np.sum(np.stack(values)), np.linalg.norm(np.stack([a, b]))); index with a[idx].")
    if library:
        return (f"{library} converted a traced value to a concrete one ({what}){at}. symgrad cannot "
                "trace through code that converts its input with np.asarray or float(): use the "
                "symgrad.* function, or NumPy and scipy.special ufuncs, which trace.")
    if assigning or _assigns_into_subscript(site):
        return (f"assigning a traced value into a NumPy array{at}: a NumPy array holds numbers, not "
                "traced values. Assign into a traced array instead (np.zeros_like(x), x.copy()), "
                "collect the values in a list and np.stack it, or compute the whole array with "
                "NumPy operations.")
    if what in ("conversion to a NumPy array", "using it as an index") and _reads_subscript(site):
        return (f"{what} of a traced value{at}, as when a NumPy array is indexed by one "
                "(np.eye(k)[y]): NumPy cannot index with a value not known while tracing. Build a "
                "one-hot by comparison, (y[:, None] == np.arange(k)), or index a traced array.")
    return (f"{what} on a traced value{at}: the value is not known while tracing. Use symgrad.where "
            "(or np.where) for a data-dependent choice, or run the function in eager mode.")


def _innermost(tb: Any) -> tuple[str, str]:
    """`call_sites` for the line a traceback ends at: NumPy raises from C, with no frame."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return call_sites(tb.tb_frame)


def _reads_subscript(site: str) -> bool:
    """Whether the source line in `site` indexes something (`a[y]`)."""
    text = site.split(": ", 1)[1] if ": " in site else ""
    try:
        tree = ast.parse(text.strip())
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Subscript) for node in ast.walk(tree))


def _assigns_into_subscript(site: str) -> bool:
    """Whether the source line in `site` (`file:line: text`) assigns into `a[...]`."""
    text = site.split(": ", 1)[1] if ": " in site else ""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    targets = [t for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AugAssign))
               for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
    return any(isinstance(t, ast.Subscript) for t in targets)


def _node(graph: Graph, value: Any) -> Node:
    if isinstance(value, Tracer):
        return value.node
    if isinstance(value, Surface):  # an eager Tensor closed over by the traced function
        return graph.const(np.asarray(value.data))
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if isinstance(value, complex) or kind == "c":
        raise _complex(f"the constant {value!r}")
    if isinstance(value, (str, bytes)) or value is None:
        kind = "U"
    if (kind or np.asarray(value).dtype.kind) not in "biuf":
        raise TypeError(f"{type(value).__name__} {value!r} used as a traced value{user_line()}: "
                        "expected an array or a number (only arrays, numbers and pytrees of them can be "
                        "traced or returned)")
    return graph.const(value)


def _complex(what: str) -> TypeError:
    return TypeError(f"{what} is complex{user_line()}: symgrad differentiates real-valued code. "
                     "Carry the real and imaginary parts as two real arrays.")


# ---------------------------------------------------------------- trace

@dataclass
class Traced:
    """The result of `trace`: the graph, the argument names, the output's structure, and
    each traced argument's leaf names (by position)."""

    graph: Graph
    fn: Callable
    arg_names: tuple[str, ...]
    out_tree: Any = None
    leaf_names: dict[int, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.graph)


def arg_names(fn: Callable, count: int) -> tuple[str, ...]:
    """Names for the first `count` positional arguments of `fn` (`arg0`... when unknown)."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:count]]
    names += [f"arg{i}" for i in range(len(names), count)]
    return tuple(names)


def is_static(value: Any) -> bool:
    """Python ints and bools are static: part of the cache key, not graph inputs."""
    return isinstance(value, (bool, int)) and not isinstance(value, np.generic)


def trace(fn: Callable, *args: Any, static_argnums: tuple[int, ...] = (),
          rule: Callable | None = None) -> Traced:
    """Trace `fn` on arguments shaped like `args` into a `Graph`.

    Array, Tensor and float leaves of the arguments become graph inputs (only their shape
    and dtype matter); Python ints and bools, and the arguments in `static_argnums`, are
    passed through as they are. `rule` (a transform of `fn`) is what runs on the tracers,
    `fn` itself by default.

    >>> symgrad.trace(lambda x: (x * 2).sum(), np.ones(3)).graph
    """
    graph = Graph()
    names = arg_names(fn, len(args))
    traced = Traced(graph, fn, names)
    values = []
    for i, (name, a) in enumerate(zip(names, args)):
        if i in static_argnums:
            values.append(a)
            continue
        leaves, tree = pytree.flatten(a)
        traced.leaf_names[i] = pytree.leaf_names(a, name)
        tracers = []
        for leaf_name, leaf in zip(traced.leaf_names[i], leaves):
            if is_static(leaf):
                tracers.append(leaf)
                continue
            array = leaf if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else np.asarray(leaf)
            if np.dtype(array.dtype).kind == "c":
                raise _complex(f"argument {leaf_name!r}")
            tracers.append(Tracer(graph, graph.input(leaf_name, tuple(array.shape), np.dtype(array.dtype))))
        values.append(pytree.unflatten(tree, tracers))
    graphs = _state.__dict__.setdefault("graphs", [])
    graphs.append(graph)
    try:
        with stacking_constructors(Tracer):
            out = (rule or fn)(*values)
    except ValueError as e:
        if "setting an array element with a sequence" not in str(e):
            raise
        raise TracerError(_advice("assignment", *_innermost(e.__traceback__), assigning=True)) from None
    finally:
        graphs.pop()
    out_leaves, traced.out_tree = pytree.flatten(out)
    graph.outputs = [_node(graph, o) for o in out_leaves]
    return traced
