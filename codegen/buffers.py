"""Buffer reuse: which temporaries a ufunc statement can write into (`out=`) instead of allocating.

A temporary is an array the generated function allocated itself; once no live name refers
to it (views included), a later ufunc result of the same shape and dtype is written into
it. The caller's arrays and the returned arrays are never reused. Small arrays are left
alone: for them `out=` saves nothing.
"""

from __future__ import annotations

from symgrad.ir import Graph, Node
from symgrad.ops import OPS

MIN_SIZE = 4096  # elements


def plan(graph: Graph, order: list[Node], reads: dict[Node, list[Node]] | None = None,
         fresh: frozenset[Node] = frozenset(), fixed: frozenset[Node] = frozenset()) -> dict[Node, Node]:
    """{statement node: buffer node it writes into} for the statements in `order`.

    `reads` overrides what a statement reads (a blocked loop's outputs read the loop's
    inputs); `fresh` statements always allocate, and `fixed` ones are written where the
    caller says, so the plan neither writes them into a temporary nor reuses them.
    """
    reads = reads or {}
    last: dict[Node, float] = {}
    for k, n in enumerate(order):
        for i in reads.get(n, n.inputs):
            last[i] = k
    for n in graph.outputs:
        last[n] = float("inf")
    statements = set(order)
    owners: dict[Node, set[Node]] = {}  # node -> the allocated buffers its value may share
    holders: dict[Node, set[Node]] = {}  # buffer -> the live nodes that share it
    reusable: set[Node] = set()
    free: list[Node] = []
    into: dict[Node, Node] = {}
    for k, n in enumerate(order):
        op = OPS[n.op]
        ins = [i for i in dict.fromkeys(reads.get(n, n.inputs)) if i in statements]
        if n in fixed:
            owners[n] = set()
        elif n in fresh:
            owners[n] = {n}
            if _big(graph, n):
                reusable.add(n)
        elif op.view:
            owners[n] = set(owners.get(n.inputs[0], ()))
        elif op.helpers:  # a user's forward may return one of its inputs
            owners[n] = {b for i in ins for b in owners.get(i, ())}
        elif op.inplace is not None:  # writes into input 0 when that temporary dies here
            base = n.inputs[0]
            dying = {i for i in ins if last[i] == k}
            if owners.get(base) == {base} and holders[base] <= dying and _fits(graph, base, n):
                into[n] = base
                owners[n] = {base}
            else:
                owners[n] = {n}
        else:
            target = None
            if op.ufunc is not None and _big(graph, n):
                dying = {i for i in ins if last[i] == k}
                target = next((i for i in ins if op.elementwise and owners.get(i) == {i}
                               and holders[i] <= dying and _fits(graph, i, n)), None)
                if target is None:
                    target = next((b for b in free if _fits(graph, b, n)), None)
                    if target is not None:
                        free.remove(target)
            if target is None:
                target = n
                if _big(graph, n):
                    reusable.add(n)
            else:
                into[n] = target
            owners[n] = {target}
        for b in owners[n]:
            holders.setdefault(b, set()).add(n)
        for m in _in_order(set(ins) | {n}):
            if last.get(m, k) <= k:  # m is not used after this statement
                for b in _in_order(owners.get(m, ())):
                    holders[b].discard(m)
                    if not holders[b] and b in reusable and b not in free:
                        free.append(b)
    return into


def _in_order(nodes: set[Node]) -> list[Node]:
    """Nodes in graph order: the buffers freed first are reused first, the same every run."""
    return sorted(nodes, key=lambda n: n.id)


def _fits(graph: Graph, b: Node, n: Node) -> bool:
    return b.shape == n.shape and b.dtype == n.dtype


def _big(graph: Graph, n: Node) -> bool:
    size = 1
    for d in n.shape:
        size *= d
    return size >= MIN_SIZE
