"""Eager autograd: graph nodes (`grad_fn` objects), the backward walk, and `backward`/`grad`.

A node holds what one op application saved (its inputs and its output's data); its
`apply` calls the registry's VJP rules on those saved values: on Tensors with
`create_graph`, which records the gradient's graph, and otherwise on arrays, without
dispatch (`symgrad.eager.raw`). An edge is `(node, output_nr)`.
The walk is iterative, so a chain of 100,000 ops backpropagates without recursion. The
engine knows tensors only by their methods: the `Tensor` class is built on it, not the
other way round.
"""

from __future__ import annotations

import functools
import operator
import os
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from symgrad.eager.modes import _mode as _modes
from symgrad.ops import Value, vjp

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


# ---------------------------------------------------------------- graph nodes

class Node:
    """A `grad_fn`: a node of the backward graph, named like PyTorch's (`AddBackward0`).

    Its edges are kept flat: `_next`, the input nodes (None where no gradient flows; of an
    op with one input, that node itself), and `_nrs`, their output numbers (None when all
    are 0), so a recorded op keeps no tuple per edge for the cycle collector to rescan;
    `next_functions` builds PyTorch's pairs on access (`_nodes` gives the nodes)."""

    __slots__ = ("_next", "_nrs", "_hooks", "_retained", "_stack", "__weakref__")
    n_outputs = 1

    def _init(self, edges: tuple) -> None:
        self._next, self._nrs = _split(edges)
        self._hooks: dict[int, list[Callable]] | None = None
        self._retained: dict[int, weakref.ref] | None = None
        self._stack = _user_frames() if _modes.anomaly else None

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """The edges to the inputs' nodes, `(node, output_nr)` each, as PyTorch shows them."""
        nodes, nrs = _nodes(self), self._nrs
        return tuple(zip(nodes, nrs if nrs is not None else _zeros(len(nodes))))

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        raise NotImplementedError

    def apply_raw(self, cts: list, retain_graph: bool) -> list:
        """`apply` without `create_graph` on the walk's arrays (None where no gradient came),
        its gradients returned as arrays: the node sees Tensors, as it was written for."""
        visible = RAW["visible"]
        return RAW["arrays"](self.apply([None if g is None else visible(g) for g in cts], False,
                                        retain_graph))

    def release(self) -> None:
        """Free saved buffers after a backward without `retain_graph`."""

    def register_hook(self, nr: int, hook: Callable) -> None:
        self._hooks = self._hooks or {}
        self._hooks.setdefault(nr, []).append(hook)

    def retain(self, nr: int, tensor: Any) -> None:
        self._retained = self._retained or {}
        self._retained[nr] = weakref.ref(tensor)

    def _pre_hooks(self, cts: list, retained: list) -> list:
        """Tensor hooks may replace the gradient; retained grads see the result (appended to
        `retained` as (tensor, gradient), for the walk to store once it has finished)."""
        for nr, hooks in (self._hooks or {}).items():
            for hook in hooks:
                if cts[nr] is not None:
                    new = hook(cts[nr])
                    cts[nr] = cts[nr] if new is None else new
        for nr, ref in (self._retained or {}).items():
            tensor = ref()
            if tensor is not None and cts[nr] is not None:
                retained.append((tensor, cts[nr]))
        return cts

    def _where_created(self) -> str:
        if not self._stack:
            return ""
        op = getattr(self, "_op", None)
        what = f"forward op '{op.name}'" if op is not None else "forward call"
        lines = "".join(traceback.format_list(self._stack[-2:]))
        return f" The {what} that made {self.name()} was called at:\n{lines}"


