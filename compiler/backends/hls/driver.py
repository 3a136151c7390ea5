"""PYNQ driver for a bireal-hw accelerator (copied verbatim into the deploy package).

    from driver import BirealAccelerator
    accel = BirealAccelerator()                 # on the board: loads bitfile/bireal.bit
    scores = accel.execute(images)              # (N, C, H, W) floats in [0, 1] -> (N, classes)
    accel.throughput_test(frames=1000)

It needs only numpy, plus `pynq` on the board. Elsewhere (no `pynq`), or with
`simulated=True`, the same driver runs against the C-simulation library of the generated HLS
(`sim/libbireal_csim*.so`): a simulated board that takes the same bus words the DMA would move.

Stream format (design.json): the host quantizes pixels onto the input grid
q = clip(round_half_even(x / scale), qmin, qmax), NHWC; each value takes `in_bytes` bytes
(little-endian two's complement) and every frame starts on a new 64-bit word. The accelerator
returns `out_bytes`-byte integers, `classes` per frame, each frame on new words; class scores are
those integers times `out_scale` plus `out_offset`.

Weights in DRAM (design.json `dram`): a matrix unit that streams its weights reads them through
its own m_axi port from a buffer the host fills once with `dram/<weight_dma>.bin` (little-endian
uint64 words) and whose physical address it writes into the port's AXI-Lite registers.
"""

from __future__ import annotations

import ctypes
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def quantize(
    images: np.ndarray, scale: float, qmin: int, qmax: int, offset: int = 0, cut: float | None = None
) -> np.ndarray:
    """(N, C, H, W) reals -> (N, H, W, C) integers on the input grid: round half to even of
    x / scale + offset, clipped; or, with `cut`, bipolar pixels (+1 where x >= cut, else -1)."""
    x = np.asarray(images, dtype=np.float64)
    if cut is not None:
        q = np.where(x >= cut, 1, -1).astype(np.int64)
    else:
        q = np.clip(np.round(x / scale + offset), qmin, qmax).astype(np.int64)
    return q.transpose(0, 2, 3, 1)


def pack_frames(values: np.ndarray, nbytes: int, words: int) -> np.ndarray:
    """(N, ...) integers -> (N, words) uint64 bus words, each value `nbytes` bytes little-endian."""
    n = len(values)
    flat = np.ascontiguousarray(values.reshape(n, -1).astype(f"<i{nbytes}"))
    raw = np.zeros((n, words * 8), dtype=np.uint8)
    raw[:, : flat.shape[1] * nbytes] = flat.view(np.uint8).reshape(n, -1)
    return raw.view("<u8")


