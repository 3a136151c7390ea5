"""The IR-changing steps: import, streamline, lower (every target), the dataflow design (sim,
fpga) and the CPU fusion groups (cpu)."""

from __future__ import annotations

from bireal_hw.errors import UserError
from compiler.ir import Graph
from compiler.passes import DumpIRAfterEachPass, PassManager, PassTiming, lowering_passes, streamline_passes


def _run_passes(graph: Graph, state, step: str, passes) -> Graph:
    timing = PassTiming()
    dump = DumpIRAfterEachPass(state.stage / "passes" / step)
    out = PassManager(passes, [timing, dump]).run(graph)
    state.report.setdefault("passes", {})[step] = timing.records
    return out


def step_import(graph: Graph | None, state) -> Graph:
    from compiler.frontend.importer import UnsupportedModel, import_qonnx
    from compiler.frontend.load import safe_graph_name
    from compiler.ir import IRError

    source = state.cfg.source
    proto = source.onnx_proto(state.stage)
    try:
        result = import_qonnx(proto, safe_graph_name(source.graph_name))
    except (UnsupportedModel, IRError) as exc:
        raise UserError(f"{source.label}: {exc}") from None
    state.names = result.names
    state.report["source"] = source.describe()
    return result.graph


def step_streamline(graph: Graph, state) -> Graph:
    out = _run_passes(graph, state, "streamline", streamline_passes())
    left = sorted({n.op for n in out.nodes if n.op in ("requantize", "scaled_add")})
    if left:
        raise UserError(
            f"{state.cfg.source.label}: {', '.join(left)} could not be streamlined to integers "
            "(an add of tensors on different grids); train with one shared residual quantizer"
        )
    return out


def step_lower(graph: Graph, state) -> Graph:
    return _run_passes(graph, state, "lower", lowering_passes())


def step_dataflow(graph: Graph, state) -> Graph:
    from compiler.hw.design import make_design

    cfg = state.cfg
    graph = graph.copy()
    state.design = make_design(
        graph, cfg.chosen_board(), cfg.clock_mhz, cfg.fps, cfg.folding, cfg.external_weights
    )
    return graph


def step_fuse(graph: Graph, state) -> Graph:
    """The CPU target's fusion groups, recorded on the nodes (compiler.passes.cpu_fusion)."""
    from compiler.passes.cpu_fusion import GroupCPUKernels

    return _run_passes(graph.copy(), state, "fuse", [GroupCPUKernels()])
