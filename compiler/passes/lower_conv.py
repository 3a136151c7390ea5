"""LowerConvToSlidingWindowMatMul: conv -> sliding_window (im2col, NHWC, K ordered ky, kx, c) +
matmul with weights reshaped (O, kh, kw, I) -> (O, kh*kw*I). A 1x1 stride-1 unpadded conv needs
no window and becomes a matmul on the map directly. A zero-padded window over a bipolar input
yields the ternary type (0 marks a padded tap)."""

from __future__ import annotations

from compiler.ir import BIPOLAR, TERNARY, Graph, IntType, Node
from compiler.ir.ops.base import NoAttrs
from compiler.ir.ops.sliding_window import window_shape
from compiler.passes.base import RewritePass, replace_node


class LowerConvToSlidingWindowMatMul(RewritePass):
    name = "lower_conv_to_sliding_window_matmul"

    def match(self, graph: Graph, node: Node, facts):
        return True if node.op == "conv" else None

    def rewrite(self, graph: Graph, node: Node, match) -> None:
        a = node.attrs
        x, w = node.inputs
        x_info = graph.tensors[x]
        weights = graph.consts[w]
        o = weights.shape[0]
        flat = graph.add_const("w", weights.reshape(o, -1), graph.tensors[w].dtype)
        new: list[Node] = []
        if tuple(a.kernel) == (1, 1) and tuple(a.stride) == (1, 1) and not any(a.pads):
            cols = x
        else:
            n, oh, ow = window_shape(a, x_info.shape)
            k = a.kernel[0] * a.kernel[1] * x_info.shape[3]
            cols = graph.add_tensor("t", (n, oh, ow, k), _window_type(x_info.dtype, a))
            new.append(Node("sliding_window", [x], [cols], a))
        new.append(Node("matmul", [cols, flat], node.outputs, NoAttrs()))
        replace_node(graph, node, new)


def _window_type(dtype, a) -> IntType:
    if not any(a.pads):
        return dtype
    if dtype == BIPOLAR:
        return BIPOLAR if a.pad_value in (-1, 1) else TERNARY
    return IntType.covering(min(dtype.lo, a.pad_value), max(dtype.hi, a.pad_value))
