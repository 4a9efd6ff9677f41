"""The compiled face: `compile`, `grad`, `value_and_grad`, `vjp`, `jacobian`, `hessian`.

Each is a `Transform`: a rule that, given tracers for a function's inputs, adds its
outputs (gradients, Jacobian rows...) to the graph being traced. Called on concrete
arguments, a transform traces a fresh graph once per signature, simplifies it, generates
NumPy source and caches the callable; called on tracers (inside another transform), it
adds to the outer trace instead, so `grad(grad(f))` and `hessian` are reverse mode on
gradient graphs.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgrad import codegen
from symgrad.autodiff.batching import jacobian_rows
from symgrad.autodiff.reverse import backprop
from symgrad.ir import Graph, type_str
from symgrad.ops import OPS, apply
from symgrad.simplify import PassStat, simplify, stabilize
from symgrad.surface import Surface
from symgrad.tracing import pytree
from symgrad.tracing.tracer import Traced, Tracer, arg_names, is_static

log = logging.getLogger("symgrad")
CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "currsize"])
_config = {"explain_retraces": os.environ.get("SYMGRAD_EXPLAIN_RETRACES", "") not in ("", "0"),
           "debug_nans": os.environ.get("SYMGRAD_DEBUG_NANS", "") not in ("", "0")}


def explain_retraces(flag: bool = True) -> None:
    """Log (logger "symgrad", level WARNING) why each retrace of a compiled function happens.

    Also on with the environment variable SYMGRAD_EXPLAIN_RETRACES=1.
    """
    _config["explain_retraces"] = bool(flag)


def debug_nans(flag: bool = True) -> None:
    """Make compiled functions raise FloatingPointError at the first op that produces a NaN,
    naming the op and the source line it was traced from (also SYMGRAD_DEBUG_NANS=1)."""
    _config["debug_nans"] = bool(flag)


@dataclass
class Built:
    """What one signature compiled to: graphs, source, the callable and pass statistics."""

    traced: Traced
    graph: Graph
    source: str
    fn: Callable[..., Any]
    out_tree: Any
    stats: list[PassStat] = field(default_factory=list)


# ---------------------------------------------------------------- signatures

def _leaf_key(leaf: Any) -> tuple:
    if is_static(leaf):
        return ("static", type(leaf).__name__, leaf)
    a = leaf if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else np.asarray(leaf)
    if a.dtype == object:
        raise TypeError(f"cannot trace a value of type {type(leaf).__name__}; pass arrays or numbers")
    return (tuple(a.shape), np.dtype(a.dtype).name)


def signature(args: Sequence[Any], static: Sequence[int] = ()) -> tuple:
    """The cache key of a call: each array's shape and dtype, each static value, the structure."""
    key = []
    for i, a in enumerate(args):
        if i in static:
            key.append(("static_arg", _hashable(a)))
            continue
        leaves, tree = pytree.flatten(a)
        key.append((tree, tuple(_leaf_key(leaf) for leaf in leaves)))
    return tuple(key) + (("debug_nans", _config["debug_nans"]),)


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


def _distance(a: tuple, b: tuple) -> int:
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


def _why(old: tuple, new: tuple, names: Sequence[str]) -> str:
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


# ---------------------------------------------------------------- tracing with pytrees

def _trace(fn: Callable, rule: Callable, args: Sequence[Any], static: Sequence[int]) -> tuple:
    """Trace `rule(*args)` (tracers for every array leaf) into a fresh graph.

    Returns the trace, the output structure and each argument's leaf names.
    """
    graph = Graph()
    names = arg_names(fn, len(args))
    values, leaves_of = [], {}
    for i, (name, a) in enumerate(zip(names, args)):
        if i in static:
            values.append(a)
            continue
        leaves, tree = pytree.flatten(a)
        leaf_names = pytree.leaf_names(a, name)
        leaves_of[i] = leaf_names
        tracers = []
        for leaf_name, leaf in zip(leaf_names, leaves):
            if is_static(leaf):
                tracers.append(leaf)
                continue
            array = leaf if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else np.asarray(leaf)
            node = graph.input(leaf_name, tuple(array.shape), np.dtype(array.dtype))
            tracers.append(Tracer(graph, node))
        values.append(pytree.unflatten(tree, tracers))
    stack = _active.__dict__.setdefault("graphs", [])
    stack.append(graph)
    try:
        out = rule(*values)
    finally:
        stack.pop()
    out_leaves, out_tree = pytree.flatten(out)
    graph.outputs = [o.node if isinstance(o, Tracer) else graph.const(o) for o in out_leaves]
    return Traced(graph, fn, names), out_tree, leaves_of


