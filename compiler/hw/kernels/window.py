"""Window kernels: the sliding-window unit (im2col with line buffers; the Bi-Real sign on the way
in; zero padding of a bipolar map as invalid taps) and the max and sum pools. They share the
window geometry, the line buffer and the window dependencies of their schedules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from compiler.hw.calibrated import lutram_shape
from compiler.hw.kernels.base import (
    POOL_LEVELS_PER_STAGE,
    Builder,
    Dataflow,
    Kernel,
    Memory,
    MemoryRole,
    clog2,
    register,
    tree_stages,
)
from compiler.hw.kernels.elementwise import fold_elementwise
from compiler.ir import TERNARY


class Window(NamedTuple):
    """A window kernel's geometry: input map, output map, kernel, stride, top/left padding."""

    ih: int
    iw: int
    c: int
    oh: int
    ow: int
    kh: int
    kw: int
    sy: int
    sx: int
    top: int
    left: int


@dataclass(frozen=True)
class WindowGeometry:
    ifm: tuple[int, int, int]  # H, W, C of the input map
    ofm: tuple[int, int]  # H, W of the output map
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right

    @property
    def channels(self) -> int:
        return self.ifm[2]


class WindowKernel(Kernel):
    """A kernel that reads a map into a line buffer and writes one beat per window position."""

    Geometry = WindowGeometry

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """hdl/bireal_window.v: counters over the map (`lgmap`), per tap read in a cycle an
        address adder (`taddr`) and the tap's word (`tword`); a pool reduces its taps' values
        (`kk`, `red`: values of VW bits)."""
        h, w, c = self.geometry.ifm
        kh, kw = self.geometry.kernel
        inb = sum(s.width * s.bits for s in df.input_streams(self))
        (buffer,) = self.memories(df)
        taps = buffer.read_ports
        aw = clog2(buffer.depth + 1) + 1
        beats = df.input_streams(self)[0].beats + df.output_streams(self)[0].beats + buffer.depth
        return {
            "lgmap": clog2(h * w * c),
            "cw": clog2(2 * beats + 16) + 2,  # its beat and op counters (CW bits)
            "kk": kh * kw * inb,
            "taps": taps,
            "taddr": taps * aw,
            "tword": taps * buffer.width,
            "red": self.buffer_lanes() * kh * kw * (self.stored_bits(df) + clog2(kh * kw) + 1),
            # each read port's data multiplexed over the distributed RAM's blocks in depth
            "rmux": taps * buffer.width * (lutram_shape(buffer.width, buffer.depth)[1] - 1),
        } | self.pool_features()

    def pool_features(self) -> dict[str, float]:
        return {}

    def pipeline_stages(self) -> int:
        """hdl/bireal_window.v: the tap addresses registered in the op's cycle, the line buffer
        read in the next (the reader cannot overwrite it before), a pool's taps registered there
        and reduced in a tree."""
        kh, kw = self.geometry.kernel
        return 1 + tree_stages(kh * kw, POOL_LEVELS_PER_STAGE, False)

    def read_ports(self) -> int:
        """Line-buffer words read per output beat: a pool reads every tap of its window."""
        kh, kw = self.geometry.kernel
        return kh * kw

    def window(self) -> Window:
        g = self.geometry
        return Window(*g.ifm, *g.ofm, *g.kernel, *g.stride, g.pads[0], g.pads[1])

    def out_elements_per_pixel(self) -> int:
        return self.geometry.ifm[2]

    @classmethod
    def window_attrs(cls, graph, node) -> dict:
        a = node.attrs
        return {
            "ifm": tuple(graph.tensors[node.inputs[0]].shape[1:]),
            "ofm": tuple(graph.tensors[node.outputs[0]].shape[1:3]),
            "kernel": tuple(a.kernel),
            "stride": tuple(a.stride),
            "pads": tuple(a.pads),
        }

    def cycles(self, df: Dataflow) -> int:
        return max(df.input_streams(self)[0].beats, df.output_streams(self)[0].beats)

    def buffer_lanes(self) -> int:
        return min(self.pe, self.geometry.ifm[2])

    def stored_bits(self, df: Dataflow) -> int:
        return df.input_streams(self)[0].bits

    def memories(self, df: Dataflow) -> list[Memory]:
        ih, iw, ic = self.geometry.ifm
        kh, _ = self.geometry.kernel
        lanes = self.buffer_lanes()
        # kh rows in use plus the next stride of rows loading (window_dependencies)
        depth = (kh + self.geometry.stride[0]) * iw * ic // lanes
        return [
            Memory(MemoryRole.LINE_BUFFER, lanes * self.stored_bits(df), depth, read_ports=self.read_ports())
        ]

    def window_dependencies(self, in_width: int, out_width: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Per output beat, the input beat it needs (the last beat of the bottom-right real pixel
        of its window); per input beat, the last output beat that uses it (-1: none); and the
        line buffer's capacity in input beats (kh + stride rows)."""
        ih, iw, c, oh, ow, kh, kw, sy, sx, top, left = self.window()
        in_per_pixel = c // in_width
        out_per_pixel = self.out_elements_per_pixel() // out_width
        oy, ox = np.arange(oh), np.arange(ow)
        last_y = np.minimum(oy * sy - top + kh - 1, ih - 1)
        last_x = np.minimum(ox * sx - left + kw - 1, iw - 1)
        last_pixel = last_y[:, None] * iw + last_x[None, :]
        need = np.repeat(((last_pixel + 1) * in_per_pixel - 1).ravel(), out_per_pixel)
        iy, ix = np.arange(ih), np.arange(iw)
        use_y = np.minimum((iy + top) // sy, oh - 1)
        use_x = np.minimum((ix + left) // sx, ow - 1)
        used_y = (use_y * sy - top <= iy) & (iy <= use_y * sy - top + kh - 1)
        used_x = (use_x * sx - left <= ix) & (ix <= use_x * sx - left + kw - 1)
        valid = used_y[:, None] & used_x[None, :]
        last_out = np.where(valid, ((use_y[:, None] * ow + use_x[None, :]) + 1) * out_per_pixel - 1, -1)
        last_use = np.repeat(last_out.ravel(), in_per_pixel)
        capacity = (kh + sy) * iw * in_per_pixel  # kh rows in use + the next stride of rows loading
        return need, last_use, capacity

    def window_addresses(self) -> np.ndarray:
        """Input element index of every window element, -1 for a padded tap: shape
        (OH*OW, kh*kw*C) in (ky, kx, c) order."""
        ih, iw, c, oh, ow, kh, kw, sy, sx, top, left = self.window()
        iy = (np.arange(oh) * sy - top)[:, None, None, None] + np.arange(kh)[None, None, :, None]
        ix = (np.arange(ow) * sx - left)[None, :, None, None] + np.arange(kw)[None, None, None, :]
        iy, ix = np.broadcast_arrays(iy, ix)  # (oh, ow, kh, kw)
        inside = (iy >= 0) & (iy < ih) & (ix >= 0) & (ix < iw)
        pixel = np.where(inside, iy * iw + ix, -1)
        addr = np.where(pixel[..., None] >= 0, pixel[..., None] * c + np.arange(c), -1)
        return addr.reshape(oh * ow, kh * kw * c)

    def latency(self, f_in, l_in, rate, ins, outs, cycles):
        need, _, _ = self.window_dependencies(ins[0].width, outs[0].width)
        f_out = f_in + float(need[0]) * rate
        tail = int((need == need[-1]).sum())
        return f_out, max(l_in + tail, f_out + outs[0].beats - 1)


@dataclass(frozen=True)
class SlidingWindowGeometry(WindowGeometry):
    pad_value: int = 0
    sign_input: bool = False  # the Bi-Real sign of its 8-bit input, taken on the way in
    ternary: bool = False  # padded taps of a bipolar map are invalid (2-bit elements)


@register
class SlidingWindow(WindowKernel):
    """Sliding-window unit: per output pixel, taps (ky, kx) then channels (the IR's im2col order),
    SIMD elements per beat (the SIMD of the matrix-vector unit it feeds)."""

    kind = "swu"
    Geometry = SlidingWindowGeometry
    ir_ops = ("sliding_window",)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        src = node.inputs[0]
        sign = src in b.sign_of
        geometry = cls.Geometry(
            **cls.window_attrs(b.graph, node),
            pad_value=node.attrs.pad_value,
            sign_input=sign,
            ternary=b.graph.tensors[node.outputs[0]].dtype == TERNARY,
        )
        return b.add(cls, geometry, [node.name], inputs=[b.sign_of.get(src, src)], output=node.outputs[0])

    def out_elements_per_pixel(self) -> int:
        kh, kw = self.geometry.kernel
        return kh * kw * self.geometry.ifm[2]

    def in_width(self) -> int:
        return min(self.simd, self.geometry.ifm[2])

    def out_width(self) -> int:
        return self.simd

    def buffer_lanes(self) -> int:
        return min(self.simd, self.geometry.ifm[2])

    def pipeline_stages(self) -> int:
        """hdl/bireal_window.v: the tap addresses registered, the line buffer read in the next cycle."""
        return 1

    def read_ports(self) -> int:
        """Buffer words per output beat (TPB: a beat of SIMD elements is SIMD / lanes words)."""
        return max(1, self.simd // self.buffer_lanes())

    def stored_bits(self, df: Dataflow) -> int:
        return 1 if self.geometry.sign_input else df.input_streams(self)[0].bits

    def legal(self, df: Dataflow) -> bool:
        return True

    def follow(self, df: Dataflow) -> None:
        """It takes its matrix-vector unit's SIMD (no width converter in between)."""
        self.simd = df.kernels[df.streams[self.outputs[0]].consumer].simd


class Pool(WindowKernel):
    folded = True

    def calibration_key(self) -> str:
        return "pool"  # one formula for both pools (one RTL module); their reductions apart

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        geometry = cls.Geometry(**cls.window_attrs(b.graph, node))
        return b.add(cls, geometry, [node.name], inputs=node.inputs[:1], output=node.outputs[0])

    def fold(self, df: Dataflow, target: int) -> bool:
        return fold_elementwise(self, df, target)


@register
class MaxPool(Pool):
    kind = "max_pool"
    ir_ops = ("max_pool",)

    def pool_features(self) -> dict[str, float]:
        return {"ismax": 1}


@register
class SumPool(Pool):
    kind = "sum_pool"
    ir_ops = ("sum_pool",)