class AccumulateGrad(Node):
    """The edge into a leaf that requires grad: adds the incoming gradient to `.grad`.

    The leaf holds its accumulator and the accumulator refers back to it weakly (no cycle),
    so a leaf used by many short-lived graphs makes one, not one per graph; `variable` is
    None once the leaf has died, and then nobody can read the gradient it would get. The
    leaf's hooks (`_leaf_hooks`, the leaf's own list) still run, as PyTorch runs them."""

    __slots__ = ("_variable", "_leaf_hooks")

    def __init__(self, variable: Any) -> None:
        self._init(())
        self._variable, self._leaf_hooks = weakref.ref(variable), variable._hooks

    @property
    def variable(self) -> Any:
        """The leaf tensor whose `.grad` this accumulates into (None once it has died)."""
        return self._variable()

    def _pre_hooks(self, cts: list, retained: list) -> list:
        for hook in self._leaf_hooks or ():
            new = hook(cts[0])
            cts[0] = cts[0] if new is None else new
        return cts


def _split(edges: tuple) -> tuple[tuple, tuple | None]:
    """`(node, output_nr)` pairs as `Node._next` and `Node._nrs` keep them."""
    nodes = tuple(e[0] for e in edges)
    nrs = tuple(e[1] for e in edges)
    return nodes, nrs if any(nrs) else None


def _nodes(node: Node) -> tuple:
    """The input nodes of `node` (`Node._next`, a tuple but for an op of one input)."""
    nodes = node._next
    return nodes if type(nodes) is tuple else (nodes,)


@functools.cache
def _zeros(n: int) -> tuple[int, ...]:
    return (0,) * n


class _Shape:
    """What a node keeps of a float input its backward does not read: its shape and dtype
    (to sum a gradient back to that shape), not its values."""

    __slots__ = ("shape", "dtype", "ndim", "column_major")

    def __init__(self, data: Any) -> None:
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim
        # a layout matmul's rule reads (`linalg._column_major`), as PyTorch keeps mm's strides
        self.column_major = data.ndim == 2 and data.flags.f_contiguous and not data.flags.c_contiguous


_SHAPES: dict[tuple, _Shape] = {}  # shape -> the _Shape of that shape and the dtype last asked
_CANONICAL: dict[tuple, _Shape] = {}  # (shape, dtype, column-major) -> its one _Shape


def shape_only(data: Any) -> _Shape:
    """The `_Shape` of an array: what a node keeps of an input its backward does not read,
    as PyTorch's AddBackward0 and ExpBackward0 keep no input. The graph then holds no
    intermediate it does not need. (`_SHAPES.get(data.shape)`, of `data.dtype`, first.)
    One `_Shape` per shape, dtype and layout, so the raw backward keys a node by the object
    itself (`symgrad.eager.raw.run`); one made before a clear is another key, as good. The
    shared one of a shape (`_SHAPES`) is never column-major: a lookup checks the layout."""
    column_major = data.ndim == 2 and data.flags.f_contiguous and not data.flags.c_contiguous
    key = (data.shape, data.dtype, column_major)
    shape = _CANONICAL.get(key)
    if shape is None:
        if len(_CANONICAL) > 4096:  # a long-running process meeting ever new shapes
            _CANONICAL.clear()
            _SHAPES.clear()
        shape = _CANONICAL[key] = _Shape(data)
    if not column_major:
        _SHAPES[data.shape] = shape
    return shape


