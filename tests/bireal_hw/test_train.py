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