def input_words(design: dict, images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) images -> the (N, in_words) bus words the accelerator reads: pixels on the
    input grid, a bipolar pixel as its stream bit (1 for +1, 0 for -1)."""
    d = design
    cut = d.get("in_cut")
    pixels = quantize(images, d["in_scale"], d["in_qmin"], d["in_qmax"], d.get("in_offset", 0), cut)
    if cut is not None:
        pixels = (pixels > 0).astype(np.int64)
    return pack_frames(pixels, d["in_bytes"], d["in_words"])


def unpack_frames(words: np.ndarray, out_bytes: int, classes: int) -> np.ndarray:
    """(N, words) uint64 bus words -> (N, classes) int64."""
    raw = np.ascontiguousarray(words, dtype="<u8").view(np.uint8).reshape(len(words), -1)
    return raw[:, : classes * out_bytes].copy().view(f"<i{out_bytes}").astype(np.int64)


def dram_images(folder: Path, design: dict) -> list[np.ndarray]:
    """The weight DMAs' DRAM images of design.json's `dram` list, each checked for its size."""
    images = []
    for d in design.get("dram", []):
        image = np.fromfile(folder / d["file"], dtype="<u8")
        if len(image) != d["words"]:
            raise ValueError(f"{d['file']}: {len(image)} words, expected {d['words']}")
        images.append(image)
    return images


class SimulatedBoard:
    """The C-simulation library in place of the FPGA: same words in, same words out, the weight
    images loaded into its simulated DRAM."""

    def __init__(self, library: Path, images: list[np.ndarray] = ()) -> None:
        u64p = ctypes.POINTER(ctypes.c_uint64)
        self.lib = ctypes.CDLL(str(library))
        self.lib.bireal_run.restype = ctypes.c_int
        self.lib.bireal_run.argtypes = [u64p, u64p, ctypes.c_uint, u64p, u64p]
        self.lib.bireal_set_dram.restype = ctypes.c_int
        self.lib.bireal_set_dram.argtypes = [ctypes.c_int, u64p, ctypes.c_ulonglong]
        self.streams = self.lib.bireal_streams()
        self.out_words = self.lib.bireal_out_words()
        self._u64p = u64p
        if len(images) != self.lib.bireal_drams():
            raise ValueError(
                f"the accelerator has {self.lib.bireal_drams()} DRAM images, {len(images)} given"
            )
        for i, image in enumerate(images):
            image = np.ascontiguousarray(image, dtype=np.uint64)
            if self.lib.bireal_set_dram(i, image.ctypes.data_as(u64p), len(image)) != 0:
                raise ValueError(f"DRAM image {i} has the wrong size")

    def transfer(self, words: np.ndarray, frames: int) -> np.ndarray:
        words = np.ascontiguousarray(words, dtype=np.uint64)
        out = np.zeros((frames, self.out_words), dtype=np.uint64)
        counts = np.zeros((2, self.streams), dtype=np.uint64)
        status = self.lib.bireal_run(
            words.ctypes.data_as(self._u64p),
            out.ctypes.data_as(self._u64p),
            frames,
            counts[0].ctypes.data_as(self._u64p),
            counts[1].ctypes.data_as(self._u64p),
        )
        if status != 0:
            raise RuntimeError(f"the simulated accelerator failed (status {status})")
        return out


class PynqBoard:
    """The overlay on a PYNQ board: AXI DMA in and out, `frames` written over AXI-Lite."""

    def __init__(self, bitfile: Path, design: dict, images: list[np.ndarray] = ()) -> None:
        from pynq import Overlay, allocate  # only on the board

        self.overlay = Overlay(str(bitfile))
        self.dma = self.overlay.axi_dma_0
        self.accel = self.overlay.bireal_accel_0
        self.allocate = allocate
        self.design = design
        self.drams = []  # kept allocated: the accelerator reads them on every frame
        for d, image in zip(design.get("dram", []), images, strict=True):
            buffer = allocate(shape=(len(image),), dtype=np.uint64)
            buffer[:] = image
            buffer.flush()
            self._write_pointer(d, buffer.physical_address)
            self.drams.append(buffer)

    def _write_pointer(self, d: dict, address: int) -> None:
        """The port's 64-bit address: by name from the overlay's register map (<port>_1 low,
        <port>_2 high, as PYNQ parses the .hwh), else at the design's offset."""
        registers = getattr(self.accel, "register_map", None)
        low, high = getattr(registers, f"{d['port']}_1", None), getattr(registers, f"{d['port']}_2", None)
        if low is not None and high is not None:
            low.write(address & 0xFFFFFFFF)
            high.write(address >> 32)
        else:
            self.accel.write(d["offset"], address & 0xFFFFFFFF)
            self.accel.write(d["offset"] + 4, address >> 32)

    def transfer(self, words: np.ndarray, frames: int) -> np.ndarray:
        d = self.design
        src = self.allocate(shape=(frames * d["in_words"],), dtype=np.uint64)
        dst = self.allocate(shape=(frames * d["out_words"],), dtype=np.uint64)
        try:
            src[:] = words.ravel()
            self.accel.write(d["frames_offset"], frames)
            self.accel.write(0x00, 0x01)  # ap_start
            self.dma.recvchannel.transfer(dst)
            self.dma.sendchannel.transfer(src)
            self.dma.sendchannel.wait()
            self.dma.recvchannel.wait()
            return np.array(dst).reshape(frames, d["out_words"])
        finally:
            src.freebuffer()
            dst.freebuffer()


class BirealAccelerator:
    def __init__(self, folder: Path | str = HERE, simulated: bool | None = None) -> None:
        folder = Path(folder)
        self.design = json.loads((folder / "design.json").read_text())
        if simulated is None:
            try:
                import pynq  # noqa: F401

                simulated = False
            except ImportError:
                simulated = True
        if simulated:
            libraries = sorted((folder / "sim").glob("libbireal_csim*.so"))
            if not libraries:
                raise FileNotFoundError(f"no C-simulation library in {folder / 'sim'}")
            self.board = SimulatedBoard(libraries[-1], dram_images(folder, self.design))
        else:
            self.board = PynqBoard(
                folder / "bitfile" / "bireal.bit", self.design, dram_images(folder, self.design)
            )
        self.simulated = simulated

    def pack(self, images: np.ndarray) -> np.ndarray:
        return input_words(self.design, images)

    def execute_integer(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, C, H, W) images in [0, 1] -> (N, classes) integer logits, `batch_size` frames per transfer."""
        d = self.design
        out = []
        for s in range(0, len(images), batch_size):
            chunk = images[s : s + batch_size]
            words = self.board.transfer(self.pack(chunk), len(chunk))
            out.append(unpack_frames(words, d["out_bytes"], d["classes"]))
        return np.concatenate(out) if out else np.zeros((0, d["classes"]), dtype=np.int64)

    def execute(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, C, H, W) images in [0, 1] -> (N, classes) class scores (the model's logits)."""
        d = self.design
        return self.execute_integer(images, batch_size) * d["out_scale"] + d.get("out_offset", 0.0)

    def throughput_test(self, frames: int = 1000, batch_size: int = 1000) -> dict:
        """Frames per second through the accelerator, including packing and DMA."""
        c, h, w = self.design["input_chw"]
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(frames, c, h, w)).astype(np.float32) / 255
        start = time.perf_counter()
        self.execute_integer(images, batch_size)
        seconds = time.perf_counter() - start
        return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "simulated": self.simulated}


if __name__ == "__main__":
    accel = BirealAccelerator()
    print(json.dumps(accel.throughput_test(frames=100, batch_size=100)))