def _array_key(args: Sequence[Any]) -> tuple | None:
    """A cheap cache key when every argument is a plain ndarray (and debug_nans is off)."""
    if _config["debug_nans"]:
        return None
    key = []
    for a in args:
        if type(a) is not np.ndarray:
            return None
        key.append(a.shape)
        key.append(a.dtype)
    return tuple(key)


def _unpacker(out_tree: Any) -> Callable[[Any], Any]:
    """Turns the generated function's return value into the transform's output structure."""
    if out_tree == ("leaf",):
        return np.asarray
    if out_tree[0] == "tuple" and all(d == ("leaf",) for d in out_tree[1]):
        return lambda outs: tuple(map(np.asarray, outs if isinstance(outs, tuple) else (outs,)))

    def unpack(outs: Any) -> Any:
        outs = outs if isinstance(outs, tuple) else (outs,)
        return pytree.unflatten(out_tree, [np.asarray(o) for o in outs])
    return unpack


_active = threading.local()  # the graphs being traced on this thread, innermost last


def _tracer_in(args: Sequence[Any]) -> Tracer | None:
    for a in args:
        for leaf in pytree.flatten(a)[0]:
            if isinstance(leaf, Tracer):
                return leaf
    return None


def _constants(arg: Any, like: Tracer) -> Any:
    """An argument with its array leaves as constants of `like`'s graph (static ones kept)."""
    leaves, tree = pytree.flatten(arg)
    return pytree.unflatten(tree, [leaf if is_static(leaf) else _as_tracer(leaf, like)
                                   for leaf in leaves])


def _as_tracer(value: Any, like: Tracer) -> Tracer:
    return value if isinstance(value, Tracer) else like._constant(np.asarray(value))


# ---------------------------------------------------------------- transforms

class Transform:
    """A function traced, transformed, simplified and generated once per signature."""

    kind = "compiled"

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 static_argnums: int | Sequence[int] = (), passes: tuple[str, ...] | None = None) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self._argnums, self._has_aux = fn, argnums, has_aux
        self._static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        self._passes = passes
        self._cache: dict[tuple, Built] = {}
        self._fast: dict[tuple, tuple] = {}  # ndarray-only signatures -> (function, unpacker)
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    # the rule: outputs of this transform, on tracers of any graph -----------------------
    def rule(self, *args: Any) -> Any:
        return self._fn(*args)

    def _wrt(self, nargs: int) -> tuple[int, ...]:
        nums = (self._argnums,) if isinstance(self._argnums, int) else tuple(self._argnums)
        name = getattr(self._fn, "__name__", "fn")
        for i in nums:
            if not -nargs <= i < nargs:
                raise ValueError(f"{name}: argnums {i} is out of range for {nargs} arguments")
        return tuple(i % nargs for i in nums)

    def _stable(self, out: Tracer) -> Tracer:
        """The output rewritten to its stable form before differentiation (the "stability"
        pass, unless the passes exclude it), so gradients are taken of that form."""
        if self._passes is not None and "stability" not in self._passes:
            return out
        return Tracer(out.graph, stabilize(out.graph, out.node))

    def _split_aux(self, out: Any) -> tuple[Any, Any]:
        if not self._has_aux:
            return out, None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("with has_aux=True the function must return a pair (output, aux)")
        return out[0], out[1]

    def _differentiable(self, args: Sequence[Any], i: int) -> list[Tracer]:
        leaves = pytree.flatten(args[i])[0]
        for leaf in leaves:
            if is_static(leaf):
                name = getattr(self._fn, "__name__", "fn")
                raise TypeError(
                    f"{name}: argument {i} is a Python {type(leaf).__name__}, which is static; "
                    "pass a float or an array to differentiate with respect to it")
        like = _tracer_in(args)
        # a fresh name per differentiation: an inner grad's variable is never the outer one
        return [apply(OPS["alias"], _as_tracer(leaf, like)) for leaf in leaves]

    # calling ---------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        fast = _array_key(args)
        if fast is not None:  # the common case, kept cheap: every argument is an ndarray
            entry = self._fast.get(fast)
            if entry is not None:
                self._hits += 1
                fn, unpack = entry
                return unpack(fn(*args))
        if _tracer_in(args) is not None:  # inside another trace: add to its graph
            return self.rule(*args)
        outer = getattr(_active, "graphs", None)
        if outer:  # called with constants while another function is traced (a closure)
            like = Tracer(outer[-1], outer[-1].const(0.0))
            return self.rule(*[_constants(a, like) if i not in self._static else a
                               for i, a in enumerate(args)])
        built = self.build(*args)
        if fast is not None and not self._static:
            self._fast[fast] = (built.fn, _unpacker(built.out_tree))
        arrays = [np.asarray(leaf) for i, a in enumerate(args) if i not in self._static
                  for leaf in pytree.flatten(a)[0] if not is_static(leaf)]
        return _unpacker(built.out_tree)(built.fn(*arrays))

    def build(self, *args: Any) -> Built:
        """Trace and compile for the signature of `args` (or return the cached build)."""
        key = signature(args, self._static)
        built = self._cache.get(key)
        if built is not None:
            self._hits += 1
            return built
        with self._lock:
            built = self._cache.get(key)
            if built is None:
                if self._cache and _config["explain_retraces"]:
                    names = arg_names(self._fn, len(args))
                    old = min(self._cache, key=lambda k: _distance(k, key))
                    log.warning("symgrad: retracing %s %s: %s", self.kind,
                                getattr(self._fn, "__name__", "fn"), _why(old, key, names))
                built = self._build(args)
                self._cache[key] = built
                self._misses += 1
            else:
                self._hits += 1
        return built

    def _build(self, args: Sequence[Any]) -> Built:
        name = getattr(self._fn, "__name__", "fn")
        traced, out_tree, leaves_of = _trace(self._fn, self.rule, args, self._static)
        stats: list[PassStat] = []
        passes = {} if self._passes is None else {"passes": self._passes}
        graph = simplify(traced.graph, stats=stats, **passes)
        title = "symgrad " + self._title(describe(traced), traced.arg_names, len(args))
        prefix = "" if self.kind == "compiled" else f"{self.kind}_"
        program = codegen.generate(graph, prefix + name, title, self._output_names(leaves_of, len(args)),
                                   debug_nans=_config["debug_nans"])
        return Built(traced, graph, program.source, codegen.load(program), out_tree, stats)

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return f"compiled {described}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        return ["out"]

    def source(self, *args: Any) -> str:
        """The generated NumPy source for the signature of `args`."""
        return self.build(*args).source

    def graph(self, *args: Any) -> Graph:
        """The simplified graph that the source was generated from."""
        return self.build(*args).graph

    def cache_info(self) -> CacheInfo:
        """Hits, misses (traces) and cached signatures, like functools.lru_cache's."""
        return CacheInfo(self._hits, self._misses, len(self._cache))

    def cache_clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._fast.clear()
            self._hits = self._misses = 0


