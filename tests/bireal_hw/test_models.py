import pytest
import torch

from bireal_hw.models import BiRealBlock, Downsample, build_model, model_config
from bireal_hw.summary import paper_table, summarize


@pytest.mark.parametrize(
    "name,blocks,logits",
    [("bireal18", 16, (2, 1000)), ("bireal34", 32, (2, 1000))],
)
def test_imagenet_models_shapes_and_block_counts(name, blocks, logits):
    model = build_model(name).eval()
    assert sum(isinstance(m, BiRealBlock) for m in model.modules()) == blocks
    assert sum(isinstance(m, Downsample) for m in model.modules()) == 3
    assert model.stem_conv.kernel_size == (7, 7) and model.stem_conv.stride == (2, 2)
    with torch.no_grad():
        assert model(torch.rand(2, 3, 224, 224)).shape == logits


def test_bireal18_stage_shapes_follow_the_paper():
    model = build_model("bireal18").eval()
    shapes = []
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        x = model.stem_pool(model.residual_quant(model.stem_bn(model.stem_conv(model.input_quant(x)))))
        shapes.append(tuple(x.shape))
        for blk in model.blocks:
            x = blk(x)
            shapes.append(tuple(x.shape))
    assert shapes[0] == (1, 64, 56, 56)
    assert shapes[4] == (1, 64, 56, 56)
    assert shapes[5] == (1, 128, 28, 28)
    assert shapes[9] == (1, 256, 14, 14)
    assert shapes[16] == (1, 512, 7, 7)


@pytest.mark.parametrize(
    "size,channels,widths,blocks", [(28, 1, (8, 16, 24), (1, 2, 1)), (32, 3, (16, 16, 32, 48), (2, 1, 1, 1))]
)
@pytest.mark.parametrize("quantized", [True, False])
def test_small_variants(size, channels, widths, blocks, quantized):
    model = build_model(
        "bireal_small",
        widths=widths,
        stage_blocks=blocks,
        in_channels=channels,
        image_size=size,
        quantized=quantized,
    )
    assert sum(isinstance(m, BiRealBlock) for m in model.modules()) == sum(blocks)
    out = model(torch.rand(3, channels, size, size))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_float_twin_has_no_quantizers():
    twin = build_model("bireal18", quantized=False)
    assert not any("brevitas" in type(m).__module__ for m in twin.modules())
    assert sum(isinstance(m, torch.nn.ReLU) for m in twin.modules()) == 16


def test_residual_quantizer_is_shared():
    model = build_model("bireal_small", widths=(8, 8, 8), stage_blocks=(1, 1, 1))
    assert all(b.residual_quant is model.residual_quant for b in model.blocks)
    scales = [n for n, _ in model.named_parameters() if "tensor_quant.log_scale" in n]
    assert len(scales) == 1


def test_config_validation():
    with pytest.raises(ValueError):
        model_config("bireal_small", widths=(8, 8), stage_blocks=(1, 1, 1))
    with pytest.raises(ValueError):
        model_config("bireal_small", residual_bits=1)
    with pytest.raises(KeyError):
        model_config("nope")
    with pytest.raises(ValueError, match="odd"):
        model_config("bireal_small", image_size=17)


def test_ops_and_memory_match_the_paper_within_one_percent():
    table = paper_table()
    for summary, (ops, mbit) in table:
        assert abs(summary.ops / ops - 1) < 0.01, summary
        if mbit is not None:
            assert abs(summary.memory_mbit / mbit - 1) < 0.01, summary
    b18 = table[0][0]
    # BOPs of bireal18: its 16 binary 3x3 convs (ResNet-18 minus stem, downsample and FC)
    stage1 = 4 * 56 * 56 * 64 * 64 * 9
    later = sum(hw * hw * c * 9 * (c // 2 + 3 * c) for hw, c in ((28, 128), (14, 256), (7, 512)))
    assert b18.bops == stage1 + later
    assert table[2][0].bops == 0


def test_summary_counts_binary_and_real_macs_exactly():
    model = build_model("bireal_small", widths=(4, 8, 8), stage_blocks=(1, 1, 1))
    s = summarize(model)
    stem = 28 * 28 * 4 * 9
    binary = 28 * 28 * 4 * 4 * 9 + 14 * 14 * 8 * 4 * 9 + 7 * 7 * 8 * 8 * 9
    downsample = 14 * 14 * 8 * 4 + 7 * 7 * 8 * 8
    fc = 8 * 10
    assert (s.flops, s.bops) == (stem + downsample + fc, binary)


def test_bireal50_has_resnet50_stages_and_a_shortcut_around_every_binary_conv():
    from bireal_hw.models import BiRealBottleneck

    model = build_model("bireal50").eval()
    blocks = [m for m in model.modules() if isinstance(m, BiRealBottleneck)]
    assert len(blocks) == 16 and len(model.binary_convs()) == 48  # + stem + classifier = 50 layers
    assert [b.expand.conv.out_channels for b in blocks] == [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        x = model.stem_pool(model.residual_quant(model.stem_bn(model.stem_conv(model.input_quant(x)))))
        streams = (x, x)
        shapes = []
        for blk in model.blocks:
            streams = blk(streams)
            shapes.append((tuple(streams[0].shape), tuple(streams[1].shape)))
    assert shapes[0] == ((1, 64, 56, 56), (1, 256, 56, 56))
    assert shapes[3] == ((1, 128, 28, 28), (1, 512, 28, 28))
    assert shapes[-1] == ((1, 512, 7, 7), (1, 2048, 7, 7))
    # the narrow projection exists only where the narrow width changes (stages 2-4), the wide one
    # at every stage's first block
    assert sum(b.narrow_shortcut is not None for b in blocks) == 3
    assert sum(b.downsample is not None for b in blocks) == 4
    with pytest.raises(ValueError, match="multiples of 4"):
        model_config("bireal50", widths=(256, 510, 1024, 2048))


def test_bottleneck_summary_counts_every_mac_exactly():
    # one stage of one block, 8x8 input, small stem of 4 channels (= the narrow width), wide 16
    model = build_model(
        "bireal50", widths=(16,), stage_blocks=(1,), stem="small", in_channels=1, num_classes=3, image_size=8
    )
    s = summarize(model)
    px = 8 * 8
    binary = px * (4 * 4 + 4 * 4 * 9 + 4 * 16)  # reduce 4 -> 4 (the stem feeds the wide stream), 3x3, expand
    real = px * 1 * 4 * 9 + px * 4 * 16 + 16 * 3  # stem, the wide projection 4 -> 16, classifier
    assert (s.bops, s.flops) == (binary, real)
