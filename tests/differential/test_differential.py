"""The differential harness (compiler.differential): seeded random models through every target,
compared with `==` against the golden, and the golden against the independent exact reference.

Default run: four random Bi-Real models chosen to span the space (zero padding with a 2-bit
grid and a 2-channel stage; an odd 13x13 one-channel input with a 3-bit grid; the ImageNet stem;
a one-channel stage, constant padding and brief training) and four narrow CNNs whose input and
activations are signed and unsigned 2- and 3-bit maps, each width and sign in each position.
Two models with Bi-Real-50's bottleneck blocks go through every target too.
`-m slow`: 50 random models, 10 bottleneck ones and all 16 narrow ones, every target."""

from __future__ import annotations

import pytest

from compiler.differential import GOLDEN, NARROW, TARGETS, run_case, run_narrow_case, table

FAST_SEEDS = [12, 38, 14, 1]
HLS4ML_SEEDS = [38]  # hls4ml's C-simulation runs about an image per second
RTL_SEEDS = [38, 14]  # Verilating seeds 1 and 12 takes 2-3 minutes each: the slow sweep has them
FAST_NARROW = [(NARROW[0], NARROW[0]), (NARROW[1], NARROW[2]), (NARROW[2], NARROW[1]), (NARROW[3], NARROW[3])]


def assert_clean(outcomes) -> None:
    bad = [o for o in outcomes if o.failed]
    assert not bad, "\n".join(
        f"{o.case} {o.target}: {o.result} {o.detail}; rebuild: {o.rebuild()}" for o in bad
    )
    for o in outcomes:
        if o.result == "refused":
            assert "\n" not in o.detail and o.target == "hls4ml", o  # hls4ml cannot pad with +-1
        else:
            assert o.result == "ok" and o.images > 0, o


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_random_model_through_every_target(seed, tmp_path):
    targets = tuple(
        t for t in TARGETS if (t != "hls4ml" or seed in HLS4ML_SEEDS) and (t != "rtl" or seed in RTL_SEEDS)
    )
    outcomes = run_case(str(seed), targets, tmp_path, images=24, hls4ml_images=4)
    assert_clean(outcomes)
    assert [o.target for o in outcomes] == [GOLDEN, *targets]
    assert outcomes[0].detail != "1 distinct outputs"  # the check images exercise the model


@pytest.mark.parametrize("case", ["b38", "b1"])
def test_bottleneck_model_through_every_target(case, tmp_path):
    """Bi-Real-50's blocks (two residual streams, three-way forks, 1x1 binary convs, a stride-2
    average on the grid): b38 one block over a 13x13 map, b1 five blocks in three stages with +1
    padding, trained briefly."""
    targets = TARGETS if case == "b38" else ("ir", "sim", "fpga", "cpu")  # b1's RTL: the slow sweep
    outcomes = run_case(case, targets, tmp_path, images=16, hls4ml_images=3)
    assert_clean(outcomes)
    assert [o.target for o in outcomes] == [GOLDEN, *targets]
    assert outcomes[0].detail != "1 distinct outputs"


@pytest.mark.parametrize("in_type, act_type", FAST_NARROW)
def test_narrow_types_through_every_target(in_type, act_type, tmp_path):
    assert_clean(run_narrow_case(in_type, act_type, TARGETS, tmp_path, images=16, hls4ml_images=3))


def test_exact_reference_is_independent_of_the_golden():
    """It sees a difference the golden's folding would hide: one BatchNorm beta moved by a
    fraction of a grid step changes some logits of the exact reference computed from it."""
    import numpy as np
    import torch

    from bireal_hw.exact_reference import ExactBiReal
    from bireal_hw.integer import integer_model
    from bireal_hw.random_models import draw_spec, make_model

    spec = draw_spec(3)
    model = make_model(spec)
    c = spec.config
    pixels = np.random.default_rng(0).integers(0, 256, size=(16, c.in_channels, c.image_size, c.image_size))
    golden = integer_model(model)(torch.from_numpy(pixels)).numpy()
    assert (ExactBiReal(model)(pixels) == golden).all()
    with torch.no_grad():
        model.blocks[0].bn.bias.add_(0.7 * float(model.residual_quant.act_quant.scale()))
    assert (ExactBiReal(model)(pixels) != golden).any()


def test_generator_spans_the_claimed_space():
    from bireal_hw.random_models import draw_spec

    specs = [draw_spec(s) for s in range(300)]
    cfgs = [s.config for s in specs]
    assert {c.padding.value for c in cfgs} == {"zero", "plus_one", "minus_one"}
    assert {c.residual_bits for c in cfgs} == set(range(2, 9))
    assert {c.in_channels for c in cfgs} == {1, 3} and {c.stem.value for c in cfgs} == {"small", "imagenet"}
    widths = {w for c in cfgs for w in (*c.widths, c.stem_channels)}
    assert {1, 5, 63, 65, 130} <= widths and any(w % 16 for w in widths)
    assert any(c.image_size % 2 for c in cfgs) and {len(c.widths) for c in cfgs} == {1, 2, 3}
    assert any(s.train_steps for s in specs)
    assert draw_spec(7) == draw_spec(7)  # a pure function of the seed


def test_table_and_rebuild_command():
    from compiler.differential import Outcome

    rows = [Outcome("7", GOLDEN, "ok", images=4), Outcome("7", "cpu", "MISMATCH", "cpu: 1 of 4")]
    assert "| 7 |" in table(rows) and "MISMATCH" in table(rows)
    assert "bottleneck blocks" in table([Outcome("b7", GOLDEN, "ok", images=4)])
    assert Outcome("b7", "rtl", "MISMATCH").rebuild() == (
        "python -m compiler.differential --seed 7 --block bottleneck --targets rtl"
    )
    assert rows[1].rebuild() == "python -m compiler.differential --seed 7 --targets cpu"
    assert (
        Outcome("i2,u3", "fpga", "CRASH").rebuild()
        == "python -m compiler.differential --narrow i2,u3 --targets fpga"
    )


@pytest.mark.slow
@pytest.mark.timeout(5400)  # about 25-40 minutes on 2 cores
def test_sweep_50_random_models_and_10_bottleneck_ones_every_target(tmp_path):
    outcomes = []
    for case in [str(seed) for seed in range(50)] + [f"b{seed}" for seed in range(10)]:
        outcomes += run_case(case, TARGETS, tmp_path, images=40, hls4ml_images=6)
    print(table(outcomes))
    assert_clean(outcomes)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sweep_every_narrow_model_every_target(tmp_path):
    outcomes = []
    for a in NARROW:
        for b in NARROW:
            outcomes += run_narrow_case(a, b, TARGETS, tmp_path, images=40, hls4ml_images=6)
    print(table(outcomes))
    assert_clean(outcomes)
