"""The graph's printed forms: a jaxpr-like listing, one equation a line, and Graphviz DOT.

    { lambda x:f64[3] . let
        a:f64[3] = tanh x
        b:f64[] = sum[axes=(0,) keepdims=False] a
      in (b) }
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from symgrad.ir.graph import Graph, Node


def _short(dtype: np.dtype) -> str:
    """`f64`, `i32`, `bool`; other dtypes (complex, strings: in error messages) by name."""
    if dtype.kind == "b":
        return "bool"
    if dtype.kind in "fiuc":
        return f"{dtype.kind}{dtype.itemsize * 8}"
    return dtype.name


def type_str(shape: tuple[int, ...], dtype: Any) -> str:
    """`f32[5,3]`: a dtype and shape the way listings and error messages show them."""
    return f"{_short(np.dtype(dtype))}[{','.join(map(str, shape))}]"


def names(graph: Graph) -> dict[Node, str]:
    """Readable names: inputs keep theirs, the rest are a, b, ..., z, ba, ... (scalar
    constants are printed as their values and get none)."""
    out = {n: n.name for n in graph.inputs}
    taken = set(out.values())
    fresh = (s for s in _letters() if s not in taken)
    for n in graph.nodes:
        if n not in out and n.scalar is None:
            out[n] = next(fresh)
    return out


def equation(node: Node, names: dict[Node, str]) -> str:
    """`c:f32[3] = add a b`: one node as a line of the listing."""
    params = " ".join(f"{k}={v!r}" for k, v in node.params.items())
    head = node.op + (f"[{params}]" if params else "")
    operands = " ".join(_operand(i, names) for i in node.inputs)
    return f"{names[node]}:{type_str(node.shape, node.dtype)} = {head} {operands}".rstrip()


def listing(graph: Graph) -> str:
    """The whole graph, jaxpr-like."""
    named = names(graph)
    args = " ".join(f"{named[n]}:{type_str(n.shape, n.dtype)}" for n in graph.inputs)
    lines = [f"{{ lambda {args} . let"]
    lines += [f"    {equation(n, named)}" for n in graph.nodes if n.op != "input" and n.scalar is None]
    outs = ", ".join(_operand(n, named) for n in graph.outputs)
    lines.append(f"  in ({outs}) }}")
    return "\n".join(lines)


def dot(graph: Graph) -> str:
    """Graphviz DOT source. (networkx writes DOT only through pydot or pygraphviz, which
    symgrad does not depend on.)"""
    named = names(graph)
    lines = ["digraph symgrad {", "  rankdir=TB;"]
    for n in graph.nodes:
        label = named.get(n) or repr(n.scalar)
        if n.op not in ("input", "const"):
            label = f"{label} = {n.op}"
        label += f"\\n{type_str(n.shape, n.dtype)}"
        shape = "box" if n.op == "input" else "ellipse"
        lines.append(f'  n{n.id} [label="{label}", shape={shape}];')
    for a, b in sorted((i.id, n.id) for n in graph.nodes for i in set(n.inputs)):
        lines.append(f"  n{a} -> n{b};")
    for k, n in enumerate(graph.outputs):
        lines.append(f'  out{k} [label="out {k}", shape=plaintext];\n  n{n.id} -> out{k};')
    lines.append("}")
    return "\n".join(lines)


def _operand(n: Node, names: dict[Node, str]) -> str:
    return repr(n.scalar) if n.scalar is not None else names[n]


def _letters() -> Iterator[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    for size in itertools.count(1):
        for combo in itertools.product(alphabet, repeat=size):
            yield "".join(combo)
