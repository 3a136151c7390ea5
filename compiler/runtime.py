"""Run a model compiled by `--target cpu` without the compiler: the folder's `model.so` (TVM
kernels), `params.npz` and `plan.json`. Needs only numpy and TVM's runtime.

    from compiler.runtime import CompiledModel
    model = CompiledModel("out/cpu")
    logits = model.run(images)            # (N, C, H, W) floats in [0, 1] -> (N, classes) int64
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from compiler.backends.host_cpu import require_host

PAGE = 4096
HUGE_PAGE = 2 << 20


def _arena(specs: dict[str, tuple[list[int], str]]):
    """(mapping, {name: zeroed numpy view}) of the buffers `specs` (name -> (shape, dtype)) in one
    anonymous mapping: each buffer 64-byte aligned (TVM's kernels assume it), those of a page or
    more page aligned, in plan order (kernels touch neighbours together). Where the OS offers
    them, the mapping asks for transparent huge pages (madvise): the ~15 MB a bireal18 run
    streams through then needs 8 TLB entries, not ~4,000."""
    import mmap

    layout, offset = {}, 0
    for name, (shape, dtype) in specs.items():
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        align = PAGE if nbytes >= PAGE else 64
        offset = -(-offset // align) * align
        layout[name] = (offset, nbytes)
        offset += max(nbytes, 1)
    size = -(-offset // HUGE_PAGE) * HUGE_PAGE + HUGE_PAGE  # room to start on a huge page
    mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        mapping.madvise(mmap.MADV_HUGEPAGE)
    base = np.frombuffer(mapping, dtype=np.uint8)
    start = -base.ctypes.data % HUGE_PAGE
    views = {
        name: base[start + off : start + off + nbytes].view(specs[name][1]).reshape(specs[name][0])
        for name, (off, nbytes) in layout.items()
    }
    return mapping, views


class CompiledModel:
    def __init__(self, folder: Path | str, threads: int | None = None) -> None:
        import os

        import tvm
        import tvm_ffi

        # TVM sizes its worker pool once, from TVM_NUM_THREADS or else the physical cores it finds
        # (1 on this 2-vCPU machine, measured: config_threadpool can only lower that count); ask
        # for every core the OS gives us before the first parallel kernel, then set `threads`
        os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))
        tvm.get_global_func("runtime.config_threadpool")(1, threads or os.cpu_count() or 1)
        folder = Path(folder)
        self.plan = json.loads((folder / "plan.json").read_text())
        # a library built for features this CPU lacks would die of SIGILL in some kernel: refuse it
        require_host(self.plan.get("cpu"), str(folder / "model.so"))
        self.lib = tvm.runtime.load_module(str(folder / "model.so"))
        self.dev = tvm.cpu()
        params = np.load(folder / "params.npz")
        # every buffer and parameter in one zeroed arena (see _arena): measured on bireal18, same
        # process, 300 interleaved runs: 3.35 ms with TVM's own allocations, 3.26 ms in the
        # arena, 3.24 ms with huge pages
        self._arena, views = _arena({k: (v["shape"], v["dtype"]) for k, v in self.plan["buffers"].items()})
        self.buffers = {}
        for name, view in views.items():
            if name in params.files:
                view[...] = params[name]
            self.buffers[name] = tvm_ffi.from_dlpack(view)
        self.calls = []
        for c in self.plan["calls"]:
            if c["kernel"] == "reshape":  # a flatten: the same NHWC bytes under another shape
                src, dst = c["args"]
                self.buffers[dst] = self.buffers[src]._create_view(tuple(self.plan["buffers"][dst]["shape"]))
            else:
                self.calls.append((c["kernel"], c["args"]))
        self.functions = {k: self.lib[k] for k, _ in self.calls}
        self.bound = [(self.functions[k], [self.buffers[a] for a in args]) for k, args in self.calls]
        self.batch = self.plan["buffers"][self.plan["input"]]["shape"][0]
        # numpy views of the input and output buffers: writing and reading them is a plain
        # memcpy (measured on bireal18 between runs: 0.34 -> 0.30 ms in, 0.23 -> 0.04 ms out
        # against Tensor.copyfrom / Tensor.numpy)
        self._images = np.from_dlpack(self.buffers[self.plan["input"]])
        self._from_dlpack = tvm_ffi.from_dlpack
        self._logits = np.from_dlpack(self.buffers[self.plan["output"]])

    def _call(self, kernel: str, args: list[str]) -> None:
        self.functions[kernel](*[self.buffers[a] for a in args])

    def run_integer(self, pixels: np.ndarray) -> np.ndarray:
        """(batch, H, W, C) integers on the input grid -> (batch, classes) integer logits (the
        quantizer kernel, first in the plan, is skipped)."""
        np.copyto(np.from_dlpack(self.buffers[self.plan["quantizer"]["pixels"]]), pixels, casting="unsafe")
        for function, args in self.bound[1:]:
            function(*args)
        return self._logits.astype(np.int64)

    def run_batch(self, images: np.ndarray) -> np.ndarray:
        """One batch of (batch, C, H, W) images in [0, 1] -> (batch, classes) integer logits."""
        if images.shape != self._images.shape:
            raise ValueError(f"images of shape {images.shape}; this model takes {self._images.shape}")
        first, args = self.bound[0]  # the quantizer: it reads float64 images with 8-byte alignment
        if images.dtype == np.float64 and images.flags.c_contiguous and images.flags.aligned:
            first(self._from_dlpack(images), *args[1:])  # the caller's array, not a copy
        else:
            np.copyto(self._images, images)
            first(*args)
        for function, args in self.bound[1:]:
            function(*args)
        return self._logits.astype(np.int64)

    def profile(self, images: np.ndarray, rounds: int = 5) -> dict[str, float]:
        """Median milliseconds of each kernel call over `rounds` runs of one batch."""
        import time

        self.buffers[self.plan["input"]].copyfrom(
            np.ascontiguousarray(images[: self.batch], dtype=np.float64)
        )
        times: dict[str, list[float]] = {}
        # warm-up first: after an idle spell the worker threads sleep and the first calls find
        # them slow to wake (on a 2-vCPU VM, right after another process's burst, the binary convs
        # timed 2.2 ms against 1.0-1.5 ms warm, measured), so the timed rounds start warm
        for _ in range(max(2, rounds // 2)):
            for kernel, args in self.calls:
                self._call(kernel, args)
        for _ in range(rounds):
            for kernel, args in self.calls:
                start = time.perf_counter()
                self._call(kernel, args)
                times.setdefault(kernel, []).append(1000 * (time.perf_counter() - start))
        return {k: float(np.median(v)) for k, v in times.items()}

    def run(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) images in [0, 1] -> (N, classes) integer logits."""
        out = []
        for s in range(0, len(images), self.batch):
            chunk = images[s : s + self.batch]
            if len(chunk) < self.batch:
                chunk = np.concatenate([chunk, np.zeros((self.batch - len(chunk), *chunk.shape[1:]))])
            out.append(self.run_batch(chunk)[: len(images) - s])
        return np.concatenate(out) if len(out) > 1 else out[0]
