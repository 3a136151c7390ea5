"""FoldRequantizeIntoThresholds: requantize (accumulator scale, BatchNorm, output grid) ->
multi_threshold with exact integer thresholds.

For each channel the imported op computes q = clip(round_half_even(a*acc + b), qmin, qmax) with
exact rationals a, b; this is a monotone step function of acc, stored as
q = qmin + #{k : d * acc >= T[k]}: d = +1 for a > 0, d = -1 flips the comparison (negative
gamma), d = 0 gives a constant (zero gamma). A bipolar requantize (the sign of a BatchNorm) keeps
its one threshold twice with qmin -1: outputs exactly {-1, +1}, still a plain multi_threshold. Thresholds are clipped to the accumulator's exact
reachable range (from the value-range analysis), so huge thresholds from tiny gammas stay small."""

from __future__ import annotations

import numpy as np

from bireal_hw.thresholds import requantization_from_affine, sign_from_affine
from compiler.ir import Graph, IntType, Node, value_bounds
from compiler.ir.ops.multi_threshold import MultiThresholdAttrs
from compiler.ir.ops.requantize import coefficients
from compiler.passes.base import RewritePass, replace_node


class FoldRequantizeIntoThresholds(RewritePass):
    name = "fold_requantize_into_thresholds"

    def facts(self, graph: Graph):
        return value_bounds(graph)

    def match(self, graph: Graph, node: Node, bounds):
        if node.op != "requantize":
            return None
        channels = graph.tensors[node.inputs[0]].shape[-1]
        return bounds[node.inputs[0]].channels(channels)

    def rewrite(self, graph: Graph, node: Node, acc_bounds) -> None:
        a = node.attrs
        params = [graph.consts[i] for i in node.inputs[1:]]
        coeffs = coefficients(a, params)
        if a.bipolar:
            r = sign_from_affine(coeffs, acc_bounds.lo, acc_bounds.hi)
        else:
            r = requantization_from_affine(coeffs, a.qmin, a.qmax, acc_bounds.lo, acc_bounds.hi)
        t_type = IntType.covering(int(r.thresholds.min(initial=0)), int(r.thresholds.max(initial=0)))
        thresholds = graph.add_const("thr", r.thresholds, t_type)
        direction = graph.add_const("dir", r.direction.astype(np.int8), IntType(2, True))
        new = Node(
            "multi_threshold",
            [node.inputs[0], thresholds, direction],
            node.outputs,
            MultiThresholdAttrs(a.qmin),
        )
        replace_node(graph, node, [new])