class OpNode(Node):
    """One recorded primitive: its op, params, saved inputs, output data and their versions.

    `inputs` are what the backward reads of each input: a float input whose values it does
    not read is kept by its shape only (`shape_only`), and `ans` is None unless read; of an
    op of one input, that input itself, not a 1-tuple (as `_next`).
    The versions to check are kept without a tuple of their own: `seen`, the version of
    each input read when it was saved, None for the others (of one input: that version or
    None); `ans_vc` and `ans_seen`, the output's counter and version when saved. A counter
    is made when first asked for (an in-place write, a view): an input's is the saved
    tensor's own, still None if nothing wrote to it; the output's, which this node does
    not hold, it is handed then (`symgrad.eager.tensor._new_counter`).
    So a recorded op leaves the cycle collector its node and the tensors it saves, and
    makes it collect less often. Made by `symgrad.eager.tensor._record` only, which sets
    the fields itself (no `__init__` frame: a node is made per recorded op)."""

    __slots__ = ("_op", "_params", "_inputs", "_ans", "_seen", "_ans_vc", "_ans_seen")

    @property
    def _saved(self) -> tuple | None:
        """`(inputs, ans)`, or None once freed by a backward."""
        inputs = self._inputs
        if inputs is None:
            return None
        return (inputs if type(inputs) is tuple else (inputs,)), self._ans

    def saved_values(self) -> tuple[tuple, Any]:
        """The saved inputs and output data, checked: freed, or changed in place since, raises."""
        inputs, seen = self._inputs, self._seen
        if inputs is None:  # freed
            raise RuntimeError(_FREED)
        if type(inputs) is not tuple:  # one input
            inputs = (inputs,)
            seen = None if seen is None else (seen,)
        if seen is not None:
            for i, version in enumerate(seen):
                counter = None if version is None else inputs[i]._vc
                if counter is not None and counter[0] != version:
                    raise RuntimeError(self._modified(i, counter[0], version))
        counter = self._ans_vc
        if counter is not None and counter[0] != self._ans_seen:  # None: never written
            raise RuntimeError(self._modified(-1, counter[0], self._ans_seen))
        return inputs, self._ans

    def _modified(self, i: int, now: int, saved: int) -> str:
        """The message for saved value `i` (-1: the output) changed in place since."""
        if i < 0:
            return _modified(self._ans, self.name(), int(now), int(saved))
        producer = _nodes(self)[i]
        name = producer.name() if producer is not None and type(producer) is not AccumulateGrad else None
        return _modified(self._saved[0][i]._data, name, int(now), int(saved))

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        if not create_graph:  # the same rules on arrays: nothing to record
            return [None if g is None else RAW["visible"](g) for g in RAW["run"](self, RAW["arrays"](cts))]
        inputs, ans_data = self.saved_values()
        # a Tensor, as ct is (a linear op's rule reads no output)
        # (its own counter: the output's, made later, is still the one this node checks)
        ans = None if ans_data is None else type(cts[0])._make(ans_data, self, np.zeros(1, np.int64))
        return [
            None if node is None else vjp(self._op, i, cts[0], ans, inputs, self._params)
            for i, node in enumerate(_nodes(self))
        ]

    def release(self) -> None:
        # a linear op's VJP reads only shapes, so like PyTorch's AddBackward0 it saves nothing
        if not self._op.linear:
            self._inputs = self._ans = self._ans_vc = None


class OpNode2(OpNode):
    """An OpNode of two inputs (`x + y`, `h * w`): its two edges, what it keeps of its two
    inputs and the version of the second when read (`seen1`) sit in slots of its own, not
    in tuples: a recorded binary op too leaves the cycle collector its node alone.
    `_next` and `_inputs` give them as OpNode's tuples."""

    __slots__ = ("_edge0", "_edge1", "_kept0", "_kept1", "_seen1")

    @property
    def _next(self) -> tuple:
        return (self._edge0, self._edge1)

    @property
    def _inputs(self) -> tuple | None:
        kept = self._kept0
        return None if kept is _GONE else (kept, self._kept1)

    @_inputs.setter
    def _inputs(self, inputs: tuple | None) -> None:
        self._kept0, self._kept1 = (_GONE, None) if inputs is None else inputs

    def saved_values(self) -> tuple[tuple, Any]:
        """OpNode's, on the two inputs' slots."""
        a, b = self._kept0, self._kept1
        if a is _GONE:  # freed
            raise RuntimeError(_FREED)
        seen = self._seen
        if seen is not None and a._vc is not None and a._vc[0] != seen:
            raise RuntimeError(self._modified(0, a._vc[0], seen))
        seen = self._seen1
        if seen is not None and b._vc is not None and b._vc[0] != seen:
            raise RuntimeError(self._modified(1, b._vc[0], seen))
        counter = self._ans_vc
        if counter is not None and counter[0] != self._ans_seen:  # None: never written
            raise RuntimeError(self._modified(-1, counter[0], self._ans_seen))
        return (a, b), self._ans

    def release(self) -> None:
        """OpNode's, on the two inputs' slots (not through the `_inputs` setter)."""
        if not self._op.linear:
            self._kept0, self._kept1 = _GONE, None
            self._ans = self._ans_vc = None


