"""Eager autograd: grad mode, graph nodes (`grad_fn` objects) and the backward walk.

A node holds what one op application saved (its inputs and its output's data); its
`apply` calls the registry's VJP rules on those saved values. The walk is iterative, so a
chain of 100,000 ops backpropagates without recursion.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

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


def _set_enabled(flag: bool) -> None:
    _mode.enabled = flag


class _GradMode:
    """A context manager that is also a decorator, as PyTorch's grad-mode classes are."""

    _flag: bool

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set_enabled(self._flag)

    def __exit__(self, *exc: Any) -> None:
        _set_enabled(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable recording: results of ops have `requires_grad=False`."""

    _flag = False


class enable_grad(_GradMode):
    """Re-enable recording inside a `no_grad` block."""

    _flag = True


# ---------------------------------------------------------------- graph nodes

class Node:
    """A `grad_fn`: a node of the backward graph, named like PyTorch's (`AddBackward0`)."""

    __slots__ = ("next_functions", "__weakref__")

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad(Node):
    """The edge into a leaf that requires grad: adds the incoming gradient to `.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self.next_functions = ()


class OpNode(Node):
    """One recorded primitive: its op, params, saved inputs and output data."""

    __slots__ = ("_op", "_params", "_saved")

    def __init__(self, op: Op, params: dict, inputs: tuple, ans: Any, edges: tuple) -> None:
        self._op, self._params = op, params
        self._saved = (inputs, ans)
        self.next_functions = edges

    def apply(self, ct: Any, create_graph: bool) -> list:
        if self._saved is None:
            raise RuntimeError(_FREED)
        inputs, ans_data = self._saved
        ans = _tensor_of(ans_data, self if create_graph else None)
        return [
            None if edge[0] is None else vjp(self._op, i, ct, ans, inputs, self._params)
            for i, edge in enumerate(self.next_functions)
        ]

    def release(self) -> None:
        # a linear op's VJP reads only shapes, so like PyTorch's AddBackward0 it saves nothing
        if not self._op.linear:
            self._saved = None


class CompositeNode(Node):
    """A composite function shown as one node: its backward walks the primitives inside it."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Node, edges: tuple) -> None:
        self._inner = inner
        self.next_functions = edges

    def apply(self, ct: Any, create_graph: bool, retain_graph: bool = True) -> list:
        targets = [e[0] for e in self.next_functions if e[0] is not None]
        got = walk([(self._inner, ct)], retain_graph, create_graph, capture=targets, stop=True)
        seen: set[int] = set()
        out = []
        for node, _ in self.next_functions:
            out.append(None if node is None or id(node) in seen else got.get(node))
            seen.add(id(node))
        return out


@functools.cache
def node_class(name: str, base: type[Node]) -> type[Node]:
    """The node class called `name` (so `type(t.grad_fn).__name__` reads as in PyTorch)."""
    return type(name, (base,), {"__slots__": ()})


def _tensor_of(data: Any, grad_fn: Node | None) -> Any:
    from symgrad.tensor import Tensor  # the engine is the tensor's back end; cycle by design
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


def walk(
    seeds: list[tuple[Node, Any]],
    retain_graph: bool,
    create_graph: bool,
    capture: list[Node] | None = None,
    stop: bool = False,
) -> dict[Node, Any]:
    """Propagate cotangents from `seeds` through the graph.

    Without `capture`, gradients reaching leaves accumulate into their `.grad`. With it, the
    gradients flowing into the `capture` nodes are returned instead (and with `stop`, the
    walk does not go past them: the boundary of a composite node).
    """
    order = _toposort(node for node, _ in seeds)
    if capture is not None:
        order = _needed(order, capture)
    targets = {id(n) for n in capture or ()}
    buffers: dict[int, Any] = {}
    for node, ct in seeds:
        buffers[id(node)] = _add(buffers.get(id(node)), ct)
    captured: dict[Node, Any] = {}
    leaves: list[tuple[AccumulateGrad, Any]] = []
    done: list[Node] = []
    with (enable_grad() if create_graph else no_grad()):
        for node in order:
            ct = buffers.pop(id(node), None)
            if ct is None:
                continue
            if id(node) in targets:
                captured[node] = ct
                if stop:
                    continue
            if isinstance(node, AccumulateGrad):
                if capture is None:
                    leaves.append((node, ct))
                continue
            cts = (node.apply(ct, create_graph, retain_graph)
                   if isinstance(node, CompositeNode) else node.apply(ct, create_graph))
            done.append(node)
            for (child, _), g in zip(node.next_functions, cts):
                if child is not None and g is not None:
                    buffers[id(child)] = _add(buffers.get(id(child)), g)
    # only a walk that finished touches `.grad` or frees buffers: a failure leaves all as it was
    for node, ct in leaves:
        node.variable._accumulate_grad(ct, create_graph)
    if not retain_graph:
        for node in done:
            if isinstance(node, OpNode):
                node.release()
    return captured


def _needed(order: list[Node], capture: list[Node]) -> list[Node]:
    """The nodes of `order` from which some capture node can be reached."""
    need = {id(n) for n in capture}
    for node in reversed(order):
        if any(c is not None and id(c) in need for c, _ in node.next_functions):
            need.add(id(node))
    return [n for n in order if id(n) in need]


def _add(acc: Any, g: Any) -> Any:
    return g if acc is None else acc + g
