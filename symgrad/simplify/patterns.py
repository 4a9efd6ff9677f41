"""A small pattern matcher for rewrite rules, in the manner of tinygrad's `PatternMatcher`.

A rule is one row: a name that says the one thing it does, a pattern, and a function that
builds the replacement from what the pattern bound (or declines with None):

    Rule("x * 1 -> x", P("mul", (P.var("x"), P.const(1))), lambda b, m: m.keep("x"))

Rules see a node before it is made: `Builder.make(op, inputs, params)` offers it to each
rule whose pattern's op matches, in table order, and the first replacement wins, so a
table's order is its priority. Replacements are built with `Builder.make` too, so they are
simplified in turn. `rebuild` remakes a graph from its outputs through a builder: dead code
is dropped and equal subexpressions merge (structural hashing in `Graph.apply`) as a side
effect of every pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from symgrad.ir import Graph, Node
from symgrad.ops import OPS

_ANY = object()


@dataclass(frozen=True)
class P:
    """A pattern: a node's op (one name, several, or None for any), its inputs' patterns
    (None: any inputs), the name it is bound to, and for a scalar constant its value and
    whether it is weak. With `commutative`, two inputs also match the other way round."""

    op: str | tuple[str, ...] | None = None
    src: tuple[P, ...] | None = None
    name: str | None = None
    scalar: bool = False
    value: Any = _ANY
    weak: bool | None = None
    commutative: bool = False

    @staticmethod
    def var(name: str) -> P:
        """Any node, bound to `name`."""
        return P(name=name)

    @staticmethod
    def const(value: Any = _ANY, name: str | None = None, weak: bool | None = None) -> P:
        """A scalar constant (equal to `value`, if given)."""
        return P("const", name=name, scalar=True, value=value, weak=weak)

    def ops(self) -> tuple[str, ...] | None:
        return (self.op,) if isinstance(self.op, str) else self.op

    def matches(self, node: Any, bound: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every way `node` matches (a commutative pattern may match both ways round), each
        as `bound` extended with what this pattern binds."""
        ops = self.ops()
        if ops is not None and node.op not in ops:
            return
        if self.scalar:
            value = node.scalar
            if value is None or (self.value is not _ANY and not value == self.value):
                return
            if self.weak is not None and node.weak != self.weak:
                return
        if self.name is not None:
            if self.name in bound and bound[self.name] is not node:
                return
            bound = {**bound, self.name: node}
        if self.src is None:
            yield bound
            return
        orders = [node.inputs]
        if self.commutative and len(node.inputs) == 2:
            orders.append(node.inputs[::-1])
        for inputs in orders:
            if len(inputs) == len(self.src):
                yield from _all(self.src, inputs, bound)


