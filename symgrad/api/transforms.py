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
import importlib.metadata
import inspect
import linecache
import logging
import os
import threading
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symgrad import codegen
from symgrad.api.callpath import MISS, call_key, caller
from symgrad.api.config import config
from symgrad.api.signature import bad_argument, describe, distance, signature, why
from symgrad.autodiff.batching import jacobian_rows
from symgrad.autodiff.forward import jacobian_columns
from symgrad.autodiff.reverse import backprop
from symgrad.codegen import numba_cache, numba_source, standalone
from symgrad.ir import Graph
from symgrad.ops import OPS, apply
from symgrad.simplify import PassStat, simplify, stabilize
from symgrad.surface import Surface
from symgrad.tracing import pytree
from symgrad.tracing.tracer import Traced, Tracer, active_graph, arg_names, is_static, trace

log = logging.getLogger("symgrad")
CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "maxsize", "currsize"])


@dataclass
class Built:
    """What one signature compiled to: graphs, source, the callable and pass statistics."""

    traced: Traced
    graph: Graph
    source: str
    fn: Callable[..., Any]
    out_tree: Any
    stats: list[PassStat] = field(default_factory=list)
    backend: str = "numpy"
    program: codegen.Program | None = None  # what `source` was printed from (see `Transform.export`)
    title: str = ""  # the header's description, `gradient of loss(x: f32[5]) with respect to x`


def _structure(tree: Any) -> str:
    """A pytree's structure for messages: `tuple(*, *)`, `dict(a=*)`, `*` for a leaf."""
    if isinstance(tree, (tuple, list)):
        return f"{type(tree).__name__}({', '.join(map(_structure, tree))})"
    if isinstance(tree, dict):
        items = (f"{k}={_structure(tree[k])}" for k in pytree.dict_keys(tree))
        return f"{type(tree).__name__}({', '.join(items)})"
    return "None" if tree is None else "*"


def _unpacker(out_tree: Any, wrap: Callable[[Any], Any] = np.asarray) -> Callable[[Any], Any]:
    """Turns the generated function's return value into the transform's output structure."""
    if out_tree == pytree.LEAF:
        return wrap
    if pytree.is_tuple_of_leaves(out_tree):
        return lambda outs: tuple(map(wrap, outs if isinstance(outs, tuple) else (outs,)))

    def unpack(outs: Any) -> Any:
        outs = outs if isinstance(outs, tuple) else (outs,)
        return pytree.unflatten(out_tree, [wrap(o) for o in outs])
    return unpack


BACKENDS = ("numpy", "array_api", "numba")


def _foreign(leaf: Any) -> bool:
    """Whether a leaf is a Dask or CuPy array: NumPy code would pull it whole into memory."""
    return type(leaf).__module__.partition(".")[0] in ("dask", "cupy")


def _array_api() -> Any:
    """The array API back end's module, or a one-line ImportError saying how to install it."""
    try:
        from symgrad.codegen import array_api_source
    except ImportError as e:
        raise ImportError(f"backend='array_api' (Dask, CuPy) needs array-api-compat ({e.name} is "
                          "missing): pip install 'symgrad[dask]'") from None
    return array_api_source


def _no_caller(*args: Any) -> Any:
    return MISS


def _tracer_in(args: Sequence[Any]) -> Tracer | None:
    for a in args:
        for leaf in pytree.flatten(a)[0]:
            if isinstance(leaf, Tracer):
                return leaf
    return None


def _anchor(args: Sequence[Any]) -> Tracer:
    """A tracer of the graph being built: one among `args`, or a constant when the differentiated
    arguments hold no leaves (an empty tuple or dict), whose gradient is that empty structure."""
    like = _tracer_in(args)
    if like is None:
        graph = active_graph()
        like = Tracer(graph, graph.const(0.0))
    return like


def _as_tracer(value: Any, like: Tracer) -> Tracer:
    return value if isinstance(value, Tracer) else like._constant(np.asarray(value))


def _constants(arg: Any, like: Tracer) -> Any:
    """An argument with its array leaves as constants of `like`'s graph (static ones kept)."""
    leaves, tree = pytree.flatten(arg)
    return pytree.unflatten(tree, [leaf if is_static(leaf) else _as_tracer(leaf, like) for leaf in leaves])


