"""Tensor contractions as one normal form: Einstein notation over a region of the graph.

`matmul`, products and sums over broadcast axes, adds and subtractions of such terms,
transposes, reshapes, broadcasts, basic indexing, diagonals (index-array `getitem` and its
adjoint `scatter_add`), scalar factors and identity-like constants are all one kind of
thing: a sum of products of operands over index labels. This pass reads each maximal region
of such nodes as a sum of `coef * einsum(terms -> out)` (adds distribute over products),
where

- a constant is read for its structure: an axis it is constant along is dropped (the
  operand does not depend on that index) and two axes it is zero off the diagonal of share
  one label (a Kronecker delta: `eye(n)` becomes the scalar 1 with labels `i, i`), so
  identities, batched reverse mode's identity cotangents and their broadcasts disappear by
  index substitution; a matrix output's seed `eye(n*m).reshape(n*m, n, m)` has its leading
  axis read as the compound of the next two;
- an elementwise product merges the labels of the axes it pairs (a label twice on one
  operand is its diagonal; twice on the output, a diagonal written into a zero matrix);
- a reshape that merges axes makes a compound axis (a tuple of labels), which a later
  reshape may split again.

A region is lowered again, by `symgrad.ops.einsum.contract` (pairwise, BLAS `matmul` where
something is contracted, in `np.einsum_path`'s order), only when that gains something: a
delta or diagonal that something is summed or multiplied through, or a node larger than its
operands and its result (`np.outer(x, x) * A` summed against an n x n x n identity). Other
regions are left as written. Equal contractions become equal nodes (canonical operand order
and label names), which the graph's structural hashing merges; equal summands add up.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symgrad.ir import Graph, Node
from symgrad.ops import OPS, Op
from symgrad.surface import Surface

_VIEWS = ("reshape", "broadcast_to", "transpose", "alias")
_ANALYSE_LIMIT = 1 << 22  # elements: larger constants are taken as they are
_REGION_LIMIT = 256  # nodes read into one contraction (keeps the reading linear in the graph)
_SUMMANDS_LIMIT = 32  # contractions a region may add up to


# ---------------------------------------------------------------- reading a node

def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _is_arange(node: Node, n: int) -> bool:
    value = node.value if node.op == "const" else None
    return (isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype.kind in "iu"
            and bool(np.array_equal(value, np.arange(n))))


def _basic_axes(index: tuple, ndim: int) -> list[int | None] | None:
    """For a basic index of full slices, `None`s and one '...': the source axis of each
    result axis (None for a new unit axis), or None if the index does anything else."""
    kinds = [item[0] for item in index]
    if any(k not in ("slice", "new", "...") for k in kinds) or kinds.count("...") > 1:
        return None
    if any(item[1:] != (None, None, None) for item in index if item[0] == "slice"):
        return None
    spelled = kinds.count("slice")
    if spelled > ndim:
        return None
    out: list[int | None] = []
    axis = 0
    if "..." not in kinds:
        kinds.append("...")
    for k in kinds:
        if k == "new":
            out.append(None)
        elif k == "slice":
            out.append(axis)
            axis += 1
        else:
            for _ in range(ndim - spelled):
                out.append(axis)
                axis += 1
    return out


def _diagonal_index(node: Node, arrays: tuple[Node, ...], shape: tuple[int, ...]) -> int:
    """How many trailing axes of `shape` an index (:, ..., arange(n), arange(n)) takes the
    main diagonal of; 0 if it is not such an index."""
    index = node.params["index"]
    r = len(index) - next((k for k, item in enumerate(index) if item[0] == "arr"), len(index))
    if r < 2 or any(item[0] != "arr" for item in index[-r:]):
        return 0
    if _basic_axes(index[:-r], len(shape) - r) is None:
        return 0
    if len(shape) < r or len(set(shape[-r:])) != 1:
        return 0
    n = shape[-1]
    return r if all(_is_arange(arrays[item[1]], n) for item in index[-r:]) else 0


def _scalar(node: Node) -> float | None:
    value = node.scalar
    if value is None or isinstance(value, (bool, np.bool_)) or np.iscomplexobj(value):
        return None
    return float(value)


def kind(node: Node) -> bool:
    """Whether `node` reads as a contraction of its inputs."""
    op = node.op
    if node.dtype.kind != "f" or 0 in node.shape:
        return False
    if op in ("mul", "sum", "neg", "matmul", "transpose", "alias", "broadcast_to", "add", "sub"):
        # float operands of a wider result are widened first (as the product widens them)
        return all(i.weak or i.dtype.kind == "f" and i.dtype.itemsize <= node.dtype.itemsize
                   for i in node.inputs)
    if op == "div":
        return _scalar(node.inputs[1]) not in (None, 0.0)
    if op == "reshape":  # one that splits an operand's own axis is found out when read
        return True
    if op == "getitem":
        x = node.inputs[0]
        return (_basic_axes(node.params["index"], len(x.shape)) is not None
                or _diagonal_index(node, node.inputs[1:], x.shape) > 0)
    if op == "scatter_add":
        shape = tuple(node.params["shape"])
        return (_basic_axes(node.params["index"], len(shape)) is not None
                or _diagonal_index(node, node.inputs[1:], shape) > 0)
    return False


# ---------------------------------------------------------------- constants

def structure(value: np.ndarray) -> tuple[np.ndarray, list[int | None], list[int]]:
    """A constant as (core, labels, sizes): `value[idx] == core[...]` where axis k of value
    has label labels[k] (None: value is constant along it), equal labels are a diagonal
    (value is zero off it) and core has one axis per distinct label, in label order."""
    shape = value.shape
    labels: list[int | None] = [None] * value.ndim
    reduced = value
    kept = []
    for k, n in enumerate(shape):
        if n > 1:
            first = np.take(reduced, [0], axis=k)
            if not np.array_equal(reduced, np.broadcast_to(first, reduced.shape)):
                kept.append(k)
                continue
            reduced = first
    reduced = reduced.reshape([shape[k] for k in kept])
    # kept axes that pair up as a diagonal share a label
    parent = list(range(len(kept)))
    for a in range(len(kept)):
        for b in range(a + 1, len(kept)):
            if parent[b] != b or reduced.shape[a] != reduced.shape[b]:
                continue
            eye = np.eye(reduced.shape[a], dtype=bool)
            on = eye.reshape([reduced.shape[a] if j in (a, b) else 1 for j in range(reduced.ndim)])
            if not np.any(np.where(on, 0, reduced)):
                parent[b] = parent[a]
    names: dict[int, int] = {}
    letters = []
    for a in range(len(kept)):
        root = parent[a]
        names.setdefault(root, len(names))
        letters.append(string.ascii_letters[names[root]])
    order = "".join(dict.fromkeys(letters))
    core = np.einsum("".join(letters) + "->" + order, reduced) if kept else reduced
    for a, k in enumerate(kept):
        labels[k] = names[parent[a]]
    sizes = [0] * len(names)
    for a, k in enumerate(kept):
        sizes[names[parent[a]]] = shape[k]
    return np.array(core, order="C"), labels, sizes


def _split_structure(value: np.ndarray) -> tuple:
    """`structure` of a constant, with its leading axis split into the sizes of the next
    ones when that shows more (batched reverse mode's seed: eye(n*m).reshape(n*m, n, m));
    the fourth item is that split, or ()."""
    core, labels, sizes = structure(value)
    shape = value.shape
    if value.ndim < 3:
        return core, labels, sizes, ()
    count, size = 1, shape[1]
    while size < shape[0] and count + 1 < value.ndim:
        count += 1
        size *= shape[count]
    if count > 1 and size == shape[0]:
        split = shape[1:count + 1]
        core2, labels2, sizes2 = structure(value.reshape(split + shape[1:]))
        if core2.size < core.size:
            return core2, labels2, sizes2, split
    return core, labels, sizes, ()


# ---------------------------------------------------------------- the normal form

@dataclass
class Term:
    """An operand: a node of the old graph or a constant array, with a label per axis
    (None for an axis of size 1, which is squeezed)."""

    source: Node | np.ndarray
    labels: list[int | None]


@dataclass
class Contraction:
    """coef * einsum(terms -> out): `out` has a label per axis of the node (None for a unit
    axis); a label of `out` that no term has is a broadcast."""

    terms: list[Term]
    coef: float
    out: list[int | None]
    gain: bool = False  # it holds a delta, a diagonal or a temporary larger than needed
    largest: int = 0  # elements of the largest node read into it (not a leaf)
    contracts: bool = False  # a sum, matmul or diagonal was read into it


class Unsupported(Exception):
    """A node the reader cannot follow (a reshape splitting an operand's own axis): it is
    read as an operand instead."""


def _flat(entries: list) -> list:
    """Labels of an output, compound axes (tuples, from merging reshapes) spread out."""
    return [k for e in entries for k in (e if isinstance(e, tuple) else (e,))]


@dataclass
class Reader:
    """Reads a region of the graph, rooted at one node, as a `Contraction`."""

    inline: set[Node]
    structures: dict[tuple, tuple] = field(default_factory=dict)  # shared by the pass's readers
    split: bool = True  # read a batched seed's leading axis as the compound of the next ones
    budget: int = _REGION_LIMIT
    sizes: dict[int, int] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)

    def label(self, n: int) -> int | None:
        if n == 1:
            return None
        k = len(self.sizes)
        self.sizes[k], self.parent[k] = n, k
        return k

    def find(self, k: Any) -> Any:
        """The representative of label k (of each part of a compound axis)."""
        if k is None:
            return None
        if isinstance(k, tuple):
            return tuple(self.find(j) for j in k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def unify(self, a: Any, b: Any) -> Any:
        """One label for two axes that index together (None: a unit axis, which broadcasts)."""
        a, b = self.find(a), self.find(b)
        if a is None or b is None:
            return b if a is None else a
        if isinstance(a, tuple) or isinstance(b, tuple):
            if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                    and all(self.sizes[x] == self.sizes[y] for x, y in zip(a, b))):
                raise Unsupported("a compound axis meets an axis of another make")
            return tuple(self.unify(x, y) for x, y in zip(a, b))
        if a != b:
            self.parent[max(a, b)] = min(a, b)
        return min(a, b)

    def _reshaped(self, out: list, shape: tuple[int, ...]) -> list:
        """The labels of a reshape to `shape` whose axes merge or split compound ones."""
        parts = [k for k in _flat(out) if k is not None]
        result: list = []
        for n in shape:
            if n == 1:
                result.append(None)
                continue
            group, size = [], 1
            while size < n and parts:
                group.append(parts.pop(0))
                size *= self.sizes[group[-1]]
            if size != n:
                raise Unsupported("a reshape splits an operand's own axis")
            result.append(group[0] if len(group) == 1 else tuple(group))
        return result

    def leaf(self, node: Node) -> Contraction:
        value = node.value if node.op == "const" else None
        if isinstance(value, np.ndarray) and 0 < value.size <= _ANALYSE_LIMIT and value.dtype.kind == "f":
            key = (node, self.split)
            if key not in self.structures:
                self.structures[key] = _split_structure(value) if self.split else (*structure(value), ())
            core, labels, sizes, split = self.structures[key]
            fresh = [self.label(n) for n in sizes]
            shape = split + node.shape[1:] if split else node.shape
            out = [self.label(n) if k is None else fresh[k] for k, n in zip(labels, shape)]
            if split:  # the leading axis is the compound of the first len(split)
                head = tuple(k for k in out[:len(split)] if k is not None)
                out = [head if len(head) > 1 else head[0]] + out[len(split):]
            size = node.value.size
            if core.size <= 1 or not np.any(core) or np.all(core == core.flat[0]):
                c = float(core.flat[0]) if core.size else 0.0
                return Contraction([], c, out, gain=size > 1, largest=size)
            term = Term(core, [fresh[k] for k in range(len(sizes))])
            return Contraction([term], 1.0, out, gain=core.size < size, largest=size)
        if node.op == "const":
            value = _scalar(node)
            if value is not None:
                return Contraction([], value, [])
        source = node.inputs[0] if node.op == "reshape" else None
        if source is not None and self.split and source not in self.inline:
            # merged axes stay compound: the operand is what the reshape views (if computed)
            labels = [self.label(n) for n in source.shape]
            try:
                return Contraction([Term(source, labels)], 1.0, self._reshaped(labels, node.shape))
            except Unsupported:
                pass
        labels = [self.label(n) for n in node.shape]
        return Contraction([Term(node, labels)], 1.0, list(labels))

    def read(self, node: Node, root: bool = False) -> list[Contraction]:
        """The region at `node` as a sum of contractions (adds distribute over products)."""
        if not root and (node not in self.inline or self.budget <= 0):
            return [self.leaf(node)]
        self.budget -= 1
        try:
            return self._read(node, root)
        except Unsupported:
            if root:
                raise
            return [self.leaf(node)]

    def _read(self, node: Node, root: bool) -> list[Contraction]:
        op, ins = node.op, node.inputs
        if op in ("mul", "matmul"):
            a, b = self.read(ins[0]), self.read(ins[1])
            if len(a) * len(b) > _SUMMANDS_LIMIT:
                return [self.leaf(node)]
            pairs = [(x, y) for x in a for y in b]
            if len(pairs) > 1:
                pairs = [(self.clone(x), self.clone(y)) for x, y in pairs]
            cs = [self._product(x, y, node.shape) if op == "mul" else self._matmul(x, y, ins)
                  for x, y in pairs]
        elif op in ("add", "sub"):
            a, b = self.read(ins[0]), self.read(ins[1])
            if len(a) + len(b) > _SUMMANDS_LIMIT:
                return [self.leaf(node)]
            for c in b if op == "sub" else ():
                c.coef = -c.coef
            cs = a + b
            for c, x in zip(cs, [ins[0]] * len(a) + [ins[1]] * len(b)):
                c.out = self._broadcast(c.out, x.shape, node.shape)
        elif op == "getitem":
            cs = [self._getitem(node, c) for c in self.read(ins[0])]
        elif op == "scatter_add":
            cs = [self._scatter(node, c) for c in self.read(ins[0])]
        else:
            cs = self.read(ins[0])
            for c in cs:
                self._unary(node, c)
        for c in cs:
            c.contracts = c.contracts or op in ("sum", "matmul", "getitem", "scatter_add")
            if op not in _VIEWS and not root:
                c.largest = max(c.largest, _size(node.shape))
        return cs

    def _unary(self, node: Node, c: Contraction) -> None:
        op, ins = node.op, node.inputs
        if op == "div":
            c.coef /= _scalar(ins[1])
        elif op == "neg":
            c.coef = -c.coef
        elif op in ("alias", "reshape"):
            c.out = self._reshaped(c.out, node.shape)
        elif op == "broadcast_to":
            c.out = self._broadcast(c.out, ins[0].shape, node.shape)
        elif op == "transpose":
            c.out = [c.out[k] for k in node.params["axes"]]
        else:
            self._sum(c, node.params["axes"], node.params["keepdims"])

    def clone(self, c: Contraction) -> Contraction:
        """c with fresh labels: a summand used in two products must not tie their labels."""
        fresh: dict[int, int | None] = {}

        def new(k: Any) -> Any:
            k = self.find(k)
            if k is None:
                return None
            if isinstance(k, tuple):
                return tuple(new(j) for j in k)
            if k not in fresh:
                fresh[k] = self.label(self.sizes[k])
            return fresh[k]

        terms = [Term(t.source, [new(k) for k in t.labels]) for t in c.terms]
        return Contraction(terms, c.coef, [new(k) for k in c.out], c.gain, c.largest, c.contracts)

    def _sum(self, c: Contraction, axes: tuple[int, ...], keepdims: bool) -> Contraction:
        c.out = [self.find(k) for k in c.out]
        kept = _flat([lab for k, lab in enumerate(c.out) if k not in axes])
        in_terms = {self.find(k) for t in c.terms for k in t.labels}
        for lab in set(_flat([c.out[k] for k in axes])) - {None} - in_terms - set(kept):
            c.coef *= self.sizes[lab]  # the sum of a broadcast along an axis of that size
        c.out = [None if k in axes else lab for k, lab in enumerate(c.out) if keepdims or k not in axes]
        return c

    def _broadcast(self, out: list, shape: tuple, to: tuple) -> list:
        width = len(to) - len(shape)
        lead = [self.label(n) for n in to[:width]]
        return lead + [self.label(n) if lab is None else lab for lab, n in zip(out, to[width:])]

    def _product(self, a: Contraction, b: Contraction, shape: tuple) -> Contraction:
        pa = [None] * (len(shape) - len(a.out)) + a.out
        pb = [None] * (len(shape) - len(b.out)) + b.out
        out = []
        gain = a.gain or b.gain
        for la, lb, n in zip(pa, pb, shape):
            if la is not None and lb is not None:
                out.append(self.unify(la, lb))
            elif la is None and lb is None:
                out.append(self.label(n))
            else:
                out.append(la if lb is None else lb)
        return Contraction(a.terms + b.terms, a.coef * b.coef, out, gain, max(a.largest, b.largest),
                           a.contracts or b.contracts)

    def _matmul(self, a: Contraction, b: Contraction, ins: tuple[Node, Node]) -> Contraction:
        ao, bo = list(a.out), list(b.out)
        if len(ao) == 1 and len(bo) == 1:
            self.unify(ao[0], bo[0])
            out: list = []
        elif len(ao) == 1:
            self.unify(ao[0], bo[-2])
            out = bo[:-2] + bo[-1:]
        elif len(bo) == 1:
            self.unify(ao[-1], bo[0])
            out = ao[:-1]
        else:
            self.unify(ao[-1], bo[-2])
            batch_a, batch_b = ao[:-2], bo[:-2]
            width = max(len(batch_a), len(batch_b))
            pa = [None] * (width - len(batch_a)) + batch_a
            pb = [None] * (width - len(batch_b)) + batch_b
            sa = (1,) * (width - len(batch_a)) + ins[0].shape[:-2]
            sb = (1,) * (width - len(batch_b)) + ins[1].shape[:-2]
            batch = [self.unify(x, y) if x is not None and y is not None
                     else (x if y is None else y) if (x, y) != (None, None) else self.label(max(m, n))
                     for x, y, m, n in zip(pa, pb, sa, sb)]
            out = batch + [ao[-2], bo[-1]]
        return Contraction(a.terms + b.terms, a.coef * b.coef, out, a.gain or b.gain,
                           max(a.largest, b.largest), a.contracts or b.contracts)

    def _getitem(self, node: Node, c: Contraction) -> Contraction:
        x = node.inputs[0]
        axes = _basic_axes(node.params["index"], len(x.shape))
        if axes is not None:
            c.out = [None if k is None else c.out[k] for k in axes]
            return c
        r = _diagonal_index(node, node.inputs[1:], x.shape)
        merged = c.out[-r]
        for lab in c.out[-r + 1:]:
            merged = self.unify(merged, lab)
        c.out = c.out[:-r] + [merged]
        c.gain = True
        return c

    def _scatter(self, node: Node, c: Contraction) -> Contraction:
        shape = tuple(node.params["shape"])
        axes = _basic_axes(node.params["index"], len(shape))
        if axes is not None:
            source = {k: lab for lab, k in zip(c.out, axes) if k is not None}
            c.out = [source[k] if k in source else self.label(n) for k, n in enumerate(shape)]
            return c
        r = _diagonal_index(node, node.inputs[1:], shape)
        lab = c.out[-1] if c.out[-1] is not None else self.label(shape[-1])
        # a diagonal written into zeros: a delta on the output, or (n == 1) the value itself
        c.out = c.out[:-1] + [lab] * r
        c.gain = True
        return c



# ---------------------------------------------------------------- lowering

class Built(Surface, face="numpy"):
    """A node of the graph being built, as a value that ops apply to (as a tracer is while
    tracing): `symgrad.ops.einsum.contract` lowers a contraction on these."""

    __slots__ = ("graph", "node", "where")
    _priority = 2

    def __init__(self, graph: Graph, node: Node, where: str = "") -> None:
        self.graph, self.node, self.where = graph, node, where

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    @property
    def dtype(self) -> np.dtype:
        return self.node.dtype

    def _constant(self, value: Any) -> Built:
        return value if isinstance(value, Built) else Built(self.graph, self.graph.const(value), self.where)

    @classmethod
    def _apply(cls, op: Op, args: tuple, params: dict, name: str | None) -> Built:
        first = next(a for a in args if isinstance(a, Built))
        nodes = tuple(first._constant(a).node for a in args)
        return Built(first.graph, first.graph.apply(op, nodes, params, first.where), first.where)

    @classmethod
    def _composite(cls, fn: Any, name: str, args: tuple, kwargs: dict) -> Any:
        return fn(*args, **kwargs)


def _identity(source: Node | np.ndarray) -> tuple:
    if isinstance(source, Node):
        return (0, source.id)
    return (1, source.shape, source.dtype.str, source.tobytes())


def canonical(c: Contraction, reader: Reader) -> tuple:
    """A key equal for two summands that differ only in their labels' names and their
    factor: the operands in a canonical order (by source, then by the output labels they
    carry), each label numbered by first use."""
    find = reader.find
    out = [find(k) for k in c.out]
    number = {k: j for j, k in enumerate(dict.fromkeys(k for k in _flat(out) if k is not None))}

    def key(term: tuple) -> tuple:
        return _identity(term[0]), tuple(number.get(k, len(number)) for k in term[1])

    terms = sorted(((t.source, [find(k) for k in t.labels]) for t in c.terms), key=key)
    for _, labels in terms:
        for k in labels:
            if k is not None:
                number.setdefault(k, len(number))
    return (tuple((_identity(source), tuple(number.get(k) for k in labels)) for source, labels in terms),
            tuple(tuple(number[j] for j in k) if isinstance(k, tuple) else number.get(k) for k in out))


def merged(cs: list[Contraction], reader: Reader) -> list[Contraction]:
    """The summands with equal contractions added into one (2 * t + 4 * t is 6 * t). One
    whose factor cancels to 0 stays, as `0 * t`: `t - t` is nan where t is inf or nan."""
    groups: dict[tuple, Contraction] = {}
    for c in cs:
        key = canonical(c, reader)
        if key in groups:
            groups[key].coef += c.coef
        else:
            groups[key] = Contraction(c.terms, c.coef, c.out, c.gain, c.largest, c.contracts)
    return list(groups.values())


def _fits(c: Contraction, reader: Reader) -> bool:
    """Whether c's operands have no more labels than einsum has letters."""
    return len({reader.find(k) for t in c.terms for k in t.labels} - {None}) <= len(string.ascii_letters)


def lower(g: Graph, c: Contraction, reader: Reader, node: Node, get: Any) -> Node:
    """New nodes of `g` computing `c` (the contraction read at `node`). Operands are taken
    in a canonical order and labels named by first use, so equal contractions become equal
    nodes."""
    from symgrad.ops.einsum import contract

    find = reader.find
    terms = sorted(((t.source, [find(k) for k in t.labels]) for t in c.terms), key=lambda t: _identity(t[0]))
    out = _flat([find(k) for k in c.out])
    in_terms = {k for _, labels in terms for k in labels if k is not None}
    named = [k for k in dict.fromkeys(out) if k is not None and k in in_terms]
    order = named + [k for _, labels in terms for k in labels if k is not None and k not in named]
    letters = {k: j for j, k in enumerate(dict.fromkeys(order))}
    coef = c.coef
    if coef != 1.0:
        arrays = [j for j, (source, _) in enumerate(terms) if isinstance(source, np.ndarray)]
        if arrays:  # a constant operand takes it when the graph is built
            terms[arrays[0]] = (terms[arrays[0]][0] * coef, terms[arrays[0]][1])
            coef = 1.0
    scalars, operands, specs = [], [], []
    for source, labels in terms:
        value = Built(g, g.const(source) if isinstance(source, np.ndarray) else get(source), node.where)
        if value.dtype != node.dtype:
            value = value.astype(node.dtype)
        squeezed = tuple(reader.sizes[k] for k in labels if k is not None)
        if not squeezed:
            scalars.append(value.reshape(()) if value.shape else value)
            continue
        operands.append(value.reshape(squeezed) if tuple(value.shape) != squeezed else value)
        specs.append("".join(string.ascii_letters[letters[k]] for k in labels if k is not None))
    if not operands:
        operands.append(Built(g, g.const(np.ones((), dtype=node.dtype)), node.where))
        specs.append("")
    smallest = min(range(len(operands)), key=lambda j: _size(operands[j].shape))
    for s in scalars:
        operands[smallest] = operands[smallest] * s
    if coef != 1.0:
        operands[smallest] = operands[smallest] * coef
    result = contract(specs, "".join(string.ascii_letters[letters[k]] for k in named), operands)
    result = _to_output(g, result, out, named, reader, node)
    return result.node


def _to_output(g: Graph, result: Any, out: list, named: list, reader: Reader, node: Node) -> Any:
    """`result` (an axis per label in `named`, in that order) as `node`'s value, whose axes
    `out` labels (compound ones spread out, merged by a last reshape): unit axes,
    a label repeated on the output (a diagonal: a where with a delta constant no
    larger than the output) and labels no operand has (a broadcast)."""
    shape, axes_of = [], {}
    for pos, k in enumerate(out):
        first = k is not None and k not in axes_of
        shape.append(reader.sizes[k] if first and k in named else 1)
        if k is not None:
            axes_of.setdefault(k, []).append(pos)
    if tuple(result.shape) != tuple(shape):
        result = result.reshape(tuple(shape))
    repeated = {k: axes for k, axes in axes_of.items() if len(axes) > 1}
    if repeated:
        # a where, not a product with a 0/1 delta: off the diagonal is 0 even where the
        # value is inf or nan (inf * 0 is nan), as NumPy's diag writes it
        on = np.ones([1] * len(out), dtype=bool)
        for k, axes in repeated.items():
            n = reader.sizes[k]
            eye = np.zeros((n,) * len(axes), dtype=bool)
            eye[(np.arange(n),) * len(axes)] = True
            on = on & eye.reshape([n if j in axes else 1 for j in range(len(out))])
        zero = g.const(np.zeros((), dtype=node.dtype))
        result = Built(g, g.apply(OPS["where"], (g.const(on), result.node, zero), {}, node.where), node.where)
    flat_shape = tuple(1 if k is None else reader.sizes[k] for k in out)
    if tuple(result.shape) != flat_shape:
        result = result.broadcast_to(flat_shape)
    if tuple(result.shape) != tuple(node.shape):  # compound axes merged again
        result = result.reshape(node.shape)
    if result.dtype != node.dtype:
        result = result.astype(node.dtype)
    return result


# ---------------------------------------------------------------- the pass

def _plan(graph: Graph) -> tuple[set[Node], set[Node]]:
    """(the nodes read into their consumers' contractions, the roots of contractions).

    A node is read into its consumers when they all read as contractions. A node used by
    two is computed once, unless it is larger than the graph's inputs and outputs: then it
    is read into both, so that a region rewritten at each need not compute it.
    """
    live = graph.live()
    users = {n: [u for u in us if u in live] for n, us in graph.consumers().items() if n in live}
    reads = {n: kind(n) for n in users}
    outputs = set(graph.outputs)

    def into(n: Node, u: Node) -> bool:
        if not reads[u] or u.inputs.count(n) != 1:
            return False
        return u.op not in ("getitem", "scatter_add") or u.inputs[0] is n

    io = max((_size(n.shape) for n in [*graph.inputs, *graph.outputs]), default=1)
    inline, roots = set(), set()
    for n, ok in reads.items():
        shared = len(users[n]) > 1 and _size(n.shape) <= io  # computed once, as written
        if ok and n not in outputs and users[n] and not shared and all(into(n, u) for u in users[n]):
            inline.add(n)
        elif ok:
            roots.add(n)
    return inline, roots


def _merge_constants(graph: Graph) -> Graph:
    """The graph with equal small array constants as one node (lowering makes a new
    `arange` for each diagonal it takes), so what uses them merges too."""
    seen: dict[tuple, Node] = {}
    mapping: dict[Node, Node] = {}
    g = Graph()
    for n in graph.nodes:
        if n.op == "input":
            mapping[n] = g.input(n.name, n.shape, n.dtype)
        elif n.op == "const":
            value = n.value
            if isinstance(value, np.ndarray) and value.size <= 4096:
                key = (value.dtype.str, value.shape, value.tobytes())
                mapping[n] = seen.setdefault(key, g.const(value))
            else:
                mapping[n] = g.const(value)
        else:
            mapping[n] = g.apply(OPS[n.op], tuple(mapping[i] for i in n.inputs), n.params, n.where)
    g.outputs = [mapping[n] for n in graph.outputs]
    return g


def contraction_pass(graph: Graph, fired: dict) -> Graph:
    """Rewrite each contraction region that holds a delta or an oversized temporary into
    the cheapest pairwise contraction of its operands (see the module docstring)."""
    inline, roots = _plan(graph)
    plans: dict[Node, tuple[list[Contraction], Reader]] = {}
    structures: dict[tuple, tuple] = {}
    work = sorted(roots, key=lambda n: n.id)
    while work:
        root = work.pop()
        cs = None
        for split in (True, False):  # if a compound axis meets a plain one, the seed's axis as one
            reader = Reader(inline, structures, split=split)
            try:
                cs = reader.read(root, root=True)
                break
            except Unsupported:
                continue
        if cs is None:  # the root itself splits an operand's axis: its inputs are roots then
            work.extend(i for i in root.inputs if i in inline and i not in plans)
            continue
        needed = max([_size(t.source.shape) for c in cs for t in c.terms] + [_size(root.shape)])
        worth = any(c.gain and c.contracts for c in cs) or max(c.largest for c in cs) > needed
        if worth and all(_fits(c, reader) for c in cs):
            plans[root] = (merged(cs, reader), reader)
    if not plans:
        return graph
    # which old nodes the new graph needs: a planned root needs its leaves, not its inputs
    needed_nodes = set(graph.outputs)
    for n in reversed(graph.nodes):
        if n not in needed_nodes:
            continue
        if n in plans:
            needed_nodes.update(t.source for c in plans[n][0] for t in c.terms if isinstance(t.source, Node))
        else:
            needed_nodes.update(n.inputs)
    g = Graph()
    mapping: dict[Node, Node] = {n: g.input(n.name, n.shape, n.dtype) for n in graph.inputs}
    for n in graph.nodes:
        if n not in needed_nodes or n in mapping:
            continue
        if n.op == "const":
            mapping[n] = g.const(n.value)
        elif n in plans:
            cs, reader = plans[n]
            parts = [lower(g, c, reader, n, mapping.__getitem__) for c in cs]
            new = parts[0]
            for part in parts[1:]:
                new = g.apply(OPS["add"], (new, part), {}, n.where)
            mapping[n] = new
            fired["contraction"] = fired.get("contraction", 0) + 1
        else:
            mapping[n] = g.apply(OPS[n.op], tuple(mapping[i] for i in n.inputs), n.params, n.where)
    g.outputs = [mapping[n] for n in graph.outputs]
    return _merge_constants(g)