def _all(patterns: tuple[P, ...], nodes: tuple[Any, ...], bound: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every way each of `nodes` matches its pattern, consistently bound."""
    if not patterns:
        yield bound
        return
    for first in patterns[0].matches(nodes[0], bound):
        yield from _all(patterns[1:], nodes[1:], first)


@dataclass
class Proposed:
    """A node about to be made: what a rule's pattern is matched against."""

    op: str
    inputs: tuple[Node, ...]
    params: Mapping[str, Any]
    graph: Graph
    scalar = None
    weak = False

    @property
    def shape(self) -> tuple[int, ...]:
        return OPS[self.op].out_shape(tuple(i.shape for i in self.inputs), self.params)

    @property
    def dtype(self) -> np.dtype:
        return OPS[self.op].out_dtype(tuple(i.type for i in self.inputs), self.params)


class Match(dict):
    """What a pattern bound, by name; `root` is the proposed node."""

    def __init__(self, bound: dict[str, Any], root: Proposed) -> None:
        super().__init__(bound)
        self.root = root

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def keep(self, name: str) -> Node | None:
        """The bound node itself, if the proposed node would have exactly its shape and dtype
        (`x * 1` with a broadcasting `1` is not `x`)."""
        node = self[name]
        return node if (self.root.shape, self.root.dtype) == (node.shape, node.dtype) else None


Rewrite = Callable[["Builder", Match], "Node | None"]


@dataclass(frozen=True)
class Rule:
    """One rewrite: its name (the rule, as `x * 1 -> x`), pattern and replacement."""

    name: str
    pattern: P
    rewrite: Rewrite


class Rules:
    """A table of rules, tried in order; indexed by the op of each pattern's root."""

    def __init__(self, *tables: Sequence[Rule]) -> None:
        self.rules = [rule for table in tables for rule in table]
        self._by_op: dict[str, list[Rule]] = {}

    def candidates(self, op: str) -> list[Rule]:
        found = self._by_op.get(op)
        if found is None:
            found = [r for r in self.rules if r.pattern.ops() is None or op in r.pattern.ops()]
            self._by_op[op] = found
        return found


class Builder:
    """A graph under construction whose `make` offers each new node to the rules first.

    `fired` counts the replacements each rule made; `where` is the user's line that new
    nodes come from; `origin`, which `rebuild` sets, is the graph being rebuilt, its live
    nodes and the mapping of its nodes to the new ones (see `shared`).
    """

    def __init__(self, rules: Rules, graph: Graph | None = None) -> None:
        self.g = Graph() if graph is None else graph
        self.rules = rules
        self.where = ""
        self.fired: dict[str, int] = {}
        self.origin: tuple[Graph, set[Node], dict[Node, Node]] | None = None
        self._made: Counter[Node] = Counter()  # consumers among the first `_made_upto` nodes
        self._made_upto = 0
        self._users: Counter[Node] | None = None  # consumers in the graph being rebuilt
        self._expected: Counter[Node] = Counter()  # of the first `_mapped_upto` mapped nodes
        self._mapped_upto = 0

    def make(self, op: str, inputs: tuple[Node, ...], params: Mapping[str, Any]) -> Node:
        proposed = None
        for rule in self.rules.candidates(op):
            if proposed is None:
                proposed = Proposed(op, tuple(inputs), params, self.g)
            for bound in rule.pattern.matches(proposed, {}):
                node = rule.rewrite(self, Match(bound, root=proposed))
                if node is not None:
                    self.fired[rule.name] = self.fired.get(rule.name, 0) + 1
                    return node
        return self.g.apply(OPS[op], tuple(inputs), params, self.where)

    def shared(self, n: Node) -> bool:
        """Whether node n has, or will have, more than one consumer (an output counts as
        one): among the nodes made so far, or as the nodes it was made for have in the graph
        being rebuilt. So a rule can tell a value made for one use from one computed anyway.
        Counted when asked, from where the last count stopped: no cost to `make`."""
        nodes = self.g.nodes
        for m in nodes[self._made_upto:]:
            self._made.update(set(m.inputs))
        self._made_upto = len(nodes)
        if self.origin is not None:
            graph, live, mapping = self.origin
            if self._users is None:
                self._users = Counter(graph.outputs)
                for m in graph.nodes:
                    if m in live:
                        self._users.update(set(m.inputs))
            for old, new in islice(mapping.items(), self._mapped_upto, None):
                self._expected[new] += self._users[old]
            self._mapped_upto = len(mapping)
        return max(self._made[n], self._expected[n]) > 1

    def const(self, value: Any) -> Node:
        return self.g.const(value)

    def typed(self, node: Node, like: Node) -> Node:
        """`node` with the shape and dtype of `like`, the node it replaces as a graph output.

        Inside a graph a rewrite may narrow a dtype (a float32 value times a broadcast
        Python float stays float32, as in NumPy); what the graph returns keeps its type.
        """
        if node.shape != like.shape:
            node = self.make("broadcast_to", (node,), {"shape": like.shape})
        if node.dtype != like.dtype:
            node = self.make("astype", (node,), {"dtype": like.dtype.name})
        return node


def rebuild(graph: Graph, rules: Rules, fired: dict[str, int] | None = None) -> Graph:
    """A new graph computing the same outputs, each node offered to `rules` first. The rules
    that fired are counted into `fired`, if given."""
    b = Builder(rules)
    mapping = {n: b.g.input(n.name, n.shape, n.dtype) for n in graph.inputs}
    live = graph.live()
    b.origin = (graph, live, mapping)
    for n in graph.nodes:
        if n not in live or n in mapping:
            continue
        if n.op == "const":
            mapping[n] = b.g.const(n.value)
            continue
        b.where = n.where
        mapping[n] = b.make(n.op, tuple(mapping[i] for i in n.inputs), n.params)
    b.g.outputs = [b.typed(mapping[n], n) for n in graph.outputs]
    if fired is not None:
        for name, count in b.fired.items():
            fired[name] = fired.get(name, 0) + count
    return b.g