class Grad(Transform):
    """d fn / d args[argnums], as arrays shaped like those arguments."""

    kind = "grad"

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 with_value: bool = False, **kw: Any) -> None:
        super().__init__(fn, argnums, has_aux, **kw)
        self._with_value = with_value
        if with_value:
            self.kind = "value_and_grad"

    def rule(self, *args: Any) -> Any:
        wrt = self._wrt(len(args))
        args = list(args)
        flat = {}
        for i in wrt:  # constants among the differentiated leaves become graph values
            leaves = self._differentiable(args, i)
            flat[i] = leaves
            args[i] = pytree.unflatten(pytree.flatten(args[i])[1], leaves)
        out, aux = self._split_aux(self._fn(*args))
        like = _tracer_in(args)
        if not isinstance(out, Surface):
            out = like._constant(np.asarray(out))
        if out.shape != ():
            raise TypeError(
                f"grad requires a scalar output, got shape {out.shape}; use symgrad.vjp or "
                "symgrad.jacobian for non-scalar outputs")
        targets = [t for i in wrt for t in flat[i]]
        out = self._stable(out)
        grads = [t.zeros_like() if g is None else g
                 for t, g in zip(targets, backprop(out.graph, out.node, [t.node for t in targets]))]
        trees, k = [], 0
        for i in wrt:
            n = len(flat[i])
            trees.append(pytree.unflatten(pytree.flatten(args[i])[1], grads[k:k + n]))
            k += n
        g = trees[0] if isinstance(self._argnums, int) else tuple(trees)
        result = (out, g) if self._with_value else g
        return (result, aux) if self._has_aux else result

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        what = "value and gradient" if self._with_value else "gradient"
        wrt = ", ".join(names[i] for i in self._wrt(nargs))
        return f"{what} of {described} with respect to {wrt}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        wrt = self._wrt(nargs)
        names = ["value"] if self._with_value else []
        return names + [f"grad_{n}" for i in wrt for n in leaves_of.get(i, [])]