def _dtype_of(value: Any) -> np.dtype:
    return np.dtype(value.dtype) if hasattr(value, "dtype") else np.asarray(value).dtype


def _argnums(who: str, nums: Any, what: str, empty: bool) -> int | tuple[int, ...] | list[int]:
    """`argnums` or `static_argnums` checked as JAX checks them: an int or a sequence of ints
    (TypeError), not empty where something is differentiated (ValueError)."""
    nums = int(nums) if isinstance(nums, np.integer) else nums
    seq = (nums,) if isinstance(nums, int) else nums
    if not isinstance(seq, (tuple, list)) or not all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in seq):
        raise TypeError(f"{who}: {what} must be an int or a tuple of ints, got {nums!r}")
    if not seq and not empty:
        raise ValueError(f"{who}: {what}=() differentiates with respect to nothing; give at least one "
                         "argument position")
    return nums if isinstance(nums, int) else tuple(int(i) for i in nums)


class Variables:
    """The arguments a transform differentiates: each leaf a fresh variable, and results per
    leaf regrouped into each argument's structure (a gradient has its argument's shape).

    `kind` ("grad", "jacobian"...) names a transform that, as JAX's, requires real-valued
    inputs: a boolean or integer leaf is a TypeError, unless `allow_int`, where its gradient
    is zeros of its shape (float64; JAX gives float0). Without `kind` (vjp, jvp) any leaf goes."""

    def __init__(self, fn: Callable, args: Sequence[Any], positions: Sequence[int],
                 kind: str | None = None, allow_int: bool = False) -> None:
        like = _tracer_in(args)
        self.args = list(args)  # the arguments, the differentiated ones made of `leaves`
        self.leaves: list[Tracer] = []
        self._trees: list[tuple[Any, int]] = []
        self._integer: set[int] = set()  # positions in `leaves` of allowed integer leaves
        names = arg_names(fn, len(args))
        for i in positions:
            leaves, tree = pytree.flatten(args[i])
            where = f"{kind or 'grad'}({getattr(fn, '__name__', 'fn')}): argument {names[i]!r}"
            for k, (path, leaf) in enumerate(pytree.leaf_paths(args[i])):
                at = f"{where}{' leaf ' + path if path else ''}"
                if is_static(leaf):
                    raise TypeError(f"{at} is a Python {type(leaf).__name__}, which is static; pass a "
                                    "float or an array to differentiate with respect to it")
                dtype = _dtype_of(leaf)
                if kind is not None and dtype.kind in "biu":
                    if not allow_int:
                        raise TypeError(
                            f"{at} is {dtype}: {kind} requires real-valued inputs (a floating dtype). If "
                            "you want to use Boolean- or integer-valued inputs, use vjp or set allow_int "
                            "to True.")
                    self._integer.add(len(self.leaves) + k)
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
        return [t.zeros_like().astype(np.float64) if k in self._integer else t.zeros_like() if g is None
                else g for k, (t, g) in enumerate(zip(self.leaves, grads))]


# ---------------------------------------------------------------- transforms

