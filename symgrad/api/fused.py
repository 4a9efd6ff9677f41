"""Fused composites: an eager composite run as code that symgrad's own compiler generated.

A composite (`mean`, `softmax`, `F.cross_entropy`...: a function of primitives declared with
`@composite`) runs eagerly as many primitives forward and as many VJPs backward. Fused, its
forward is its definition traced, simplified and generated as one NumPy function, and its
backward (without `create_graph`) is the compiled VJP of that definition on the saved input
arrays: the simplifier that makes the compiled face lean makes the composite lean too
(binary cross-entropy with logits differentiates to `(sigmoid(z) - y) / n`). With
`create_graph` the node rematerialises: it runs the eager definition again on its inputs,
recorded, and walks that graph, so every order of derivative stays right.

Policy (compile latency against the number of shapes a program uses):
  - a signature (the composite; the shapes and dtypes of its tensor arguments; its other
    arguments, which must be numbers, strings, None, dtypes or tuples of them; the default
    dtype) runs unfused on its first two calls and is built at its third (`FUSE_FROM`), so
    a shape seen once or twice, as in a fuzzer or a test that compares two calls, costs no
    compilation;
  - at the build, the fused forward is checked against the unfused one on that call (shape,
    dtype, values bit for bit), and a compiled VJP at its first backward against the
    unfused backward (up to rounding: a lean form differs in the last bits). A trace that
    fails (data-dependent control flow, an op that does not trace, a warning while tracing),
    a mismatch, or an output that shares memory with an input makes that signature unfused
    for good;
  - the builds of the `symgrad.config.cache_size` signatures used last are kept (least
    recently used dropped first), as the compiled face keeps its own.
A call with an argument that has no key (a NumPy array, a list of tensors), or under anomaly
detection, runs unfused.

The eager engine imports nothing of the compiler: this module installs itself as the
`Tensor._fuse` hook when `symgrad.api` is imported (as `import symgrad` does).
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from symgrad import codegen
from symgrad.api.config import config
from symgrad.autodiff.reverse import backprop
from symgrad.eager.dtypes import get_default_dtype
from symgrad.eager.engine import AccumulateGrad, CompositeNode, _modified, node_class
from symgrad.eager.modes import _mode as _modes
from symgrad.eager.modes import enable_grad, no_grad
from symgrad.eager.tensor import Tensor, composite_node
from symgrad.ir.graph import Graph, Node
from symgrad.ops.core import OPS
from symgrad.ops.dispatch import FACES, METHODS
from symgrad.simplify import simplify, stabilize
from symgrad.surface import Surface
from symgrad.tracing.tracer import Tracer, trace

FUSE_FROM = 3  # the call of a signature at which it is built and fused
ENABLED = True  # False: every composite runs unfused (the tests compare the two)


class _TorchTracer(Tracer, face="torch"):
    """A tracer with the eager face's methods (PyTorch's `var`, `max`, `sum(dim)`...), so a
    composite traces with the meaning it has on tensors."""

    __slots__ = ()

    @classmethod
    def _apply(cls, op: Any, args: tuple, params: dict, name: str | None) -> Tracer:
        out = super()._apply(op, args, params, name)
        out.__class__ = _TorchTracer
        return out

    def _constant(self, value: Any) -> Tracer:
        out = super()._constant(value)
        out.__class__ = _TorchTracer
        return out

    def __copy__(self) -> Tracer:
        return _TorchTracer(self.graph, self.node)


def _not_on_tensors(name: str) -> Callable:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AttributeError(f"'{name}' is a NumPy-face method, not a Tensor one")
    return method


for _name in set(FACES["numpy"]) - set(FACES["torch"]):  # the NumPy face's own: back to the shared
    _shared = METHODS.get(_name, Surface.__dict__.get(_name))
    setattr(_TorchTracer, _name, _shared if _shared is not None else _not_on_tensors(_name))


# ---------------------------------------------------------------- signatures

_STATIC = (bool, int, float, str, type(None), np.dtype)
_NO_KEY = object()  # an argument with no key; a VJP not built yet


def _static_key(value: Any) -> Any:
    """A non-tensor argument as part of the key, or _NO_KEY (an array, an object...)."""
    if type(value) in _STATIC:
        return (type(value), value)
    if isinstance(value, (tuple, list)):
        items = tuple(map(_static_key, value))
        return _NO_KEY if _NO_KEY in items else (type(value), items)
    if isinstance(value, type) and issubclass(value, (bool, int, float, np.generic)):
        return (type, value)  # dtype=float
    return _NO_KEY


def signature(fn: Callable, keys: tuple[str, ...], operands: tuple, tensor: type) -> tuple | None:
    """The cache key of a composite call on `operands` (arguments, then the values of the
    keyword arguments named `keys`), or None when an argument cannot be keyed. Flat: a
    tensor's shape and dtype are two parts (a shape, ints, and a dtype are never a static
    key, a pair led by a type), as nested pairs would be a tuple to make and hash per call."""
    parts: list[Any] = [fn, keys, get_default_dtype()]
    for a in operands:
        if isinstance(a, tensor):
            data = a._data
            parts += (data.shape, data.dtype)
            continue
        key = _static_key(a)
        if key is _NO_KEY:
            return None
        parts.append(key)
    return tuple(parts)


class Fused:
    """What one signature built to: the forward, its VJPs (one per set of inputs that need
    a gradient) and which inputs each VJP reads."""

    __slots__ = ("calls", "forward", "graph", "slots", "vjps", "broken", "call", "node")

    def __init__(self) -> None:
        self.calls = 0
        self.forward: Callable | None = None
        self.graph: Graph | None = None  # the forward's simplified graph, to join residuals to
        self.slots: list[int] = []  # where the tensors are among the operands
        self.vjps: dict[int, Vjp | None] = {}  # by `run`'s bits of which inputs require grad
        self.broken = False
        self.call: tuple = ()  # (fn, keyword names, number of arguments): the same every call
        self.node: tuple = (None, None)  # (grad_fn name, its node class), as last made


_cache: OrderedDict[tuple, Fused] = OrderedDict()  # least recently used first
_lock = threading.Lock()


def entry(key: tuple) -> Fused:
    """The signature's entry, made most recently used (new ones evict beyond the bound)."""
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
        found = _cache[key] = Fused()
        limit = config.cache_size
        while limit is not None and len(_cache) > limit:
            _cache.popitem(last=False)
        return found