_GONE = object()  # OpNode2._kept0 once a backward has freed the saved values


class CompositeNode(Node):
    """A composite function shown as one node.

    Unfused, its backward walks the primitives inside it. The inner walk frees nothing: with
    `create_graph`, the gradient graph it records reads the inner nodes' saved values, and a
    later backward through that graph reaches them directly. They are freed with this node,
    when the walk that ran it ends.

    Fused (`symgrad.eager.fused`), it holds no inner graph but what `fused` saved: its
    backward runs the compiled VJP on raw arrays, or, with `create_graph` (and at a compiled
    VJP's first use, to check it), runs the composite's definition again, recorded, and walks
    that as the unfused node does."""

    __slots__ = ("_inner", "_fused")

    def __init__(self, inner: tuple | None, edges: tuple, fused: Any = None) -> None:
        self._init(edges)
        self._inner, self._fused = inner, fused

    def _boundary(self) -> list[Edge]:
        return [e for e in self.next_functions if e[0] is not None]

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        root, fused = self._inner, self._fused
        if root is None:
            if fused is None:
                raise RuntimeError(_FREED)
            if not create_graph and fused.trusted():
                return fused.backward(self, cts[0])
            root = fused.rematerialise(self)._edge()
        got = walk([(root, cts[0])], True, create_graph, capture=self._boundary(), stop=True)
        seen: set = set()
        out = []
        for edge in self.next_functions:
            key = (id(edge[0]), edge[1])
            out.append(None if edge[0] is None or key in seen else got.get(edge))
            seen.add(key)
        if fused is not None and not create_graph:  # a compiled VJP's first use: checked
            return fused.compare(self, cts[0], out)
        return out

    def apply_raw(self, cts: list, retain_graph: bool) -> list:
        """A fused node's trusted compiled VJP straight on the walk's arrays; else `apply`."""
        fused = self._fused
        if self._inner is None and fused is not None and fused.trusted():
            return fused.grads(self, cts[0])
        return Node.apply_raw(self, cts, retain_graph)

    def release(self) -> None:
        if self._inner is None:
            self._fused = None
            return
        boundary = self._boundary()
        stop = {id(n) for n, _ in boundary}
        for node in _needed(_toposort([self._inner[0]], stop), boundary):
            if id(node) not in stop:
                node.release()


# How a backward without `create_graph` runs primitives' rules on arrays: `run(node, cts)`,
# `visible(g)` (the Tensor users see), `hold(g)` (what `_accumulate_grad` takes the array
# from), `arrays(gs)` (Tensors back to arrays) and `add(a, b)`. `symgrad.eager.raw`, built on the
# Tensor that is built on this engine, fills it in when the package loads.
RAW: dict[str, Callable] = {}


def _modified(data: Any, producer: str | None, now: int, saved: int) -> str:
    what = f"[{data.dtype} {list(data.shape)}]"
    if producer is not None:
        what += f", which is output 0 of {producer},"
    return (
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {what} is at version {now}; expected version {saved} instead. Hint: enable "
        "anomaly detection to find the operation that failed to compute its gradient, with "
        "symgrad.autograd.set_detect_anomaly(True).")


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # symgrad/


def _user_frames() -> list:
    """The call stack outside symgrad: where the user's code applied an op."""
    return [f for f in traceback.extract_stack() if not f.filename.startswith(_PACKAGE)]


@functools.cache
def node_class(name: str, base: type[Node]) -> type[Node]:
    """The node class called `name` (so `type(t.grad_fn).__name__` reads as in PyTorch)."""
    return type(name, (base,), {"__slots__": ()})


# ---------------------------------------------------------------- the backward walk