class Transform:
    """A function traced, transformed, simplified and generated once per signature."""

    kind = "compiled"
    _differentiates = False  # whether argnums must name at least one argument

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 static_argnums: int | Sequence[int] = (), passes: tuple[str, ...] | None = None,
                 cache_size: int | None = None, backend: str = "numpy", compute: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"{self.kind}: expected a callable function, got {type(fn).__name__} {fn!r}")
        functools.update_wrapper(self, fn)
        self._fn, self._has_aux = fn, has_aux
        self._argnums = _argnums(self._who(), argnums, "argnums", empty=not self._differentiates)
        static = _argnums(self._who(), static_argnums, "static_argnums", empty=True)
        self._static = (static,) if isinstance(static, int) else tuple(static)
        if cache_size is not None and (not isinstance(cache_size, int) or cache_size < 1):
            raise ValueError(f"{self.kind}: cache_size must be a positive int or None, got {cache_size!r}")
        self._passes, self._cache_size = passes, cache_size
        if backend not in BACKENDS:
            raise ValueError(f"{self._who()}: backend must be one of {', '.join(map(repr, BACKENDS))}, "
                             f"got {backend!r}")
        if backend == "numba":
            numba_source.require()  # a one-line ImportError saying how to install Numba
        self._backend, self._compute = backend, bool(compute)
        self._cache: OrderedDict[tuple, Built] = OrderedDict()  # least recently used first
        # call keys -> (caller, its signature) (see symgrad.api.callpath), least recently used first
        self._fast: OrderedDict[tuple, tuple[Callable, tuple]] = OrderedDict()
        self._last: Callable = _no_caller  # the caller of the last call that had one
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    @property
    def maxsize(self) -> int | None:
        """How many signatures the cache keeps: `cache_size`, else `symgrad.config.cache_size`
        (None: no bound)."""
        return self._cache_size if self._cache_size is not None else config.cache_size

    def _who(self) -> str:
        return f"{self.kind}({getattr(self._fn, '__name__', 'fn')})"

    # the rule: outputs of this transform, on tracers of any graph -----------------------
    def rule(self, *args: Any) -> Any:
        return self._fn(*args)

    def _wrt(self, nargs: int) -> tuple[int, ...]:
        nums = (self._argnums,) if isinstance(self._argnums, int) else tuple(self._argnums)
        for i in nums:
            if not -nargs <= i < nargs:  # as JAX: a TypeError from grad for too few arguments,
                # a ValueError from its Jacobians and for a negative index
                error = TypeError if i >= 0 and self.kind in ("grad", "value_and_grad", "hvp") else ValueError
                raise error(f"{self._who()}: argnums {i} is out of range for {nargs} arguments "
                            f"(differentiating with respect to argnums={self._argnums!r} requires at "
                            f"least {i + 1 if i >= 0 else -i} positional arguments)")
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
            raise TypeError(f"{self._who()}: with has_aux=True the function must return a pair "
                            f"(output, aux), got {type(out).__name__}")
        return out[0], out[1]

    def _scalar(self, out: Any, like: Tracer) -> Tracer:
        """The function's output as a real scalar tracer; JAX's TypeErrors for anything else
        (None, a string, an integer or boolean value, a non-scalar array, a tuple)."""
        if not isinstance(out, Surface):
            if out is None or isinstance(out, (tuple, list, dict)):
                shown = "None" if out is None else f"a {type(out).__name__}"
                raise TypeError(f"{self._who()}: gradient only defined for scalar-output functions; the "
                                f"function returned {shown}")
            if isinstance(out, (str, bytes)) or _dtype_of(out).kind not in "biufc":
                raise TypeError(f"{self._who()}: the function returned {type(out).__name__} {out!r}, "
                                "expected a scalar array or a float")
            out = like._constant(np.asarray(out))
        if out.dtype.kind != "f":  # JAX: int and bool outputs need vjp (complex never gets here)
            raise TypeError(f"{self._who()} requires real-valued outputs (a floating dtype), but got "
                            f"{out.dtype}. For differentiation of functions with integer outputs, use vjp.")
        if out.shape != ():
            raise TypeError(
                f"grad requires a scalar output, got shape {out.shape}; use symgrad.vjp or "
                "symgrad.jacobian for non-scalar outputs")
        return out

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
            entry = self._fast.get(key)
            if entry is not None:
                out = entry[0](*args)
                if out is not MISS:
                    self._hits += 1
                    self._last = entry[0]
                    self._touch(key, entry[1])
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
            self._last = caller(built.fn, args, self._static, built.out_tree, config.debug_nans)
            with self._lock:
                self._fast[key] = (self._last, signature(args, self._static))
                self._evict()
        # an eager Tensor passes its values (np.asarray refuses one that requires grad)
        leaves = [leaf.detach() if isinstance(leaf, Surface) else leaf
                  for i, a in enumerate(args) if i not in self._static
                  for leaf in pytree.flatten(a)[0] if not is_static(leaf)]
        if built.backend == "array_api":  # Dask and CuPy arrays stay as they are
            array_api = _array_api()
            outs = array_api.finish(built.fn(*array_api.arguments(leaves)), self._compute)
            return _unpacker(built.out_tree, array_api.as_returned)(outs)
        return _unpacker(built.out_tree)(built.fn(*[np.asarray(leaf) for leaf in leaves]))

    def build(self, *args: Any) -> Built:
        """Trace and compile for the signature of `args` (or return the cached build). A bad
        argument, or an error while tracing or compiling, leaves the cache as it was."""
        key = self._signature(args)
        backend = self._backend_for(args)
        if backend != self._backend:  # Dask or CuPy arrays through a NumPy transform
            key += (("backend", backend),)
        with self._lock:
            built = self._cache.get(key)
            if built is None:
                if self._cache and config.explain_retraces:
                    names = arg_names(self._fn, len(args))
                    old = min(self._cache, key=lambda k: distance(k, key))
                    log.warning("symgrad: retracing %s %s: %s", self.kind,
                                getattr(self._fn, "__name__", "fn"), why(old, key, names))
                built = self._build(args, backend)
                self._cache[key] = built
                self._misses += 1
                self._evict()
            else:
                self._hits += 1
                self._cache.move_to_end(key)
        return built

    def _signature(self, args: Sequence[Any]) -> tuple:
        """The cache key of `args`, or a TypeError/ValueError naming the bad argument."""
        for i in self._static:
            if not -len(args) <= i < len(args):  # JAX's jit: a ValueError
                raise ValueError(f"{self._who()}: static_argnums={self._static!r} but the call has "
                                 f"{len(args)} positional argument(s)")
        try:
            return signature(args, self._static)
        except TypeError:
            bad = bad_argument(self._who(), self._arg_names(len(args)), args, self._static,
                               hint_static=self.kind in ("compiled", "grad", "value_and_grad"))
            if bad is None:
                raise
            raise bad from None

    def _arg_names(self, nargs: int) -> tuple[str, ...]:
        return arg_names(self._fn, nargs)

    def _touch(self, key: tuple, sig: tuple) -> None:
        """Mark a call key, and the signature it runs, as used last (the LRU order)."""
        with self._lock:
            if key in self._fast:
                self._fast.move_to_end(key)
            if sig in self._cache:
                self._cache.move_to_end(sig)

    def _evict(self) -> None:
        """Drop the least recently used signatures beyond `maxsize`, with their callers and
        their source's `linecache` entry (the lock is held)."""
        limit = self.maxsize
        if limit is None:
            return
        while len(self._cache) > limit:
            sig, built = self._cache.popitem(last=False)
            if not any(b.source == built.source for b in self._cache.values()):
                linecache.cache.pop(built.fn.__code__.co_filename, None)
            for k in [k for k, (_, s) in self._fast.items() if s == sig]:
                call = self._fast.pop(k)[0]
                if call is self._last:
                    self._last = _no_caller
        while len(self._fast) > limit:
            if self._fast.popitem(last=False)[1][0] is self._last:
                self._last = _no_caller

    def _backend_for(self, args: Sequence[Any]) -> str:
        """The back end of a call: the transform's, or array_api when an argument holds a Dask or
        CuPy array (whose unknown chunk sizes are a ValueError naming it)."""
        found = False
        for i, a in enumerate(args):
            if i in self._static:
                continue
            for leaf in pytree.flatten(a)[0]:
                if _foreign(leaf):
                    found = True
                    if any(d != d for d in leaf.shape):  # NaN: chunks of unknown size
                        raise ValueError(f"{self._who()}: argument {self._arg_names(len(args))[i]!r} holds "
                                         f"a Dask array of unknown chunk sizes (shape {leaf.shape}); call "
                                         ".compute_chunk_sizes() on it first")
        return "array_api" if found else self._backend

    def _build(self, args: Sequence[Any], backend: str = "numpy") -> Built:
        name = getattr(self._fn, "__name__", "fn")
        traced = trace(self._fn, *args, static_argnums=self._static, rule=self.rule)
        stats: list[PassStat] = []
        passes = {} if self._passes is None else {"passes": self._passes}
        title = "symgrad " + self._title(describe(traced), traced.arg_names, len(args))
        prefix = "" if self.kind == "compiled" else f"{self.kind}_"
        outputs = self._output_names(traced.leaf_names, len(args))
        key = None
        if backend == "numba" and not config.verify:  # a later process reads the build back
            key = numba_cache.digest(traced.graph, type(self).__name__, self._passes, config.debug_nans,
                                     prefix + name, title, outputs)
            stored = numba_cache.read(key)
            if stored is not None:
                graph, stats, program = stored
                return Built(traced, graph, program.source, numba_source.load(program), traced.out_tree,
                             stats, backend=backend, program=program, title=title.removeprefix("symgrad "))
        graph = simplify(traced.graph, stats=stats, check=config.verify, **passes)
        gen = _array_api() if backend == "array_api" else numba_source if backend == "numba" else codegen
        program = gen.generate(graph, prefix + name, title, outputs, debug_nans=config.debug_nans)
        numba_cache.write(key, graph, stats, program)
        load = numba_source.load if backend == "numba" else codegen.load
        return Built(traced, graph, program.source, load(program), traced.out_tree, stats,
                     backend=backend, program=program, title=title.removeprefix("symgrad "))

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return f"compiled {described}"

    def _output_names(self, leaves_of: dict[int, list[str]], nargs: int) -> list[str]:
        return ["out"]

    def source(self, *args: Any) -> str:
        """The generated source (NumPy, or array API for `backend="array_api"` or Dask or
        CuPy arguments) for the signature of `args`."""
        return self.build(*args).source

    def graph(self, *args: Any) -> Graph:
        """The simplified graph that the source was generated from."""
        return self.build(*args).graph

    def export(self, *args: Any, path: str | os.PathLike | None = None, command: str | None = None) -> str:
        """The generated function for the signature of `args` (of the latest call without
        them) as the text of a module that needs only NumPy, written to `path` if given.

        The symgrad kernels it calls are written out in it as plain NumPy functions, constant
        arrays as literals (those of more than `codegen.standalone.LITERAL_MAX` elements are
        saved beside `path` as an .npz of the same name, and without a path are a ValueError),
        and its docstring names the source function, its signature, symgrad's version and
        `command`, the command that made it (by default this call, spelt in Python).

        >>> print(symgrad.grad(loss).export(np.ones(3)))
        >>> symgrad.grad(loss).export(np.ones(3), path="grad_loss.py")
        """
        built = self.build(*args) if args else self._latest()
        if isinstance(built.program, numba_source.NumbaProgram):
            raise ValueError(f"{self._who()}.export(): backend='numba' code calls Numba kernels; export the "
                             "same function compiled with backend='numpy'")
        sidecar = None if path is None else Path(path).with_suffix(".npz")
        text, saved = standalone.module(built.program, self._header(built, command),
                                        None if sidecar is None else sidecar.name)
        if path is not None:
            Path(path).write_text(text)
            if saved:
                np.savez(sidecar, **saved)
        return text

    def _latest(self) -> Built:
        with self._lock:
            if not self._cache:
                raise TypeError(f"{self._who()}.export(): nothing built yet; pass example arguments, as to "
                                ".source(*args), or call the function once first")
            return next(reversed(self._cache.values()))

    def _header(self, built: Built, command: str | None) -> str:
        """An exported module's docstring: what it computes, from what, made how."""
        fn = inspect.unwrap(self._fn)
        code = getattr(fn, "__code__", None)
        where = ""
        if code is not None:
            file = code.co_filename
            try:
                file = os.path.relpath(file) if not os.path.relpath(file).startswith("..") else file
            except ValueError:  # another drive
                pass
            where = f" ({file}:{code.co_firstlineno})"
        try:
            version = importlib.metadata.version("symgrad")
        except importlib.metadata.PackageNotFoundError:
            version = "(version unknown)"
        program = built.program
        returns = program.function.rstrip().splitlines()[-1].strip().removeprefix("return ")
        params = program.function.splitlines()[0].removeprefix("def ").removesuffix(":")
        made = command or f"{self._maker()}.export({describe(built.traced).partition('(')[2][:-1]})"
        return "\n".join([
            built.title[:1].upper() + built.title[1:] + ".",
            "",
            f"Exported by symgrad {version} from {getattr(fn, '__name__', 'fn')}{where} with",
            f"    {made}",
            "It needs only NumPy: any symgrad kernel it calls is written out in it.",
            "",
            f"    {params} -> {returns}",
            "",
            "The arguments must have the dtypes and shapes above: the code is specialised to them.",
            "Each comment in the function quotes the line of the source it comes from.",
        ]).replace("\\", "\\\\")

    def _maker(self) -> str:
        """This transform spelt as the Python that makes it, for an exported module's header."""
        inner = self._fn._maker() if isinstance(self._fn, Transform) else getattr(self._fn, "__name__", "fn")
        name = "compile" if self.kind == "compiled" else self.kind
        argnums = f", argnums={self._argnums!r}" if self._differentiates and self._argnums != 0 else ""
        return f"symgrad.{name}({inner}{argnums})"

    def cache_info(self) -> CacheInfo:
        """Hits, misses (traces), the bound and the cached signatures, like functools.lru_cache's."""
        return CacheInfo(self._hits, self._misses, self.maxsize, len(self._cache))

    def cache_clear(self) -> None:
        """Forget every build and reset the counts."""
        with self._lock:
            self._cache.clear()
            self._fast.clear()
            self._last = _no_caller
            self._hits = self._misses = 0


