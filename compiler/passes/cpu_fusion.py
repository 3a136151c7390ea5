"""GroupCPUKernels: the CPU target's fusion groups, found on the IR and recorded on its nodes (the
`hw` record's "cpu" entry, shown in every IR dump), so that the TVM backend lowers each group to
one kernel without deciding anything itself:

  conv [-> multi_threshold [-> add]] [-> sign packed]   one kernel: a binary conv (XOR-popcount on
                                                        a packed map) or an integer conv, with its
                                                        thresholds, residual add and re-packing
  multi_threshold -> max_pool [-> sign packed]          one kernel: pool d*acc, then threshold

Records: every member gets {"group": G, "kind": "conv" | "pool", "role": R} with R one of conv,
threshold, add, pool, pack (the absorbed sign whose packed map the kernel writes); an integer
conv feeding thresholds and a max pool (the stem) names them in its record, "pooled": [T, P]
(they form a pool group of their own, but the conv may pool its columns, fused.HPOOL); every sign whose
consumers are all binary convs gets {"packed": true} (its map is bit-packed with a halo). The
pass changes no value: only the records.
"""

from __future__ import annotations

from compiler.ir import BIPOLAR, Graph, Node
from compiler.passes.base import Pass


def _only_consumer(consumers, tensor: str, op: str):
    users = consumers.get(tensor, [])
    return users[0] if len(users) == 1 and users[0].op == op else None


def packs_for_binary(graph: Graph, consumers, node: Node) -> bool:
    """A sign whose consumers are all binary convs: its output is a packed map."""
    users = consumers.get(node.outputs[0], [])
    return (
        node.op == "sign"
        and bool(users)
        and all(u.op == "conv" and graph.tensors[u.inputs[1]].dtype == BIPOLAR for u in users)
    )


class GroupCPUKernels(Pass):
    name = "group_cpu_kernels"

    def run(self, graph: Graph) -> bool:
        consumers = graph.consumers()
        for node in graph.nodes:
            node.hw = {k: v for k, v in node.hw.items() if k != "cpu"}
        packed = {n.outputs[0] for n in graph.nodes if packs_for_binary(graph, consumers, n)}
        grouped: set[int] = set()
        count = 0
        made = {t: i for i, n in enumerate(graph.nodes) for t in n.outputs}  # graph inputs, consts: absent
        for index, node in enumerate(graph.nodes):
            if id(node) in grouped:
                continue
            pooled = ()
            if node.op == "conv":
                kind, members = "conv", [(node, "conv")]
                thr = _only_consumer(consumers, node.outputs[0], "multi_threshold")
                pool = thr is not None and _only_consumer(consumers, thr.outputs[0], "max_pool")
                if thr is not None and not pool:
                    members.append((thr, "threshold"))
                    add = _only_consumer(consumers, thr.outputs[0], "add")
                    # the add's other operand must exist when this kernel runs (the shortcut of a
                    # bottleneck's unit can be computed after the projection conv it meets)
                    other = [t for t in add.inputs if t != thr.outputs[0]] if add is not None else []
                    if (
                        add is not None
                        and id(add) not in grouped
                        and all(made.get(t, -1) < index for t in other)
                    ):
                        members.append((add, "add"))
                elif pool and node.inputs[0] not in packed:  # the stem: see fused.HPOOL
                    pooled = (thr, pool)
            elif node.op == "multi_threshold" and _only_consumer(consumers, node.outputs[0], "max_pool"):
                kind = "pool"
                members = [
                    (node, "threshold"),
                    (_only_consumer(consumers, node.outputs[0], "max_pool"), "pool"),
                ]
            else:
                continue
            last = members[-1][0].outputs[0]
            sign = next((u for u in consumers.get(last, []) if packs_for_binary(graph, consumers, u)), None)
            if sign is not None:
                members.append((sign, "pack"))
            group = f"k{count}"
            count += 1
            for n, role in members:
                n.hw = {**n.hw, "cpu": {"group": group, "kind": kind, "role": role}}
                grouped.add(id(n))
            if pooled:
                node.hw["cpu"]["pooled"] = [n.name for n in pooled]
        for node in graph.nodes:
            if node.outputs[0] in packed:
                node.hw = {**node.hw, "cpu": {**node.hw.get("cpu", {}), "packed": True}}
        return True
