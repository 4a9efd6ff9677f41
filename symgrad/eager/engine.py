"""Eager autograd: grad mode, graph nodes (`grad_fn` objects) and the backward walk.

A node holds what one op application saved (its inputs and its output's data); its
`apply` calls the registry's VJP rules on those saved values. An edge is `(node, output_nr)`.
The walk is iterative, so a chain of 100,000 ops backpropagates without recursion.
"""

from __future__ import annotations

import functools
import os
import threading
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from symgrad.ops import Op, vjp

_mode = threading.local()

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


# ---------------------------------------------------------------- grad mode

def is_grad_enabled() -> bool:
    """Whether ops on tensors that require grad are recorded (thread-local)."""
    return getattr(_mode, "enabled", True)


def is_anomaly_enabled() -> bool:
    """Whether nodes remember where they were created and backward checks for NaN."""
    return getattr(_mode, "anomaly", False)


class _Mode:
    """Sets a thread-local flag for a `with` block; also usable as a decorator."""

    _attr = "enabled"
    _flag: bool

    def __enter__(self) -> None:
        self._prev = getattr(_mode, self._attr, self._attr == "enabled")
        setattr(_mode, self._attr, self._flag)

    def __exit__(self, *exc: Any) -> None:
        setattr(_mode, self._attr, self._prev)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper

    def _clone(self) -> _Mode:
        return type(self)()


class _NoParamMode(_Mode):
    """A mode that, like PyTorch's, also decorates without parentheses: `@no_grad`."""

    def __new__(cls, fn: Callable | None = None) -> Any:
        self = super().__new__(cls)
        return self(fn) if fn is not None else self


class no_grad(_NoParamMode):
    """Disable recording: results of ops have `requires_grad=False`."""

    _flag = False


class enable_grad(_NoParamMode):
    """Re-enable recording inside a `no_grad` block."""

    _flag = True


class inference_mode(_Mode):
    """Like `no_grad` (NumPy has no cheaper mode to switch to); `inference_mode(False)`
    turns recording on, as PyTorch's does. Also a decorator, with or without parentheses."""

    def __new__(cls, mode: Any = True) -> Any:
        self = super().__new__(cls)
        if callable(mode):
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode: Any = True) -> None:
        self._mode = bool(mode) if not callable(mode) else True
        self._flag = not self._mode

    def _clone(self) -> _Mode:
        return inference_mode(self._mode)


class set_grad_enabled(_Mode):
    """Turn recording on or off: at once when called, or for a `with` block or a function."""

    def __init__(self, mode: bool) -> None:
        self._prev = is_grad_enabled()
        self._flag = bool(mode)
        _mode.enabled = self._flag

    def __enter__(self) -> None:
        if not hasattr(self, "_prev"):  # a decorated call: the constructor ran earlier
            self._prev = is_grad_enabled()
        _mode.enabled = self._flag

    def __call__(self, fn: Callable) -> Callable:
        _mode.enabled = self._prev  # decorating must not change the mode; calling does
        return super().__call__(fn)

    def _clone(self) -> _Mode:
        clone = set_grad_enabled.__new__(set_grad_enabled)
        clone._flag = self._flag
        return clone


class detect_anomaly(_Mode):
    """While on, backward names the forward op and line behind a gradient that is NaN."""

    _attr = "anomaly"

    def __init__(self, mode: bool = True) -> None:
        self._flag = bool(mode)

    def _clone(self) -> _Mode:
        return detect_anomaly(self._flag)


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for this thread."""
    _mode.anomaly = bool(mode)


# ---------------------------------------------------------------- graph nodes

class Node:
    """A `grad_fn`: a node of the backward graph, named like PyTorch's (`AddBackward0`)."""

    __slots__ = ("next_functions", "_hooks", "_retained", "_stack", "__weakref__")
    n_outputs = 1

    def _init(self, edges: tuple) -> None:
        self.next_functions = edges
        self._hooks: dict[int, list[Callable]] | None = None
        self._retained: dict[int, weakref.ref] | None = None
        self._stack = _user_frames() if is_anomaly_enabled() else None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        raise NotImplementedError

    def release(self) -> None:
        """Free saved buffers after a backward without `retain_graph`."""

    def register_hook(self, nr: int, hook: Callable) -> None:
        self._hooks = self._hooks or {}
        self._hooks.setdefault(nr, []).append(hook)

    def retain(self, nr: int, tensor: Any) -> None:
        self._retained = self._retained or {}
        self._retained[nr] = weakref.ref(tensor)

    def _pre_hooks(self, cts: list, create_graph: bool) -> list:
        """Tensor hooks may replace the gradient; retained grads see the result."""
        for nr, hooks in (self._hooks or {}).items():
            for hook in hooks:
                if cts[nr] is not None:
                    new = hook(cts[nr])
                    cts[nr] = cts[nr] if new is None else new
        for nr, ref in (self._retained or {}).items():
            tensor = ref()
            if tensor is not None and cts[nr] is not None:
                tensor._accumulate_grad(cts[nr], create_graph)
        return cts

    def _where_created(self) -> str:
        if not self._stack:
            return ""
        op = getattr(self, "_op", None)
        what = f"forward op '{op.name}'" if op is not None else "forward call"
        lines = "".join(traceback.format_list(self._stack[-2:]))
        return f" The {what} that made {self.name()} was called at:\n{lines}"