class Grad(Transform):
    """d fn / d args[argnums], as arrays shaped like those arguments."""

    kind = "grad"

    _differentiates = True

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 with_value: bool = False, allow_int: bool = False, **kw: Any) -> None:
        if with_value:
            self.kind = "value_and_grad"
        super().__init__(fn, argnums, has_aux, **kw)
        self._with_value, self._allow_int = with_value, allow_int

    def rule(self, *args: Any) -> Any:
        wrt = Variables(self._fn, args, self._wrt(len(args)), self.kind, self._allow_int)
        out, aux = self._split_aux(self._fn(*wrt.args))
        out = self._stable(self._scalar(out, _anchor(wrt.args)))
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

    _differentiates = True

    def __init__(self, fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                 mode: str = "rev", **kw: Any) -> None:
        if mode not in ("rev", "fwd"):
            raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")
        super().__init__(fn, argnums, has_aux, **kw)
        self._columns = mode == "fwd"

    def rule(self, *args: Any) -> Any:
        wrt = Variables(self._fn, args, self._wrt(len(args)), self.kind)
        out, aux = self._split_aux(self._fn(*wrt.args))
        like = _anchor(wrt.args)
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
        if len(args) != self._nargs + 1:
            raise TypeError(f"vjp: the pullback takes one cotangent, got {len(args) - self._nargs}")
        wrt = Variables(self._fn, args[:self._nargs], range(self._nargs))
        out, aux = self._split_aux(self._fn(*wrt.args))
        like = _anchor(wrt.args)
        outs, out_tree = pytree.flatten(out)
        cts, ct_tree = pytree.flatten(args[self._nargs])
        if ct_tree != out_tree:  # JAX: a ValueError; a tuple output takes a tuple of cotangents
            raise ValueError(f"vjp: the cotangent must have the structure of the output: got "
                             f"{_structure(args[self._nargs])}, expected {_structure(out)}")
        seeds = []
        for k, (o, ct) in enumerate(zip(outs, cts)):
            where = f"output leaf {pytree.leaf_paths(out)[k][0]}" if out_tree != pytree.LEAF else "output"
            if not isinstance(o, Surface) and _dtype_of(o).kind not in "biuf":
                raise TypeError(f"vjp: the function's {where} is {type(o).__name__}, expected an array")
            outs[k] = o = self._stable(_as_tracer(o, like))
            if not isinstance(ct, Surface) and _dtype_of(ct).kind not in "biuf":
                raise TypeError(f"vjp: the cotangent of the {where} is {type(ct).__name__}, expected "
                                "an array")
            seed = _as_tracer(ct, like)
            if seed.shape != o.shape:
                raise ValueError(f"vjp: cotangent shape {seed.shape} does not match {where} shape {o.shape}")
            if o.dtype.kind == "f" and seed.dtype.kind != "f":
                raise ValueError(f"vjp: the cotangent of the {where} is {seed.dtype}, expected a floating "
                                 f"dtype (the output is {o.dtype})")
            seeds.append(seed.astype(o.dtype) if seed.dtype != o.dtype else seed)
        if len(outs) == 1:
            return tuple(wrt.regroup(wrt.gradients(outs[0], seeds[0])))
        # several outputs: the gradient of <outputs, cotangents>
        inner = like._constant(np.asarray(0.0))
        for o, seed in zip(outs, seeds):
            inner = inner + (o * seed).sum()
        return tuple(wrt.regroup(wrt.gradients(inner)))

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        return f"vector-Jacobian product of {described}"

    def _arg_names(self, nargs: int) -> tuple[str, ...]:
        return (*arg_names(self._fn, self._nargs), "cotangent")