def _toposort(roots: Iterable[Node], stop: set[int] | None = None) -> list[Node]:
    """Nodes reachable from `roots`, each before every node it feeds (consumers first);
    nodes whose id is in `stop` are listed, but not what lies behind them. The walks that
    capture (`grad`, a composite's boundary) use it, to run only the nodes that reach the
    captured edges; the others count consumers instead (`_consumers`)."""
    order: list[Node] = []
    seen: set[int] = set()
    mark, done = seen.add, order.append
    for root in roots:
        if id(root) in seen:
            continue
        mark(id(root))
        stack = [(root, iter(_nodes(root)))]
        push, pop = stack.append, stack.pop
        while stack:
            node, children = stack[-1]
            for child in children:
                if child is not None and (key := id(child)) not in seen:
                    mark(key)
                    if stop and key in stop:
                        behind = ()
                    elif isinstance(child, OpNode2):  # its edges in slots (no `_next` tuple made)
                        behind = (child._edge0, child._edge1)
                    elif type(behind := child._next) is not tuple:
                        behind = (behind,)
                    push((child, iter(behind)))
                    break
            else:
                pop()
                done(node)
    order.reverse()
    return order


Edge = tuple[Node, int]


def walk(
    seeds: list[tuple[Edge, Any]],
    retain_graph: bool,
    create_graph: bool,
    capture: list[Edge] | None = None,
    stop: bool = False,
) -> dict[Edge, Any]:
    """Propagate cotangents from `seeds` (edge, gradient) through the graph.

    Without `capture`, gradients reaching leaves accumulate into their `.grad`. With it, the
    gradients flowing into the `capture` edges are returned instead (and with `stop`, the
    walk does not go past them: the boundary of a composite node).
    Without `create_graph` the gradients between nodes are bare arrays: a primitive's rules
    and a fused composite's compiled VJP run on them (`RAW`), and only what users see (hooks,
    retained and captured gradients, other nodes, `.grad`) is made a Tensor.
    """
    roots = [edge[0] for edge, _ in seeds]
    if capture is None:  # each node is run once its last consumer has sent its gradient
        pending = _consumers(roots)
        # grows as the walk goes; one root is no node's input (a graph has no cycle)
        order = roots if len(roots) == 1 else [n for n in dict.fromkeys(roots) if not pending[n]]
        targets = None
    else:  # a composite's boundary or `grad`'s inputs: only the nodes that reach them
        pending = None
        order = _needed(_toposort(roots, {id(n) for n, _ in capture} if stop else None), capture)
        targets = {(id(n), nr): (n, nr) for n, nr in capture}
    raw = not create_graph
    add = operator.add
    if raw:  # the rules run on arrays; users and other nodes see Tensors, `.grad` a holder's array
        run_raw, visible, add, arrays = RAW["run"], RAW["visible"], RAW["add"], RAW["arrays"]
        hold = RAW["hold"]
    buffers: dict[Node, list] = {}  # by the node itself: no id() per edge
    for (node, nr), ct in seeds:
        _send(buffers, node, nr, ct._data if raw else ct, add)
    captured: dict[Edge, Any] = {}
    leaves: list[tuple[AccumulateGrad, Any]] = []
    retained: list[tuple[Any, Any]] = []
    done: list[Node] = []
    anomaly = _modes.anomaly
    pop, get = buffers.pop, buffers.get
    recording = _modes.enabled  # enable_grad() or no_grad() for the walk, without their objects
    _modes.enabled = create_graph
    try:
        for node in order:
            cts = pop(node, None)
            if cts is None:  # no gradient reached it: what lies behind may still get some
                if pending is not None:
                    _skip(node, pending, order)
                continue
            hit = [(id(node), nr) for nr in range(len(cts)) if (id(node), nr) in targets] if targets else ()
            leaf = type(node) is AccumulateGrad
            if not (hit or node._hooks or node._retained or leaf and node._leaf_hooks):
                if leaf:  # the array leaves the list: `.grad` may take it (`_accumulate_grad`)
                    if capture is None:
                        leaves.append((node, hold(cts.pop()) if raw else cts[0]))
                    continue
                if not raw:
                    results = node.apply(cts, True, retain_graph)
                elif isinstance(node, OpNode):  # the usual node, nothing shown: its rules on arrays
                    results = run_raw(node, cts)
                else:
                    results = node.apply_raw(cts, retain_graph)
            else:
                if raw:
                    cts = [None if g is None else visible(g) for g in cts]
                if not (hit and stop):  # a composite's boundary: the outer walk's hooks
                    cts = node._pre_hooks(cts, retained)
                for key in hit:
                    if cts[key[1]] is not None:
                        captured[targets[key]] = cts[key[1]]
                if hit and stop:
                    continue
                if leaf:
                    if capture is None:
                        leaves.append((node, cts[0]))
                    continue
                if not raw:
                    results = node.apply(cts, True, retain_graph)
                elif isinstance(node, OpNode):
                    results = run_raw(node, arrays(cts))
                else:
                    results = arrays(node.apply(cts, False, retain_graph))
            if anomaly:
                _check_nan(node, results)
            if not retain_graph:
                done.append(node)
            # each gradient into its input's buffer (`_send`, inline: it runs once per edge)
            nrs = node._nrs  # `next_functions`, without making it (nor OpNode2's `_next`)
            if isinstance(node, OpNode2):
                children = (node._edge0, node._edge1)
            elif type(children := node._next) is not tuple:  # one input
                children = (children,)
            for i, child in enumerate(children):
                if child is None:
                    continue
                if pending is not None:  # ready once every consumer is done
                    left = pending[child] = pending[child] - 1
                    if not left:
                        order.append(child)
                if (g := results[i]) is None:
                    continue
                nr = 0 if nrs is None else nrs[i]
                slot = get(child)
                if slot is None:
                    slot = buffers[child] = [None] * child.n_outputs
                slot[nr] = g if slot[nr] is None else add(slot[nr], g)
            # the buffers hold the gradients now: a rule may write into one only they hold
            # (`symgrad.eager.raw.run`), and `.grad` may take it
            results = g = None
    finally:
        _modes.enabled = recording
    # only a walk that finished touches `.grad` or frees buffers: a failure leaves all as it was
    for tensor, ct in retained:
        tensor._accumulate_grad(ct, create_graph)
    for node, ct in leaves:
        variable = node._variable()
        if variable is not None:  # a dead leaf's gradient has no reader
            variable._accumulate_grad(ct, create_graph)
    if not retain_graph:
        for node in done:
            node.release()
    return captured