class AccumulateGrad(Node):
    """The edge into a leaf that requires grad: adds the incoming gradient to `.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable: Any) -> None:
        self._init(())
        self.variable = variable

    def _pre_hooks(self, cts: list, create_graph: bool) -> list:
        for hook in self.variable._hooks or ():
            new = hook(cts[0])
            cts[0] = cts[0] if new is None else new
        return cts


class OpNode(Node):
    """One recorded primitive: its op, params, saved inputs, output data and their versions."""

    __slots__ = ("_op", "_params", "_saved")

    def __init__(self, op: Op, params: dict, inputs: tuple, ans: Any, versions: tuple,
                 edges: tuple) -> None:
        self._init(edges)
        self._op, self._params = op, params
        self._saved = (inputs, ans, versions)

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        if self._saved is None:
            raise RuntimeError(_FREED)
        inputs, ans_data, versions = self._saved
        for counter, seen, data, producer in versions:
            if counter[0] != seen:
                raise RuntimeError(_modified(data, producer, counter[0], seen))
        ans = _tensor_of(ans_data, self if create_graph else None)
        return [
            None if edge[0] is None else vjp(self._op, i, cts[0], ans, inputs, self._params)
            for i, edge in enumerate(self.next_functions)
        ]

    def release(self) -> None:
        # a linear op's VJP reads only shapes, so like PyTorch's AddBackward0 it saves nothing
        if not self._op.linear:
            self._saved = None


class CompositeNode(Node):
    """A composite function shown as one node: its backward walks the primitives inside it."""

    __slots__ = ("_inner",)

    def __init__(self, inner: tuple, edges: tuple) -> None:
        self._init(edges)
        self._inner = inner

    def apply(self, cts: list, create_graph: bool, retain_graph: bool) -> list:
        targets = [e for e in self.next_functions if e[0] is not None]
        got = walk([(self._inner, cts[0])], retain_graph, create_graph, capture=targets, stop=True)
        seen: set = set()
        out = []
        for edge in self.next_functions:
            key = (id(edge[0]), edge[1])
            out.append(None if edge[0] is None or key in seen else got.get(edge))
            seen.add(key)
        return out


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


def _tensor_of(data: Any, grad_fn: Node | None) -> Any:
    from symgrad.eager.tensor import Tensor  # the engine is the tensor's back end; cycle by design
    return Tensor._make(data, grad_fn=grad_fn)


# ---------------------------------------------------------------- the backward walk

def _toposort(roots: Iterable[Node]) -> list[Node]:
    """Nodes reachable from `roots`, each before every node it feeds (consumers first)."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child, _ in children:
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
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
    """
    order = _toposort(edge[0] for edge, _ in seeds)
    if capture is not None:
        order = _needed(order, capture)
    targets = {(id(n), nr): (n, nr) for n, nr in capture or ()}
    buffers: dict[int, list] = {}
    for (node, nr), ct in seeds:
        _send(buffers, node, nr, ct)
    captured: dict[Edge, Any] = {}
    leaves: list[tuple[AccumulateGrad, Any]] = []
    done: list[Node] = []
    anomaly = is_anomaly_enabled()
    with (enable_grad() if create_graph else no_grad()):
        for node in order:
            cts = buffers.pop(id(node), None)
            if cts is None:
                continue
            cts = node._pre_hooks(cts, create_graph)
            hit = [(id(node), nr) for nr in range(len(cts)) if (id(node), nr) in targets]
            for key in hit:
                if cts[key[1]] is not None:
                    captured[targets[key]] = cts[key[1]]
            if hit and stop:
                continue
            if isinstance(node, AccumulateGrad):
                if capture is None:
                    leaves.append((node, cts[0]))
                continue
            results = node.apply(cts, create_graph, retain_graph)
            if anomaly:
                _check_nan(node, results)
            done.append(node)
            for (child, nr), g in zip(node.next_functions, results):
                if child is not None and g is not None:
                    _send(buffers, child, nr, g)
    # only a walk that finished touches `.grad` or frees buffers: a failure leaves all as it was
    for node, ct in leaves:
        node.variable._accumulate_grad(ct, create_graph)
    if not retain_graph:
        for node in done:
            node.release()
    return captured


def _send(buffers: dict[int, list], node: Node, nr: int, g: Any) -> None:
    slot = buffers.setdefault(id(node), [None] * node.n_outputs)
    slot[nr] = g if slot[nr] is None else slot[nr] + g


def _needed(order: list[Node], capture: list[Edge]) -> list[Node]:
    """The nodes of `order` from which some capture edge can be reached."""
    need = {id(n) for n, _ in capture}
    for node in reversed(order):
        if any(c is not None and id(c) in need for c, _ in node.next_functions):
            need.add(id(node))
    return [n for n in order if id(n) in need]


def _check_nan(node: Node, results: list) -> None:
    for i, g in enumerate(results):
        if g is not None and np.isnan(np.asarray(g._data)).any():
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {i}th output."
                + node._where_created())