# ---------------------------------------------------------------- the public functions

def compile(fn: Callable, static_argnums: int | Sequence[int] = (),  # noqa: A001
            passes: tuple[str, ...] | None = None, cache_size: int | None = None,
            backend: str = "numpy", compute: bool = False) -> Transform:
    """Trace `fn` once per input signature and run it as generated NumPy code.

    Each transform keeps the builds of its `cache_size` (default `symgrad.config.cache_size`,
    64) most recently used signatures; `f.cache_info()` counts hits and misses.

    `backend="array_api"` generates code against the arguments' own array namespace
    (array-api-compat): Dask arrays in, lazy Dask arrays out (computed ones with
    `compute=True`), CuPy arrays on the GPU. Dask or CuPy arguments select it by themselves.
    `backend="numba"` runs elementwise clusters, and sums of them, as fused loops compiled by
    Numba (`pip install symgrad[numba]`); the rest stays NumPy.

    >>> f = symgrad.compile(lambda x: np.tanh(x).sum())
    >>> f(np.ones(3)); print(f.source(np.ones(3)))
    """
    return Transform(fn, static_argnums=static_argnums, passes=passes, cache_size=cache_size,
                     backend=backend, compute=compute)


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         static_argnums: int | Sequence[int] = (), passes: tuple[str, ...] | None = None,
         allow_int: bool = False, cache_size: int | None = None, backend: str = "numpy",
         compute: bool = False) -> Grad:
    """The compiled gradient of scalar-valued `fn` with respect to argument(s) `argnums`.

    Gradients have the structure of their arguments (arrays, or tuples/lists/dicts of them).
    As in JAX, the differentiated arguments must be floating (a TypeError for integer or
    boolean ones, unless `allow_int`: their gradient is then zeros of their shape, float64
    where JAX gives float0) and the output a real scalar. With `has_aux`, `(grad, aux)`.
    `backend` and `compute` as for `compile` (Dask arrays: see "Dask and other array libraries"
    in the README).

    >>> symgrad.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    return Grad(fn, argnums, has_aux, static_argnums=static_argnums, passes=passes, allow_int=allow_int,
                cache_size=cache_size, backend=backend, compute=compute)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   static_argnums: int | Sequence[int] = (), passes: tuple[str, ...] | None = None,
                   allow_int: bool = False, cache_size: int | None = None, backend: str = "numpy",
                   compute: bool = False) -> Grad:
    """Like `grad`, but returns `(fn(*args), gradient)` from one generated function; with
    `has_aux`, `((value, aux), gradient)`, as JAX does."""
    return Grad(fn, argnums, has_aux, with_value=True, static_argnums=static_argnums, passes=passes,
                allow_int=allow_int, cache_size=cache_size, backend=backend, compute=compute)


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
             passes: tuple[str, ...] | None = None, mode: str = "rev",
             cache_size: int | None = None, backend: str = "numpy", compute: bool = False) -> Jacobian:
    """The compiled Jacobian of array-valued `fn`: shape `out.shape + arg.shape`. `mode="rev"`
    (one reverse pass per output element, batched) suits few outputs; `"fwd"` (one forward
    pass per input element, batched) suits few inputs."""
    return Jacobian(fn, argnums, has_aux, mode=mode, passes=passes, cache_size=cache_size,
                    backend=backend, compute=compute)


class Hessian(Jacobian):
    """The Jacobian of fn's gradient, named as what it is in errors and generated code."""

    kind = "hessian"

    def _title(self, described: str, names: Sequence[str], nargs: int) -> str:
        wrt = ", ".join(names[i] for i in self._wrt(nargs))
        return f"hessian of {described} with respect to {wrt}"


def hessian(fn: Callable, argnums: int | Sequence[int] = 0,
            passes: tuple[str, ...] | None = None, cache_size: int | None = None,
            backend: str = "numpy", compute: bool = False) -> Hessian:
    """The compiled Hessian of scalar-valued `fn`: the Jacobian of its gradient."""
    return Hessian(Grad(fn, argnums), argnums, passes=passes, cache_size=cache_size, backend=backend,
                   compute=compute)


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
    pullback.export = functools.partial(pull.export, *primals)  # type: ignore[attr-defined]
    return (value, pullback, aux) if has_aux else (value, pullback)
