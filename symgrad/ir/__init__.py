"""The graph IR: immutable nodes of registered ops, their printed forms, and a verifier."""

from symgrad.ir import origin
from symgrad.ir.graph import Graph, Node
from symgrad.ir.printing import type_str
from symgrad.ir.verify import GraphError, verify

__all__ = ["Graph", "GraphError", "Node", "origin", "type_str", "verify"]
