"""Every HLS kernel template on its own against its IR op's reference, over seeded random designs
(odd channel counts, SIMD not dividing into 64, zero and +-1 padding, strides 1 and 2, padded max
pools, image borders) and random foldings: the kernel's generated C++, compiled with g++ against
hls4ml's ap_types, fed the IR's input tensor as beats and compared with `==` to the IR's output
tensor."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.backends.hls import driver as host
from compiler.backends.hls.bench import Benches
from compiler.backends.hls.elements import Element, pack_beats, unpack_beats
from compiler.backends.hls.kernels import CONTEXTS, element_bytes
from compiler.hw.kernels import InputDMA, MatrixVector, OutputDMA, SlidingWindow
from compiler.ir import execute
from tests.hls.designs import SHAPES, bireal_like, images, packed_design, random_folding

pytestmark = pytest.mark.hls
FRAMES = 3


def _tensor_values(graph, x):
    names = [t for n in graph.nodes for t in n.outputs] + list(graph.inputs)
    values = execute(graph, x.transpose(0, 2, 3, 1), outputs=names)
    return {t: v.reshape(len(x), -1).astype(np.int64) for t, v in values.items() if v.dtype != np.float64}


def _stream_values(k, df, graph, values, x):
    """(inputs, expected outputs) of kernel k from the IR's tensors."""
    if isinstance(k, InputDMA):
        q = next(n for n in graph.nodes if n.op == "quantize_input")
        pixels = values[q.outputs[0]]
        eb = element_bytes(df.output_streams(k)[0].bits)
        words = -(-pixels.shape[1] * eb // 8)
        return [host.pack_frames(pixels, eb, words)], [pixels]
    ins = [values[s.tensor] for s in df.input_streams(k)]
    if isinstance(k, OutputDMA):
        eb = element_bytes(df.input_streams(k)[0].bits)
        return ins, [host.pack_frames(ins[0], eb, -(-ins[0].shape[1] * eb // 8))]
    return ins, [values[s.tensor] for s in df.output_streams(k)]


def _variant(k, df) -> str:
    g = k.geometry
    if isinstance(k, MatrixVector):
        kind = "binary" if g.binary else "integer"
        inp = "ternary" if g.ternary_input else "plain"
        out = "bias" if "thresholds" not in k.consts else ("affine" if k.requant() else "thresholds")
        return f"mvu/{kind}/{inp}/{out}" + ("/packed" if k.packed() else "")
    if isinstance(k, SlidingWindow):
        return f"swu/sign={g.sign_input}/ternary={g.ternary}/taps>1={k.simd > g.ifm[2]}"
    return k.kind


COVERED: set[str] = set()


@pytest.mark.parametrize("index", [*range(len(SHAPES)), "packed", "searched"])
def test_every_kernel_equals_its_ir_op(index, tmp_path):
    if index == "packed":  # even channel counts, every matrix unit at PE = MH: DSPs shared by lane pairs
        graph, df = packed_design()
        index = 0
    elif index == "searched":  # every threshold set searched, none as a multiply-add (where no proof holds)
        graph = bireal_like(SHAPES[1], seed=1)
        df = random_folding(graph, seed=101)
        for k in df.order():
            if isinstance(k, MatrixVector):
                k.__dict__["_requant"] = None  # MatrixVector.requant's cache: no multiply-add
        index = 1
    else:
        graph = bireal_like(SHAPES[index], seed=index)
        df = random_folding(graph, seed=100 + index)
    x = images(graph, FRAMES, seed=index)
    values = _tensor_values(graph, x)
    benches = Benches(df.order(), df, graph, tmp_path)
    for k in df.order():
        inputs, expected = _stream_values(k, df, graph, values, x)
        got, unread = benches.run(k.name, inputs, FRAMES)
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g.astype(np.int64) if g.dtype != np.uint64 else g, e), (
                f"{k.name} ({k.kind}, pe {k.pe}, simd {k.simd}) differs from its IR op"
            )
        assert unread == [0] * len(unread), f"{k.name} left input beats unread"
        COVERED.add(_variant(k, df))


def test_the_designs_cover_every_template_and_variant():
    """Runs after the parametrized test in this module (pytest keeps file order)."""
    if len(COVERED) == 0:
        pytest.skip("run together with test_every_kernel_equals_its_ir_op")
    kinds = {v.split("/")[0] for v in COVERED}
    assert kinds == {cls.kind for cls in CONTEXTS} - {"weight_dma"}  # tests/hls/test_external_weights.py
    for needed in [
        "mvu/binary/ternary/affine",
        "mvu/binary/plain/affine",
        "mvu/integer/plain/affine",
        "mvu/integer/plain/thresholds",
        "mvu/integer/plain/bias",
        "mvu/integer/plain/affine/packed",
        "swu/sign=True/ternary=True/taps>1=True",
        "swu/sign=True/ternary=False/taps>1=True",
        "swu/sign=False/ternary=False/taps>1=True",
    ]:
        assert needed in COVERED, needed
    assert any(v.startswith("swu/") and v.endswith("taps>1=False") for v in COVERED)


@pytest.mark.parametrize(
    "element",
    [
        Element("int", 10, True),
        Element("int", 27, False),
        Element("bipolar", 1, False),
        Element("ternary", 2, True),
    ],
)
def test_beat_packing_round_trips(element):
    rng = np.random.default_rng(0)
    width = 13
    if element.kind == "ternary":
        v = rng.integers(-1, 2, size=(2, 5 * width))
    elif element.kind == "bipolar":
        v = rng.choice([-1, 1], size=(2, 5 * width))
    else:
        lo, hi = (
            (-(1 << (element.bits - 1)), 1 << (element.bits - 1))
            if element.signed
            else (0, 1 << element.bits)
        )
        v = rng.integers(lo, hi, size=(2, 5 * width))
    words = pack_beats(v, element, width)
    assert words.shape == (10, -(-width * element.bits // 64))
    assert np.array_equal(unpack_beats(words, element, width, 2), v)


def test_beat_packing_refuses_values_outside_the_element():
    with pytest.raises(ValueError, match="outside"):
        pack_beats(np.full((1, 4), 512), Element("int", 10, True), 4)