def _children(node: Node) -> tuple:
    """The input nodes of `node` (None where no gradient flows), as the walk reads them."""
    if isinstance(node, OpNode2):
        return (node._edge0, node._edge1)
    children = node._next
    return children if type(children) is tuple else (children,)


def _consumers(roots: list[Node]) -> dict[Node, int]:
    """How many edges lead into each node reachable from `roots`: the walk runs a node once
    that many consumers have sent their gradient (or none), so its gradient is whole. One
    pass with a stack, cheaper than a topological sort (PyTorch's engine counts too)."""
    pending = dict.fromkeys(roots, 0)
    stack = list(pending)
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, OpNode2):  # `_children`, inline: it runs once per node
            children = (node._edge0, node._edge1)
        elif type(children := node._next) is not tuple:
            children = (children,)
        for child in children:
            if child is not None:
                if child in pending:
                    pending[child] += 1
                else:
                    pending[child] = 1
                    if type(child) is not AccumulateGrad:  # a leaf's edge leads nowhere
                        push(child)
    return pending


def _skip(node: Node, pending: dict[Node, int], order: list[Node]) -> None:
    """A node that got no gradient is done: its inputs wait for one consumer less."""
    for child in _children(node):
        if child is not None:
            left = pending[child] = pending[child] - 1
            if not left:
                order.append(child)


def _send(buffers: dict[Node, list], node: Node, nr: int, g: Any,
          add: Callable[[Any, Any], Any] = operator.add) -> None:
    slot = buffers.setdefault(node, [None] * node.n_outputs)
    slot[nr] = g if slot[nr] is None else add(slot[nr], g)


