"""The typed integer dataflow IR: graph, types, ops, verification, text form and interpreter."""

from compiler.ir.graph import Graph, Node, TensorInfo
from compiler.ir.interpreter import execute
from compiler.ir.ops import OPS
from compiler.ir.text import load_graph, parse_graph, print_graph, save_graph
from compiler.ir.types import BIPOLAR, REAL, TERNARY, Bounds, IntType, IRError, RealType
from compiler.ir.verify import value_bounds, verify

__all__ = [
    "BIPOLAR",
    "OPS",
    "REAL",
    "TERNARY",
    "Bounds",
    "Graph",
    "IRError",
    "IntType",
    "Node",
    "RealType",
    "TensorInfo",
    "execute",
    "load_graph",
    "parse_graph",
    "print_graph",
    "save_graph",
    "value_bounds",
    "verify",
]
