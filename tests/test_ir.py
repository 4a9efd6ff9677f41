"""The graph IR: nodes are immutable values, `Graph.apply` infers and deduplicates, the
verifier catches a broken graph and shows where, and the networkx view is a real DiGraph."""

import dataclasses

import networkx as nx
import numpy as np
import pytest

import symgrad
from symgrad.ir import Graph, GraphError, Node, verify
from symgrad.ops import OPS


def small_graph() -> tuple[Graph, Node, Node]:
    g = Graph()
    x = g.input("x", (3,), np.float64)
    y = g.apply(OPS["tanh"], (x,), {})
    z = g.apply(OPS["mul"], (y, g.const(2.0)), {})
    g.outputs = [g.apply(OPS["sum"], (z,), {"axes": (0,), "keepdims": False})]
    return g, x, y


def test_nodes_are_immutable_records():
    g, x, y = small_graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        y.op = "exp"
    with pytest.raises(TypeError):
        y.params["axes"] = (0,)  # params are a read-only mapping
    assert (y.op, y.inputs, y.shape, y.dtype) == ("tanh", (x,), (3,), np.float64)
    assert g.outputs[0].inputs[0].inputs[0] is y  # read by field, not by nested lookups


def test_apply_infers_shape_and_dtype_and_reuses_equal_nodes():
    g = Graph()
    x = g.input("x", (2, 3), np.float32)
    w = g.input("w", (3,), np.float32)
    a = g.apply(OPS["mul"], (x, w), {})
    assert (a.shape, a.dtype) == ((2, 3), np.float32)
    assert g.apply(OPS["mul"], (w, x), {}) is a  # commutative: w * x is x * w
    assert g.apply(OPS["sub"], (w, x), {}) is not g.apply(OPS["sub"], (x, w), {})
    half = g.apply(OPS["mul"], (x, g.const(0.5)), {})
    assert half.dtype == np.float32  # a Python scalar is weak, as in NumPy
    assert g.apply(OPS["add"], (g.const(1.0), g.const(2)), {}).value == 3.0  # folded, still weak
    with pytest.raises(symgrad.ShapeError, match=r"matmul: shapes \(2, 3\) and \(2, 3\)"):
        g.apply(OPS["matmul"], (x, x), {})


def test_live_nodes_are_those_the_outputs_need():
    g, x, y = small_graph()
    dead = g.apply(OPS["exp"], (x,), {})
    live = g.live()
    assert dead not in live and y in live and x in live


def test_the_verifier_accepts_every_traced_and_simplified_graph():
    f = symgrad.grad(lambda x, w: np.sum(np.tanh(x @ w) ** 2), argnums=1)
    args = np.ones((4, 3)), np.ones((3, 2))
    verify(symgrad.trace(f, *args).graph)
    verify(f.graph(*args))


def test_the_verifier_shows_a_node_whose_type_breaks_its_rule():
    g, x, y = small_graph()
    bad = Node(len(g.nodes), "exp", (y,), {}, (4,), np.dtype(np.float64))
    g.nodes.append(bad)
    with pytest.raises(GraphError, match=r"exp is typed f64\[4\] but its rule gives f64\[3\]") as info:
        verify(g)
    lines = str(info.value).splitlines()
    marked = [line for line in lines if line.startswith(">>")]
    assert marked == [">>  d:f64[4] = exp a"]  # the bad equation, in the listing's names
    assert any("tanh x" in line for line in lines)  # with its neighbours


def test_the_verifier_catches_inputs_defined_later_or_elsewhere():
    g, x, y = small_graph()
    other = Graph().input("u", (3,), np.float64)
    g.nodes.append(Node(len(g.nodes), "neg", (other,), {}, (3,), np.dtype(np.float64)))
    with pytest.raises(GraphError, match="not defined before it"):
        verify(g)
    g, x, y = small_graph()
    g.outputs.append(other)
    with pytest.raises(GraphError, match="output .* is not a node of the graph"):
        verify(g)


def test_the_networkx_view_is_built_through_the_public_api():
    g, x, y = small_graph()
    view = g.nx
    assert isinstance(view, nx.DiGraph) and nx.is_directed_acyclic_graph(view)
    assert list(view.nodes) == g.nodes and view.number_of_edges() == sum(len(set(n.inputs)) for n in g.nodes)
    assert view.nodes[y] == {"op": "tanh", "params": {}, "shape": (3,), "dtype": np.float64}
    assert set(nx.ancestors(view, g.outputs[0])) == g.live() - {g.outputs[0]}
