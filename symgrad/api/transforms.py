"""The compiled face: `compile`, `grad`, `value_and_grad`, `vjp`, `jacobian`, `hessian`.

Each is a `Transform`: a rule that, given tracers for a function's inputs, adds its
outputs (gradients, Jacobian rows...) to the graph being traced. Called on concrete
arguments, a transform traces a fresh graph once per signature, simplifies it, generates
NumPy source and caches the callable; called on tracers (inside another transform), it
adds to the outer trace instead, so `grad(grad(f))` and `hessian` are reverse mode on
gradient graphs.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgrad import codegen
from symgrad.api.callpath import MISS, call_key, caller
from symgrad.api.config import config
from symgrad.api.signature import describe, distance, signature, why
from symgrad.autodiff.batching import jacobian_rows
from symgrad.autodiff.forward import jacobian_columns
from symgrad.autodiff.reverse import backprop
from symgrad.ir import Graph
from symgrad.ops import OPS, apply
from symgrad.simplify import PassStat, simplify, stabilize
from symgrad.surface import Surface
from symgrad.tracing import pytree
from symgrad.tracing.tracer import Traced, Tracer, active_graph, arg_names, is_static, trace

log = logging.getLogger("symgrad")
CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "currsize"])


@dataclass
class Built:
    """What one signature compiled to: graphs, source, the callable and pass statistics."""

    traced: Traced
    graph: Graph
    source: str
    fn: Callable[..., Any]
    out_tree: Any
    stats: list[PassStat] = field(default_factory=list)


def _unpacker(out_tree: Any) -> Callable[[Any], Any]:
    """Turns the generated function's return value into the transform's output structure."""
    if out_tree == pytree.LEAF:
        return np.asarray
    if pytree.is_tuple_of_leaves(out_tree):
        return lambda outs: tuple(map(np.asarray, outs if isinstance(outs, tuple) else (outs,)))

    def unpack(outs: Any) -> Any:
        outs = outs if isinstance(outs, tuple) else (outs,)
        return pytree.unflatten(out_tree, [np.asarray(o) for o in outs])
    return unpack


def _no_caller(*args: Any) -> Any:
    return MISS


def _tracer_in(args: Sequence[Any]) -> Tracer | None:
    for a in args:
        for leaf in pytree.flatten(a)[0]:
            if isinstance(leaf, Tracer):
                return leaf
    return None


def _as_tracer(value: Any, like: Tracer) -> Tracer:
    return value if isinstance(value, Tracer) else like._constant(np.asarray(value))


def _constants(arg: Any, like: Tracer) -> Any:
    """An argument with its array leaves as constants of `like`'s graph (static ones kept)."""
    leaves, tree = pytree.flatten(arg)
    return pytree.unflatten(tree, [leaf if is_static(leaf) else _as_tracer(leaf, like) for leaf in leaves])