class Jacobian(Transform):
    """d fn / d args[argnums] for array outputs: shape out.shape + arg.shape (reverse mode)."""

    kind = "jacobian"

    def rule(self, *args: Any) -> Any:
        wrt = self._wrt(len(args))
        args = list(args)
        flat = {}
        for i in wrt:
            flat[i] = self._differentiable(args, i)
            args[i] = pytree.unflatten(pytree.flatten(args[i])[1], flat[i])
        out, aux = self._split_aux(self._fn(*args))
        like = _tracer_in(args)
        targets = [t for i in wrt for t in flat[i]]
        out_leaves, out_tree = pytree.flatten(out)
        per_output = []
        for o in out_leaves:  # a structured output: one Jacobian per leaf, as JAX nests them
            o = self._stable(o if isinstance(o, Tracer) else like._constant(np.asarray(o)))
            jacs = jacobian_rows(o, targets)
            trees, k = [], 0
            for i in wrt:
                n = len(flat[i])
                trees.append(pytree.unflatten(pytree.flatten(args[i])[1], jacs[k:k + n]))
                k += n
            per_output.append(trees[0] if isinstance(self._argnums, int) else tuple(trees))
        jac = pytree.unflatten(out_tree, per_output)
        return (jac, aux) if self._has_aux else jac

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        wrt = ", ".join(names[i] for i in self._wrt(nargs))
        return f"jacobian of {described} with respect to {wrt}"


class VJP(Transform):
    """The pullback of fn at fixed primals: cotangent -> gradients of every argument."""

    kind = "vjp"

    def __init__(self, fn: Callable, nargs: int, **kw: Any) -> None:
        super().__init__(fn, tuple(range(nargs)), **kw)
        self._nargs = nargs

    def rule(self, *args: Any) -> Any:
        primals, ct = list(args[:self._nargs]), args[self._nargs]
        flat = [self._differentiable(primals, i) for i in range(self._nargs)]
        primals = [pytree.unflatten(pytree.flatten(p)[1], f) for p, f in zip(primals, flat)]
        out, aux = self._split_aux(self._fn(*primals))
        like = _tracer_in(primals)
        out = out if isinstance(out, Tracer) else like._constant(np.asarray(out))
        seed = _as_tracer(ct, like)
        if seed.shape != out.shape:
            raise ValueError(f"vjp: cotangent shape {seed.shape} does not match output shape {out.shape}")
        targets = [t for f in flat for t in f]
        out = self._stable(out)
        grads = [t.zeros_like() if g is None else g
                 for t, g in zip(targets, backprop(out.graph, out.node, [t.node for t in targets], seed))]
        trees, k = [], 0
        for p, f in zip(primals, flat):
            trees.append(pytree.unflatten(pytree.flatten(p)[1], grads[k:k + len(f)]))
            k += len(f)
        return tuple(trees)

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return f"vector-Jacobian product of {described}"


# ---------------------------------------------------------------- the public functions

def compile(fn: Callable, static_argnums: int | Sequence[int] = (),  # noqa: A001
            passes: tuple[str, ...] | None = None) -> Transform:
    """Trace `fn` once per input signature and run it as generated NumPy code.

    >>> f = symgrad.compile(lambda x: np.tanh(x).sum())
    >>> f(np.ones(3)); print(f.source(np.ones(3)))
    """
    return Transform(fn, static_argnums=static_argnums, passes=passes)


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         static_argnums: int | Sequence[int] = (), passes: tuple[str, ...] | None = None) -> Grad:
    """The compiled gradient of scalar-valued `fn` with respect to argument(s) `argnums`.

    Gradients have the structure of their arguments (arrays, or tuples/lists/dicts of them).

    >>> symgrad.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    return Grad(fn, argnums, has_aux, static_argnums=static_argnums, passes=passes)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   static_argnums: int | Sequence[int] = (),
                   passes: tuple[str, ...] | None = None) -> Grad:
    """Like `grad`, but returns `(fn(*args), gradient)` from one generated function."""
    return Grad(fn, argnums, has_aux, with_value=True, static_argnums=static_argnums, passes=passes)


def jacobian(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
             passes: tuple[str, ...] | None = None) -> Jacobian:
    """The compiled Jacobian of array-valued `fn`: shape `out.shape + arg.shape`."""
    return Jacobian(fn, argnums, has_aux, passes=passes)


def hessian(fn: Callable, argnums: int | Sequence[int] = 0,
            passes: tuple[str, ...] | None = None) -> Jacobian:
    """The compiled Hessian of scalar-valued `fn`: the Jacobian of its gradient."""
    return Jacobian(Grad(fn, argnums), argnums, passes=passes)


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """`(fn(*primals), pullback)`; `pullback(ct)` gives one gradient per primal (compiled).

    >>> out, pullback = symgrad.vjp(lambda x: x * 2, np.ones(3))
    >>> pullback(np.ones(3))
    (array([2., 2., 2.]),)
    """
    forward = Transform(fn)
    out = forward(*primals)
    value, aux = (out[0], out[1]) if has_aux else (out, None)
    pull = VJP(fn, len(primals), has_aux=has_aux)
    pullback = functools.partial(pull, *primals)
    pullback.source = functools.partial(pull.source, *primals)  # type: ignore[attr-defined]
    return (value, pullback, aux) if has_aux else (value, pullback)