def cache_info() -> tuple[int, int | None]:
    """(signatures kept, their bound)."""
    return len(_cache), config.cache_size


def cache_clear() -> None:
    """Forget every signature and build."""
    with _lock:
        _cache.clear()


# ---------------------------------------------------------------- building

class _Call:
    """One composite call taken apart: the function, its operands (arguments, then keyword
    values), keyword names, and where the tensors are."""

    __slots__ = ("fn", "nargs", "keys", "operands", "slots")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, slots: list[int]) -> None:
        self.fn, self.nargs, self.keys = fn, len(args), tuple(kwargs)
        self.operands = (*args, *kwargs.values())
        self.slots = slots

    def arrays(self) -> list[np.ndarray]:
        return [self.operands[s]._data for s in self.slots]

    def run(self, *tracers: Tracer) -> Any:
        """The composite on `tracers` in place of its tensors, traced with the eager face."""
        values = list(self.operands)
        for slot, t in zip(self.slots, tracers):
            t.__class__ = _TorchTracer
            values[slot] = t
        out = self.fn(*values[:self.nargs], **dict(zip(self.keys, values[self.nargs:])))
        if not isinstance(out, Tracer):
            raise TypeError(f"{self.fn.__name__} returned {type(out).__name__}, not one value")
        return out


def _generate(traced: Any, name: str, outputs: list[str]) -> tuple[Callable, Any]:
    graph = simplify(traced.graph, check=config.verify)
    return _load(graph, name, outputs), graph


def _load(graph: Graph, name: str, outputs: list[str]) -> Callable:
    return codegen.load(codegen.generate(graph, name, f"symgrad fused {name}", outputs))


