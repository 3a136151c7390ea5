"""Training: a smoke run whose loss goes down, exact resume, 2-process DDP, checkpoint errors."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bireal_hw import train as train_mod
from bireal_hw.checkpoint import load_model, read_checkpoint, save_checkpoint
from bireal_hw.errors import UserError
from bireal_hw.models import build_model

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    "--dataset",
    "synthetic",
    "--widths",
    "8,8,16",
    "--blocks",
    "1,1,1",
    "--batch-size",
    "64",
    "--quiet",
    "--threads",
    "1",
]


def run_train(tmp_path, *extra):
    args = train_mod.build_parser().parse_args([*SMALL, "--out", str(tmp_path), *extra])
    return train_mod.train(args)


def test_training_smoke_loss_goes_down(tmp_path):
    run_train(tmp_path, "--epochs", "4", "--lr", "4e-2")
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 4
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_acc"] > 0.3  # 10 classes: chance is 0.1
    assert (tmp_path / "metrics.csv").read_text().startswith("epoch,train_loss")
    assert history[-1]["lr_end"] < 4e-2 * 64 / 512 / 4  # decayed linearly towards 0


def test_resume_continues_exactly(tmp_path):
    straight, parts = tmp_path / "straight", tmp_path / "parts"
    run_train(straight, "--epochs", "2")
    run_train(parts, "--epochs", "2", "--stop-after", "1")
    assert read_checkpoint(parts / "checkpoint.pt")["epoch"] == 1
    run_train(parts, "--epochs", "2", "--resume")
    a, b = read_checkpoint(straight / "checkpoint.pt"), read_checkpoint(parts / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["history"][-1]["train_loss"] == b["history"][-1]["train_loss"]


def test_two_step_schedule_binarizes_weights_in_second_half(tmp_path):
    run_train(tmp_path, "--epochs", "2", "--two-step")
    history = read_checkpoint(tmp_path / "checkpoint.pt")["history"]
    assert [h["binary_weights"] for h in history] == [False, True]


def test_existing_output_needs_resume_and_matching_config(tmp_path):
    run_train(tmp_path, "--epochs", "1")
    with pytest.raises(UserError, match="--resume"):
        run_train(tmp_path, "--epochs", "1")
    with pytest.raises(UserError, match="another model config"):
        run_train(tmp_path, "--epochs", "2", "--resume", "--residual-bits", "4")


def test_checkpoint_round_trip(tmp_path):
    model = build_model("bireal_small", widths=(4, 4, 8), stage_blocks=(1, 1, 1))
    save_checkpoint(tmp_path / "c.pt", model, epoch=3)
    loaded, state = load_model(tmp_path / "c.pt")
    assert state["epoch"] == 3 and loaded.cfg == model.cfg
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def _cli(module, *args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_two_processes_on_cpu(tmp_path):
    """Two ranks over gloo, started with the environment torchrun gives its workers (RANK, WORLD_SIZE,
    MASTER_ADDR/PORT), so that the test covers the trainer and not torchrun's elastic agent. A rank that
    stalls is stopped with SIGABRT, whose faulthandler stack dump is the failure message."""
    port = _free_port()
    cmd = [sys.executable, "-X", "faulthandler", "-m", "bireal_hw.train", *SMALL, "--epochs", "2"]
    cmd += ["--out", str(tmp_path)]
    procs = []
    for rank in range(2):
        env = dict(os.environ, OMP_NUM_THREADS="1", RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2")
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), BIREAL_DIST_TIMEOUT_S="120")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    for rank, proc in enumerate(procs):
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGABRT)
            out, err = proc.communicate()
            pytest.fail(f"rank {rank} did not finish in 300 s; its stacks:\n{err.decode()[-4000:]}")
        assert proc.returncode == 0, f"rank {rank}: {err.decode()[-2000:]}"
        outputs.append(out.decode())
    state = read_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 2
    h = state["history"]
    assert h[1]["train_loss"] < h[0]["train_loss"]
    assert json.loads(outputs[0].strip().splitlines()[-1])["epoch"] == 2
    assert outputs[1].strip() == ""  # only rank 0 prints the final metrics


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "not a readable checkpoint"),
        (b"\x00garbage" * 100, "not a readable checkpoint"),
        ("pickle", "not a readable checkpoint"),
        ("foreign", "not a bireal-hw checkpoint"),
        ("wrong-weights", "do not fit"),
        ("truncated", "not a readable checkpoint"),
    ],
    ids=["empty", "garbage", "malicious-pickle", "foreign", "wrong-weights", "truncated"],
)
def test_bad_checkpoints_give_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content == "pickle":
        import pickle

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + str(tmp_path / "pwned"),))

        path.write_bytes(pickle.dumps(Evil()))
    elif content == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    elif content == "wrong-weights":
        model = build_model("bireal_small", widths=(4, 4, 8), stage_blocks=(1, 1, 1))
        save_checkpoint(path, model)
        state = torch.load(path, weights_only=True)
        state["model"]["stem_conv.weight"] = torch.zeros(3, 3)
        torch.save(state, path)
    elif content == "truncated":
        save_checkpoint(path, build_model("bireal_small", widths=(4, 4, 8), stage_blocks=(1, 1, 1)))
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    proc = _cli("bireal_hw.evaluate", "--checkpoint", str(path), "--dataset", "synthetic")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "pwned").exists()


def test_missing_dataset_folder_is_a_clear_error(tmp_path):
    proc = _cli(
        "bireal_hw.train",
        "--dataset",
        "cifar10",
        "--data-dir",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "o"),
    )
    assert (
        proc.returncode == 2
        and proc.stderr.startswith("error: ")
        and len(proc.stderr.strip().splitlines()) == 1
    )
    assert not (tmp_path / "o").exists()


def test_caffe_recipe_runs_its_five_phases_end_to_end(tmp_path):
    """--recipe caffe on small data: ReLU, leaky-clip and clip pre-training of the float twin,
    the binary step with SGD and step decay from the clip phase's weights, then BatchNorm alone
    retrained on +-1 weights; the result is a quantized model with unit weight scale that the
    integer golden takes."""
    from bireal_hw.integer import integer_model

    out = tmp_path / "caffe"
    args = ["--recipe", "caffe", *SMALL, "--epochs", "4", "--pretrain-epochs", "3", "--out", str(out)]
    train_mod.main(args)
    phases = json.loads((out / "recipe.json").read_text())
    assert [p["phase"] for p in phases] == ["relu", "leaky_clip", "clip", "binary", "bn"]
    assert [p["epochs"] for p in phases] == [3, 1, 1, 4, 1]
    states = {
        p: read_checkpoint(out / f"{i}_{p}" / "checkpoint.pt")
        for i, p in enumerate(["relu", "leaky_clip", "clip", "binary", "bn"], 1)
    }
    assert [states[p]["config"]["float_activation"] for p in ("relu", "leaky_clip", "clip")] == [
        "relu",
        "leaky_clip",
        "clip",
    ]
    assert not states["clip"]["config"]["quantized"] and states["binary"]["config"]["quantized"]
    # SGD with step decay: the ReLU phase ends at 1/100 of 0.1 x 64/256, the binary one at 1/100 of 0.01 x 64/128
    assert phases[0]["lr_end"] == pytest.approx(0.1 * 64 / 256 * 0.01)
    assert phases[3]["lr_end"] == pytest.approx(0.01 * 64 / 128 * 0.01)
    # the binary step starts from the clip phase's weights: its first conv moved from them, not from a fresh init
    model, _ = load_model(out / "checkpoint.pt")
    assert model.cfg.weight_scale.value == "one"
    assert torch.equal(
        model.blocks[0].conv.quant_weight().scale, torch.ones_like(model.blocks[0].conv.quant_weight().scale)
    )
    b, f = states["binary"]["model"], states["bn"]["model"]
    convs = [k for k in b if k.endswith("conv.weight") or k == "fc.weight"]
    assert convs and all(torch.equal(b[k], f[k]) for k in convs)  # only BatchNorm trained in phase 5
    assert not torch.equal(
        b["blocks.0.bn.running_var"], f["blocks.0.bn.running_var"]
    )  # it absorbed the scale
    with torch.no_grad():
        golden = integer_model(model)
        x = torch.rand(8, 1, 28, 28)
        qat, ints = model.eval()(x), golden.real_logits(golden.quantize_input(x))
    assert (qat.argmax(1) == ints.argmax(1)).float().mean() >= 0.75


def test_caffe_recipe_refuses_what_it_cannot_combine(tmp_path, capsys):
    from tests.conftest import run_cli

    code, _, err = run_cli(
        train_mod.main, capsys, "--recipe", "caffe", *SMALL, "--resume", "--out", str(tmp_path)
    )
    assert (
        code == 2 and "--resume does not go with --recipe caffe" in err and len(err.strip().splitlines()) == 1
    )


def test_leaky_clip_is_the_identity_inside_and_a_tenth_outside():
    from bireal_hw.quantizers import LeakyClip

    x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.7, 1.0, 2.0])
    assert torch.allclose(LeakyClip()(x), torch.tensor([-1.2, -1.0, -0.5, 0.0, 0.7, 1.0, 1.1]))
