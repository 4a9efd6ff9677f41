"""Buffer reuse: which temporaries a ufunc statement can write into (`out=`) instead of allocating.

A temporary is an array the generated function allocated itself; once no live name refers
to it (views included), a later ufunc result of the same shape and dtype is written into
it. The caller's arrays and the returned arrays are never reused. Small arrays are left
alone: for them `out=` saves nothing.
"""

from __future__ import annotations

from symgrad.ir.graph import Graph
from symgrad.ops import OPS

MIN_SIZE = 4096  # elements


def plan(graph: Graph, order: list[int], reads: dict[int, list[int]] | None = None,
         fresh: frozenset[int] = frozenset(), fixed: frozenset[int] = frozenset()) -> dict[int, int]:
    """{statement node: buffer node it writes into} for the statements in `order`.

    `reads` overrides what a statement reads (a blocked loop's outputs read the loop's
    inputs); `fresh` statements always allocate, and `fixed` ones are written where the
    caller says, so the plan neither writes them into a temporary nor reuses them.
    """
    reads = reads or {}
    last: dict[int, float] = {}
    for k, n in enumerate(order):
        for i in reads.get(n, graph[n]["inputs"]):
            last[i] = k
    for n in graph.outputs:
        last[n] = float("inf")
    statements = set(order)
    owners: dict[int, set[int]] = {}  # node -> the allocated buffers its value may share
    holders: dict[int, set[int]] = {}  # buffer -> the live nodes that share it
    reusable: set[int] = set()
    free: list[int] = []
    into: dict[int, int] = {}
    for k, n in enumerate(order):
        attrs = graph[n]
        op = OPS[attrs["op"]]
        ins = [i for i in dict.fromkeys(reads.get(n, attrs["inputs"])) if i in statements]
        if n in fixed:
            owners[n] = set()
        elif n in fresh:
            owners[n] = {n}
            if _big(graph, n):
                reusable.add(n)
        elif op.view:
            owners[n] = set(owners.get(attrs["inputs"][0], ()))
        elif op.helpers:  # a user's forward may return one of its inputs
            owners[n] = {b for i in ins for b in owners.get(i, ())}
        elif op.inplace is not None:  # writes into input 0 when that temporary dies here
            base = attrs["inputs"][0]
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
        for m in set(ins) | {n}:
            if last.get(m, k) <= k:  # m is not used after this statement
                for b in owners.get(m, ()):
                    holders[b].discard(m)
                    if not holders[b] and b in reusable and b not in free:
                        free.append(b)
    return into


def _fits(graph: Graph, b: int, n: int) -> bool:
    return graph[b]["shape"] == graph[n]["shape"] and graph[b]["dtype"] == graph[n]["dtype"]


def _big(graph: Graph, n: int) -> bool:
    size = 1
    for d in graph[n]["shape"]:
        size *= d
    return size >= MIN_SIZE