class Variables:
    """The arguments a transform differentiates: each leaf a fresh variable, and results per
    leaf regrouped into each argument's structure (a gradient has its argument's shape)."""

    def __init__(self, fn: Callable, args: Sequence[Any], positions: Sequence[int]) -> None:
        like = _tracer_in(args)
        self.args = list(args)  # the arguments, the differentiated ones made of `leaves`
        self.leaves: list[Tracer] = []
        self._trees: list[tuple[Any, int]] = []
        for i in positions:
            leaves, tree = pytree.flatten(args[i])
            for leaf in leaves:
                if is_static(leaf):
                    raise TypeError(
                        f"{getattr(fn, '__name__', 'fn')}: argument {i} is a Python {type(leaf).__name__}, "
                        "which is static; pass a float or an array to differentiate with respect to it")
            # a fresh name per differentiation: an inner grad's variable is never the outer one.
            # Copies, not views: fn writing into its argument changes neither the variable nor
            # the outer value, and fn gets copies of its own.
            aliased = [copy.copy(apply(OPS["alias"], _as_tracer(leaf, like))) for leaf in leaves]
            self.leaves += aliased
            self._trees.append((tree, len(aliased)))
            self.args[i] = pytree.unflatten(tree, [copy.copy(t) for t in aliased])

    def regroup(self, per_leaf: Sequence[Any]) -> list[Any]:
        """One tree per differentiated argument, from one result per leaf (in order)."""
        out, k = [], 0
        for tree, n in self._trees:
            out.append(pytree.unflatten(tree, list(per_leaf[k:k + n])))
            k += n
        return out

    def gradients(self, out: Tracer, seed: Any = None) -> list[Tracer]:
        """d out / d leaf for each leaf (zeros where out does not depend on it)."""
        grads = backprop(out.graph, out.node, [t.node for t in self.leaves], seed)
        return [t.zeros_like() if g is None else g for t, g in zip(self.leaves, grads)]


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
        self._fast: dict[tuple, Callable] = {}  # call keys -> callers (see symgrad.api.callpath)
        self._last: Callable = _no_caller  # the caller of the last call that had one
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

    def _grouped(self, trees: list[Any]) -> Any:
        """One argument's result for an int `argnums`, a tuple of them for a sequence."""
        return trees[0] if isinstance(self._argnums, int) else tuple(trees)

    # calling ---------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        out = self._last(*args)  # the caller used last, for arguments like the last ones
        if out is not MISS:
            self._hits += 1
            return out
        key = call_key(args, self._static, config.debug_nans)
        if key is not None:  # a call keyed like one before: its generated caller, no walk
            call = self._fast.get(key)
            if call is not None:
                out = call(*args)
                if out is not MISS:
                    self._hits += 1
                    self._last = call
                    return out
        if _tracer_in(args) is not None:  # inside another trace: add to its graph
            return self.rule(*args)
        outer = active_graph()
        if outer is not None:  # called with constants while another function is traced (a closure)
            like = Tracer(outer, outer.const(0.0))
            return self.rule(*[_constants(a, like) if i not in self._static else a
                               for i, a in enumerate(args)])
        built = self.build(*args)
        if key is not None:
            self._fast[key] = self._last = caller(built.fn, args, self._static, built.out_tree,
                                                  config.debug_nans)
        # an eager Tensor passes its values (np.asarray refuses one that requires grad)
        arrays = [np.asarray(leaf.detach() if isinstance(leaf, Surface) else leaf)
                  for i, a in enumerate(args) if i not in self._static
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
                if self._cache and config.explain_retraces:
                    names = arg_names(self._fn, len(args))
                    old = min(self._cache, key=lambda k: distance(k, key))
                    log.warning("symgrad: retracing %s %s: %s", self.kind,
                                getattr(self._fn, "__name__", "fn"), why(old, key, names))
                built = self._build(args)
                self._cache[key] = built
                self._misses += 1
            else:
                self._hits += 1
        return built

    def _build(self, args: Sequence[Any]) -> Built:
        name = getattr(self._fn, "__name__", "fn")
        traced = trace(self._fn, *args, static_argnums=self._static, rule=self.rule)
        stats: list[PassStat] = []
        passes = {} if self._passes is None else {"passes": self._passes}
        graph = simplify(traced.graph, stats=stats, check=config.verify, **passes)
        title = "symgrad " + self._title(describe(traced), traced.arg_names, len(args))
        prefix = "" if self.kind == "compiled" else f"{self.kind}_"
        outputs = self._output_names(traced.leaf_names, len(args))
        program = codegen.generate(graph, prefix + name, title, outputs, debug_nans=config.debug_nans)
        return Built(traced, graph, program.source, codegen.load(program), traced.out_tree, stats)

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
            self._last = _no_caller
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
        wrt = Variables(self._fn, args, self._wrt(len(args)))
        out, aux = self._split_aux(self._fn(*wrt.args))
        if not isinstance(out, Surface):
            out = _tracer_in(wrt.args)._constant(np.asarray(out))
        if out.shape != ():
            raise TypeError(
                f"grad requires a scalar output, got shape {out.shape}; use symgrad.vjp or "
                "symgrad.jacobian for non-scalar outputs")
        out = self._stable(out)
        g = self._grouped(wrt.regroup(wrt.gradients(out)))
        if self._with_value:  # JAX's structure: ((value, aux), grad)
            return ((out, aux), g) if self._has_aux else (out, g)
        return (g, aux) if self._has_aux else g

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        what = "value and gradient" if self._with_value else "gradient"
        wrt = ", ".join(names[i] for i in self._wrt(nargs))
        return f"{what} of {described} with respect to {wrt}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        wrt = self._wrt(nargs)
        names = ["value"] if self._with_value else []
        return names + [f"grad_{n}" for i in wrt for n in leaves_of.get(i, [])]


class Jacobian(Transform):
    """d fn / d args[argnums] for array outputs: shape out.shape + arg.shape, in reverse mode
    (`mode="rev"`, batched pullbacks) or forward mode (`"fwd"`, batched pushforwards)."""

    kind = "jacobian"

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 mode: str = "rev", **kw: Any) -> None:
        if mode not in ("rev", "fwd"):
            raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")
        super().__init__(fn, argnums, has_aux, **kw)
        self._columns = mode == "fwd"

    def rule(self, *args: Any) -> Any:
        wrt = Variables(self._fn, args, self._wrt(len(args)))
        out, aux = self._split_aux(self._fn(*wrt.args))
        like = _tracer_in(wrt.args)
        out_leaves, out_tree = pytree.flatten(out)
        per_output = []
        for o in out_leaves:  # a structured output: one Jacobian per leaf, as JAX nests them
            o = self._stable(o if isinstance(o, Tracer) else like._constant(np.asarray(o)))
            jac = jacobian_columns(o, wrt.leaves) if self._columns else jacobian_rows(o, wrt.leaves)
            per_output.append(self._grouped(wrt.regroup(jac)))
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
        wrt = Variables(self._fn, args[:self._nargs], range(self._nargs))
        out, aux = self._split_aux(self._fn(*wrt.args))
        like = _tracer_in(wrt.args)
        out = out if isinstance(out, Tracer) else like._constant(np.asarray(out))
        seed = _as_tracer(args[self._nargs], like)
        if seed.shape != out.shape:
            raise ValueError(f"vjp: cotangent shape {seed.shape} does not match output shape {out.shape}")
        out = self._stable(out)
        return tuple(wrt.regroup(wrt.gradients(out, seed)))

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
    """Like `grad`, but returns `(fn(*args), gradient)` from one generated function; with
    `has_aux`, `((value, aux), gradient)`, as JAX does."""
    return Grad(fn, argnums, has_aux, with_value=True, static_argnums=static_argnums, passes=passes)


def elementwise_grad(fn: Callable, argnum: int | Sequence[int] = 0,
                     passes: tuple[str, ...] | None = None) -> Grad:
    """HIPS autograd's `elementwise_grad`: the gradient of `fn`'s outputs summed, in one
    reverse pass. For a function that acts on each element alone it is the derivative at
    each element (the Jacobian's diagonal), of the argument's shape.

    >>> symgrad.elementwise_grad(np.tanh)(np.zeros(3))
    array([1., 1., 1.])
    """
    @functools.wraps(fn)
    def summed(*args: Any, **kwargs: Any) -> Any:
        return np.sum(fn(*args, **kwargs))
    return Grad(summed, argnum, False, passes=passes)


def jacobian(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
             passes: tuple[str, ...] | None = None, mode: str = "rev") -> Jacobian:
    """The compiled Jacobian of array-valued `fn`: shape `out.shape + arg.shape`. `mode="rev"`
    (one reverse pass per output element, batched) suits few outputs; `"fwd"` (one forward
    pass per input element, batched) suits few inputs."""
    return Jacobian(fn, argnums, has_aux, mode=mode, passes=passes)


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