def _trace(body: Callable, arrays: list) -> Any:
    """Trace `body`; a warning while tracing is a failure (the unfused path gives it on
    every call, a fused one would not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return trace(body, *arrays)


def build_forward(call: _Call) -> tuple[Callable, Graph]:
    """The fused forward: the tensor operands' arrays in, the composite's output out; and
    its simplified graph."""
    return _generate(_trace(call.run, call.arrays()), call.fn.__name__, ["out"])


def build_vjp(call: _Call, wrt: tuple[bool, ...], out: np.ndarray,
              forward: Graph | None = None) -> Vjp | None:
    """The compiled VJP: (tensor arrays..., cotangent) -> the gradients of the tensors marked
    in `wrt` (zeros where the output does not depend on one), and which tensors its code
    reads; None when the output depends on none of them, as an eager output with no node.

    Given the forward's graph, the VJP's values that do not depend on the cotangent (the
    softmax of a cross-entropy) are computed by a forward joined to them and saved, as
    PyTorch's nodes save what their backward reads, instead of being computed again: the
    Vjp's `forward` returns the output and these residuals, and its `fn` takes them after
    the arrays."""
    found = []

    def body(*tracers: Tracer) -> tuple:
        *ins, ct = tracers
        y = call.run(*ins)
        y = Tracer(y.graph, stabilize(y.graph, y.node))
        wanted = [t for t, w in zip(ins, wrt) if w]
        grads = backprop(y.graph, y.node, [t.node for t in wanted], ct)
        found.extend(g is not None for g in grads)
        return tuple(t.zeros_like() if g is None else g for t, g in zip(wanted, grads))

    arrays = call.arrays()
    traced = _trace(body, [*arrays, np.zeros(out.shape, out.dtype)])
    if not any(found):
        return None
    graph = _c_order(simplify(traced.graph, check=config.verify))
    name, grads = f"{call.fn.__name__}_vjp", [f"grad_{i}" for i, w in enumerate(wrt) if w]
    used = {i for n in graph.nodes for i in n.inputs} | set(graph.outputs)
    reads = tuple(n in used for n in graph.inputs[:-1])
    split = None if forward is None else _split(forward, graph)
    if split is not None:
        joined, rest = split
        vjp = Vjp(_load(rest, name, grads), reads, call.slots, wrt, _load(joined, call.fn.__name__, ["out"]))
        if _same(np.asarray(vjp.forward(*arrays)[0]), out):
            return vjp
    return Vjp(_load(graph, name, grads), reads, call.slots, wrt)


def _split(forward: Graph, vjp: Graph) -> tuple[Graph, Graph] | None:
    """The forward joined to the VJP's values that do not depend on its cotangent (its last
    input) and that the forward computes anyway, returning the output then those of them the
    rest reads (the residuals); and the rest, taking (arrays..., residuals..., cotangent),
    which computes what only it needs. None when no value would be saved or a gradient does
    not depend on the cotangent."""
    ct = vjp.inputs[-1]
    varying = {ct}
    for n in vjp.nodes:
        if any(i in varying for i in n.inputs):
            varying.add(n)
    if any(o not in varying for o in vjp.outputs):
        return None
    # a view of the arrays (`x.T`) costs nothing to make again, and saved it would be a copy
    free = {n for n in vjp.nodes if n.op in ("input", "const")}
    for n in vjp.nodes:
        if n not in varying and OPS.get(n.op) is not None and OPS[n.op].view and n.inputs[0] in free \
                and all(i in free for i in n.inputs):
            free.add(n)
    joined = Graph()
    into = {n: joined.input(n.name, n.shape, n.dtype) for n in forward.inputs}
    into.update(zip(vjp.inputs[:-1], joined.inputs))
    out = _copy(forward.outputs[0], joined, into)
    computed = set(joined.nodes)  # what the forward computes anyway: saving it is free
    # the values the rest reads: saved where the forward has them, else made by the rest
    # from what it reads in turn
    residuals: dict[Node, None] = {}
    todo = [i for n in vjp.nodes if n in varying for i in n.inputs if i not in varying]
    seen = set()
    while todo:
        n = todo.pop()
        if n in seen or n in free:
            continue
        seen.add(n)
        if _copy(n, joined, into) in computed:
            residuals[n] = None
        else:
            todo.extend(n.inputs)
    residuals = sorted(residuals, key=lambda n: n.id)
    if not residuals:
        return None
    joined.outputs = [out, *(into[r] for r in residuals)]
    rest = Graph()
    back = {n: rest.input(n.name, n.shape, n.dtype) for n in vjp.inputs[:-1]}
    back.update((r, rest.input(f"residual{k}", r.shape, r.dtype)) for k, r in enumerate(residuals))
    back[ct] = rest.input(ct.name, ct.shape, ct.dtype)
    rest.outputs = [_copy(o, rest, back) for o in vjp.outputs]
    return simplify(joined, ("dce",)), rest


def _c_order(graph: Graph) -> Graph:
    """The graph with each gradient that is the transpose of a matrix product, (a @ b).T
    (`linear`'s weight: (x.T @ ct).T), computed as b.T @ a.T: in C order, the layout of
    the parameter it becomes the `.grad` of, which a transposed result would be copied to,
    element by element (as PyTorch's mm backward makes the gradient in its input's layout)."""
    outputs = [_product_of_transposes(graph, o) or o for o in graph.outputs]
    if outputs == graph.outputs:
        return graph
    graph.outputs = outputs
    return simplify(graph, ("dce",))


def _transposed(n: Node) -> bool:
    return n.op == "transpose" and tuple(n.params["axes"]) == (1, 0)


def _product_of_transposes(graph: Graph, o: Node) -> Node | None:
    """b.T @ a.T when node o is (a @ b).T of matrices (a transpose undone: x.T.T is x)."""
    product = o.inputs[0] if _transposed(o) else None
    if product is None or product.op != "matmul" or any(len(i.shape) != 2 for i in product.inputs):
        return None
    a, b = (i.inputs[0] if _transposed(i) else graph.apply(OPS["transpose"], (i,), {"axes": (1, 0)})
            for i in product.inputs)
    return graph.apply(OPS["matmul"], (b, a), {})


def _copy(node: Node, graph: Graph, done: dict[Node, Node]) -> Node:
    """`node` of another graph built again in `graph` (`done`: what is built already, the
    inputs first); equal subexpressions become one node there."""
    stack = [node]
    while stack:
        n = stack[-1]
        if n in done:
            stack.pop()
            continue
        todo = [i for i in n.inputs if i not in done]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        done[n] = graph.const(n.value) if n.op == "const" else graph.apply(
            OPS[n.op], tuple(done[i] for i in n.inputs), n.params, n.where)
    return done[node]


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether the fused forward's output is the unfused one's, bit for bit (NaN as NaN): a
    rewrite that changes even the last bit here keeps the signature unfused, so a program
    sees the same values whether or not a composite fused."""
    return got.shape == want.shape and got.dtype == want.dtype and bool(
        np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"))


def _near(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether a compiled gradient is the unfused one up to rounding: shape, dtype, and
    values within the square root of the dtype's epsilon (the simplifier's lean form of a
    gradient, `sigmoid(z) - y` for the unfused chain, differs in the last bits)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if got.dtype.kind != "f":
        return bool(np.array_equal(got, want))
    tol = float(np.sqrt(np.finfo(got.dtype).eps))
    scale = float(np.nanmax(np.abs(want), initial=1.0, where=np.isfinite(want)))
    return bool(np.allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True))


# ---------------------------------------------------------------- running

class Vjp:
    """A signature's compiled VJP for one set of inputs that need a gradient: the function,
    which tensor inputs its code reads, and whether its first use matched the unfused
    backward bit for bit (until then each backward also runs the unfused one and compares)."""

    __slots__ = ("fn", "reads", "trusted", "forward", "targets", "checks")

    def __init__(self, fn: Callable, reads: tuple[bool, ...], slots: list[int], wrt: tuple[bool, ...],
                 forward: Callable | None = None) -> None:
        self.fn, self.reads, self.trusted = fn, reads, False
        self.forward = forward  # (arrays...) -> (output, residuals...) that `fn` takes, or None
        # the operand each gradient `fn` returns is for, in order; and (k, operand) of each
        # tensor operand (the k-th) whose array `fn` reads, whose version backward checks
        self.targets = tuple(s for s, w in zip(slots, wrt) if w)
        self.checks = tuple((k, s) for k, (s, r) in enumerate(zip(slots, reads)) if r)


class Saved:
    """What a fused node keeps for backward: its signature's entry (which has what every
    call of it shares: the function, keyword names, where the tensors are) and VJP, the
    call's operands (to rematerialise) and input arrays, the residuals its VJP reads, and
    the versions its tensor operands were at, to check that none its VJP reads was written
    in place since (None: all at version 0; a tensor without a counter is at 0, and a write
    makes one, so no counter is made here). Made per call by `run`, which sets the fields
    itself (no `__init__` frame)."""

    __slots__ = ("entry", "vjp", "operands", "arrays", "residuals", "seen")

    def _check(self, node: CompositeNode) -> None:
        operands, seen = self.operands, self.seen
        for k, slot in self.vjp.checks:
            counter = operands[slot]._vc
            if counter is None:  # never written: at version 0, as when saved
                continue
            version = 0 if seen is None else seen[k]
            if counter[0] != version:
                producer = node._next[slot]
                name = None if producer is None or type(producer) is AccumulateGrad else producer.name()
                raise RuntimeError(_modified(self.arrays[k], name, int(counter[0]), int(version)))

    def trusted(self) -> bool:
        """Whether backward may run the compiled VJP alone."""
        return self.vjp.trusted

    def grads(self, node: CompositeNode, ct: np.ndarray) -> list:
        """The gradients (arrays; None where no gradient flows) for the node's edges from the
        compiled VJP on the cotangent `ct` (an array). A tensor given twice gets one per edge,
        which the walk sums as it sums any two gradients of one tensor."""
        self._check(node)
        vjp = self.vjp
        got = vjp.fn(*self.arrays, *self.residuals, ct)
        if type(got) is not tuple:
            got = (got,)
        out: list = [None] * len(self.operands)
        for slot, g in zip(vjp.targets, got):
            out[slot] = g if type(g) is np.ndarray else np.asarray(g)
        return out

    def backward(self, node: CompositeNode, ct: Any) -> list:
        """`grads` as the Tensors `CompositeNode.apply` returns: a tensor given twice gets
        its gradients summed at its first edge, as the unfused walk captures them."""
        grads = self.grads(node, ct._data)
        out: list = [None] * len(grads)
        first: dict[tuple[int, int], int] = {}
        for slot, (child, nr) in enumerate(node.next_functions):
            g = grads[slot]
            if g is None:
                continue
            where = first.setdefault((id(child), nr), slot)
            out[where] = g if out[where] is None else out[where] + g
        make = type(ct)._make
        return [None if g is None else make(g) for g in out]

    def compare(self, node: CompositeNode, ct: Any, want: list) -> list:
        """The compiled VJP's gradients, trusted from now on, if they are `want` (the unfused
        ones) up to rounding; else `want`, and the signature is unfused from its next call."""
        try:
            got = self.backward(node, ct)
        except Exception:  # noqa: BLE001 - any failure of the generated code: not trusted
            got = None
        if got is not None and all((g is None) == (w is None) and (g is None or _near(g._data, w._data))
                                   for g, w in zip(got, want)):
            self.vjp.trusted = True
            return got
        self.entry.broken = True
        return want

    @property
    def call(self) -> _Call:
        """The call taken apart, as a build takes it."""
        (fn, keys, nargs), operands = self.entry.call, self.operands
        return _Call(fn, operands[:nargs], dict(zip(keys, operands[nargs:])), self.entry.slots)

    def rematerialise(self, node: CompositeNode) -> Any:
        """The composite's eager definition run again on its inputs, recorded: its output,
        whose graph reaches the same inputs."""
        self._check(node)
        call = self.call
        with enable_grad():
            return call.fn(*call.operands[:call.nargs], **dict(zip(call.keys, call.operands[call.nargs:])))


_new = object.__new__


def run(tensor: type, fn: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    """A composite call on eager tensors: fused once its signature is hot, else unfused.
    (A composite call runs per step: its key, arrays, edges and saved values are made in
    one pass, without a `_Call`, once its signature is built.)"""
    if not ENABLED or _modes.anomaly:
        return composite_node(tensor, fn, name, args, kwargs)
    keys = tuple(kwargs) if kwargs else ()
    operands = (*args, *kwargs.values()) if kwargs else args
    key = signature(fn, keys, operands, tensor)
    if key is None:
        return composite_node(tensor, fn, name, args, kwargs)
    e = _cache.get(key)  # `entry`, without the lock on a hit: each step is one
    if e is None:
        e = entry(key)
    else:
        try:
            _cache.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile: this call still has it
            pass
    if e.broken:
        return composite_node(tensor, fn, name, args, kwargs)
    if e.forward is None:
        e.calls += 1
        if e.calls < FUSE_FROM:
            return composite_node(tensor, fn, name, args, kwargs)
        call = _Call(fn, args, kwargs, [i for i, a in enumerate(operands) if isinstance(a, tensor)])
        if not _build(e, call, tensor, args, kwargs):
            return composite_node(tensor, fn, name, args, kwargs)
    # one pass over the tensor operands: their arrays; a bit each, after a leading 1, for
    # those that require grad; the node's edges (None where no gradient flows), output
    # numbers only when one is not 0; the versions to check, only if one has a counter
    slots = e.slots
    arrays = []
    wrt = 1
    nodes = [None] * len(operands)
    nrs = seen = None
    for s in slots:
        t = operands[s]
        arrays.append(t._data)
        edge = t.grad_fn
        if edge is not None:
            wrt += wrt + 1
            if t._output_nr:
                nrs = nrs or [0] * len(operands)
                nrs[s] = t._output_nr
        elif t._requires_grad:
            wrt += wrt + 1
            edge = t._acc or t._edge()[0]
        else:
            wrt += wrt
        nodes[s] = edge
        if t._vc is not None and seen is None:
            seen = tuple(0 if (c := operands[k]._vc) is None else c[0] for k in slots)
    grad = _modes.enabled and wrt & (wrt - 1)  # a bit set after the leading 1
    vjp = e.vjps.get(wrt, _NO_KEY) if grad else None
    try:
        if vjp is not None and vjp is not _NO_KEY and vjp.forward is not None:
            out, *residuals = vjp.forward(*arrays)
        else:
            out, residuals = e.forward(*arrays), ()
    except Exception:  # the definition's own error (checks of values the fused code cannot make)
        return composite_node(tensor, fn, name, args, kwargs)
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if vjp is _NO_KEY:
        call = _Call(fn, args, kwargs, slots)
        try:
            vjp = e.vjps[wrt] = build_vjp(call, _bits(wrt, len(slots)), out, e.graph)
        except Exception:  # an op whose rule does not trace: unfused from now on
            e.broken = True
            return composite_node(tensor, fn, name, args, kwargs)
        if vjp is not None and vjp.forward is not None:
            residuals = vjp.forward(*arrays)[1:]
    if vjp is None:
        return tensor._make(out)
    saved = _new(Saved)  # and the node: their fields set here
    saved.entry, saved.vjp, saved.operands, saved.arrays, saved.seen = e, vjp, operands, arrays, seen
    saved.residuals = tuple(residuals)
    made, cls = e.node  # the name is the call's, kept per signature: one lookup, not a cached call
    if made != name:
        cls = node_class(name, CompositeNode)
        e.node = (name, cls)
    node = _new(cls)
    node._next, node._nrs = tuple(nodes), None if nrs is None else tuple(nrs)
    node._hooks = node._retained = node._stack = node._inner = None
    node._fused = saved
    return tensor._make(out, node)


def _bits(wrt: int, n: int) -> tuple[bool, ...]:
    """`run`'s key of which tensor operands require grad (a bit each after a leading 1) as
    `build_vjp` takes it: a flag per tensor operand."""
    return tuple(bool(wrt >> (n - 1 - i) & 1) for i in range(n))


def _build(e: Fused, call: _Call, tensor: type, args: tuple, kwargs: dict) -> bool:
    """Build the signature's forward and check it against the unfused one on this call;
    on any failure the signature stays unfused (the unfused run's own error propagates)."""
    try:
        forward, graph = build_forward(call)
        got = np.asarray(forward(*call.arrays()))
    except Exception:
        e.broken = True
        return False
    try:
        with no_grad():
            want = call.fn(*args, **kwargs)
    except Exception:
        e.broken = True
        raise
    arrays = call.arrays()
    if not isinstance(want, tensor) or not _same(got, want._data) or any(
            np.may_share_memory(want._data, a) for a in arrays):
        e.broken = True
        return False
    e.forward, e.graph, e.slots = forward, graph, call.slots
    e.call = (call.fn, call.keys, call.nargs)
    return True


Tensor._fuse = staticmethod(run)