def _needed(order: list[Node], capture: list[Edge]) -> list[Node]:
    """The nodes of `order` from which some capture edge can be reached."""
    need = {id(n) for n, _ in capture}
    for node in reversed(order):
        if any(c is not None and id(c) in need for c in _nodes(node)):
            need.add(id(node))
    return [n for n in order if id(n) in need]


def _check_nan(node: Node, results: list) -> None:
    for i, g in enumerate(results):  # Tensors, or the raw walk's arrays
        if g is not None and np.isnan(np.asarray(getattr(g, "_data", g))).any():
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {i}th output."
                + node._where_created())


# ---------------------------------------------------------------- torch.autograd.backward and grad

def _tensors(x: Any) -> list[Any]:
    return [x] if isinstance(x, Value._default) else list(x)


def _seeds(outputs: list[Any], grad_outputs: Any, create_graph: bool) -> list:
    if grad_outputs is None or type(grad_outputs) is list and len(grad_outputs) == 1 \
            and grad_outputs[0] is None and len(outputs) == 1:  # `loss.backward()`
        grads = [None] * len(outputs)
    else:
        grads = _grad_list(grad_outputs, len(outputs))
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:  # a fresh one of the output's shape and dtype, the walk's own
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seeds.append((out._edge(), type(out)._make(_one(out._data))))
            continue
        if not isinstance(g, Value._default):
            g = type(out)._make(np.asarray(g, dtype=out.dtype))
        elif not create_graph:  # the user's tensor: its buffer is theirs, never `.grad` itself
            g = type(out)._make(g._data)
        if g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                f"output[{i}] has a shape of {out.shape}.")
        seeds.append((out._edge(), g))
    return seeds


_ONES: dict[tuple, np.ndarray] = {}  # (shape, dtype) -> a size-1 array of one, to copy


def _one(data: np.ndarray) -> np.ndarray:
    """`np.ones_like(data)` of a size-1 array, a fresh buffer (the walk may write into it):
    a copy of a kept one, a tenth of `ones_like`'s dispatch on every backward."""
    key = (data.shape, data.dtype)
    one = _ONES.get(key)
    if one is None:
        one = _ONES[key] = np.ones(data.shape, data.dtype)
    return one.copy()


def _grad_list(grads: Any, n: int) -> list:
    single = isinstance(grads, Value._default) or not isinstance(grads, (list, tuple))
    grads = [grads] if single else list(grads)
    if len(grads) != n:
        raise RuntimeError(f"grad requires one gradient per output: got {len(grads)} for {n} outputs")
    return grads


def backward(tensors: Any, grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Any | None = None) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (or of `inputs`)."""
    outputs = _tensors(tensors)
    seeds = _seeds(outputs, grad_tensors, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        walk(seeds, retain, create_graph)
        return
    inputs = _tensors(inputs)
    _check_inputs(inputs)
    got = walk(seeds, retain, create_graph, capture=[t._edge() for t in inputs])
    for t in dict.fromkeys(inputs):
        g = got.get(t._edge())
        if g is not None:
            t._accumulate_grad(g, create_graph)


def _check_inputs(inputs: list[Any]) -> None:
    for t in inputs:
        if not isinstance(t, Value._default):
            raise TypeError(f"inputs must be Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")


def grad(outputs: Any, inputs: Any,
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool | None = None, materialize_grads: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    >>> x = symgrad.tensor(2.0, requires_grad=True)
    >>> symgrad.autograd.grad(x ** 3, x, create_graph=True)   # (tensor(12., grad_fn=...),)
    """
    outputs, inputs = _tensors(outputs), _tensors(inputs)
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False.")
    _check_inputs(inputs)
    seeds = _seeds(outputs, grad_outputs, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    got = walk(seeds, retain, create_graph, capture=[t._edge() for t in inputs])
    result = []
    for t in inputs:
        g = got.get(t._edge())
        if g is None and materialize_grads:
            g = type(t)._make(np.zeros_like(t._data))
        elif g is None and not allow_unused:
            raise RuntimeError(
                "One of the differentiated Tensors appears to not have been used in the graph. "
                "Set allow_unused=True if this is the desired behavior.")
        elif g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
