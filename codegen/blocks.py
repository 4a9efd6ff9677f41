"""Loop blocking: runs of elementwise statements on big arrays, computed a block at a time.

NumPy finishes one whole-array operation before it starts the next, so a chain of a dozen
elementwise ops over 10^6 values streams each temporary through memory, and each fresh
temporary costs page faults. Run over blocks of rows instead, the same statements keep their
temporaries small enough to stay in cache and to be reused from one block to the next:
the fusion a loop compiler would do, written as a plain `for` loop over slices.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from symgrad.ir import Graph, Node
from symgrad.ops import OPS

BLOCK = 8192  # elements per block: a dozen float64 temporaries this size (64 KB each) stay in L2;
# on the elementwise benchmark 8192 ran 0.72x the floor, 4096 0.78, 16384 0.78, 32768 0.82, 65536 0.83
MIN_SIZE = 1 << 17  # elements; below this the arrays are already cache-sized


@dataclass
class Block:
    """Consecutive statements computed one block of `rows` rows of axis 0 at a time."""

    nodes: list[Node]  # the statements, in program order
    outputs: list[Node]  # those read after the block or returned: whole arrays
    shape: tuple[int, ...]
    rows: int

    def sliced(self, graph: Graph, n: Node) -> bool:
        """Whether the outside value `n` is read a block at a time (else whole, broadcast)."""
        shape = n.shape
        return len(shape) == len(self.shape) and shape[0] == self.shape[0]


def schedule(graph: Graph, order: list[Node]) -> list[Node]:
    """`order` rearranged so that blockable statements of one shape come together: of the
    statements whose inputs are ready, the next is one that continues the current run if any
    does, else the first in `order`. Ready statements wait in heaps by position, one for all
    and one per blockable shape (taken ones are skipped when they surface): O(n log n)."""
    position = {n: k for k, n in enumerate(order)}
    waiting = {n: sum(1 for i in set(n.inputs) if i in position) for n in order}
    readers: dict[Node, list[Node]] = {}
    for n in order:
        for i in set(n.inputs):
            if i in position:
                readers.setdefault(i, []).append(n)
    eligible = {n: _eligible(graph, n) for n in order}
    ready: list[int] = []  # positions
    by_shape: dict[tuple[int, ...], list[int]] = {}

    def push(n: Node) -> None:
        heapq.heappush(ready, position[n])
        if eligible[n]:
            heapq.heappush(by_shape.setdefault(n.shape, []), position[n])

    def pop(heap: list[int]) -> Node | None:
        while heap:
            n = order[heapq.heappop(heap)]
            if n not in taken:
                return n
        return None
    for n in order:
        if waiting[n] == 0:
            push(n)
    out: list[Node] = []
    taken: set[Node] = set()
    while True:
        run = out[-1].shape if out and eligible[out[-1]] else None
        n = pop(by_shape[run]) if run in by_shape else None
        n = n or pop(ready)
        if n is None:
            return out
        taken.add(n)
        out.append(n)
        for m in readers.get(n, ()):
            waiting[m] -= 1
            if waiting[m] == 0:
                push(m)


def find(graph: Graph, order: list[Node]) -> list[Block]:
    """The maximal runs in `order` worth blocking: elementwise statements of one big shape
    that keep at least one temporary inside the loop."""
    blocks: list[Block] = []
    run: list[Node] = []
    for n in [*order, None]:
        if n is not None and run and _eligible(graph, n) and n.shape == run[0].shape:
            run.append(n)
            continue
        if run:
            block = _block(graph, order, run)
            if len(block.outputs) < len(block.nodes):
                blocks.append(block)
        run = [n] if n is not None and _eligible(graph, n) else []
    return blocks


def _eligible(graph: Graph, n: Node) -> bool:
    shape = n.shape
    return (OPS[n.op].elementwise and len(shape) > 0 and math.prod(shape) >= MIN_SIZE
            and _rows(shape) < shape[0])


def _rows(shape: tuple[int, ...]) -> int:
    return max(1, BLOCK // math.prod(shape[1:]))


def _block(graph: Graph, order: list[Node], run: list[Node]) -> Block:
    inside = set(run)
    read_after = {i for n in order if n not in inside for i in n.inputs}
    outputs = [n for n in run if n in read_after or n in graph.outputs]
    shape = run[0].shape
    return Block(run, outputs, shape, _rows(shape))
