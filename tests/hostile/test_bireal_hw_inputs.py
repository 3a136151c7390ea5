"""Hostile input to the bireal_hw commands (train, evaluate, export, summary, `python -m bireal_hw`):
flags, checkpoints, datasets. Every case: exit status 2, exactly one `error: ` line on stderr, no
traceback, no output folder or file made. A few valid runs show the checks are not vacuous."""

from __future__ import annotations

import gzip
import json
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bireal_hw import __main__ as main_mod
from bireal_hw import evaluate as evaluate_mod
from bireal_hw import export as export_mod
from bireal_hw import summary as summary_mod
from bireal_hw import train as train_mod
from bireal_hw.checkpoint import read_checkpoint, save_checkpoint
from bireal_hw.models import build_model, model_config
from tests.conftest import run_cli

TINY = ["--widths", "8", "--blocks", "1", "--quiet", "--threads", "1"]
COMMANDS = {
    "train": train_mod.main,
    "evaluate": evaluate_mod.main,
    "export": export_mod.main,
    "summary": summary_mod.main,
    "main": main_mod.main,
}


def one_line_refusal(code: int, err: str, words: str = "") -> None:
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].strip(), err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert words.lower() in lines[0].lower(), err


# ------------------------------------------------------------------------------- small inputs


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0D: ">f4"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def fashion_files(root: Path, n: int = 4, images=None, labels=None, split: str = "t10k") -> Path:
    """Tiny Fashion-MNIST files (both splits); `images`/`labels` replace the `split` ones (bytes
    are written as they are, arrays as idx)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        img, lbl = rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10
        if prefix == split:
            img = img if images is None else images
            lbl = lbl if labels is None else labels
        for kind, value in (("images-idx3", img), ("labels-idx1", lbl)):
            raw = value if isinstance(value, bytes) else gzip.compress(idx_bytes(*_with_code(value)))
            (root / f"{prefix}-{kind}-ubyte.gz").write_bytes(raw)
    return root


def _with_code(value):
    return value if isinstance(value, tuple) else (np.asarray(value), 0x08)


def gzip_bomb(n_bytes: int) -> bytes:
    """A gzip file whose idx header says 4 images of 28x28, followed by `n_bytes` of zeros."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [comp.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 4, 28, 28))]
    zeros = bytes(1 << 20)
    for _ in range(n_bytes >> 20):
        parts.append(comp.compress(zeros))
    parts.append(comp.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints: `good` (synthetic data, 1x28x28), `cifar` (3x32x32), `folder` (3x16x16,
    2 classes), and damaged ones."""
    root = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    model = build_model(model_config("bireal_small", widths=(8,), stage_blocks=(1,)))
    synthetic = {"dataset": "synthetic"}
    paths = {}

    def save(name, m=model, weights=None, **fields):
        paths[name] = root / f"{name}.pt"
        save_checkpoint(paths[name], m, **{"train_args": synthetic, "epoch": 1, **fields})
        if weights is not None:  # save_checkpoint takes the model's own state dict
            state = torch.load(paths[name], weights_only=True)
            torch.save({**state, "model": weights}, paths[name])

    save("good")
    save("fmnist", train_args={"dataset": "fashion-mnist"})
    cfg = model.cfg.to_dict()
    for name, change in {
        "negative-width": {"widths": [-8]},
        "float-width": {"widths": [8.5]},
        "huge-image": {"image_size": 10**6},
        "budget": {"widths": [16384, 16384], "stage_blocks": [64, 64]},
        "unknown-key": {"colour": "blue"},
        "name-int": {"name": 7},
        "stem-bogus": {"stem": "bogus"},
        "block-bogus": {"block": "pyramid"},
        "bottleneck-odd-width": {"block": "bottleneck", "widths": [6]},
        "scale-bogus": {"weight_scale": 2},
        "padding-list": {"padding": ["zero"]},
        "widths-text": {"widths": "8"},
        "blocks-bool": {"stage_blocks": [True]},
        "quantized-text": {"quantized": "yes"},
    }.items():
        save(name, config={**cfg, **change})
    save("missing-widths", config={k: v for k, v in cfg.items() if k != "widths"})
    save("config-list", config=[1, 2])
    for name, epoch in {
        "epoch-text": "three",
        "epoch-negative": -1,
        "epoch-float": 1.5,
        "epoch-none": None,
    }.items():
        save(name, epoch=epoch)
    weights = model.state_dict()
    nan = {k: v.clone() for k, v in weights.items()}
    nan["stem_conv.weight"][0, 0, 0, 0] = float("nan")
    save("nan-weight", weights=nan)
    inf = {k: v.clone() for k, v in weights.items()}
    inf["stem_bn.running_var"][1] = float("inf")
    save("inf-bn", weights=inf)
    save("train-args-list", train_args=["synthetic"])
    cifar = build_model(
        model_config("bireal_small", widths=(8,), stage_blocks=(1,), in_channels=3, image_size=32)
    )
    save("cifar", m=cifar, train_args={"dataset": "cifar10"})
    folder = build_model(
        model_config(
            "bireal_small", widths=(8,), stage_blocks=(1,), in_channels=3, image_size=16, num_classes=2
        )
    )
    save("folder", m=folder, train_args={"dataset": "imagenet"})
    return paths


# ------------------------------------------------------------------------------------ flags

TRAIN_FLAGS = [
    ("threads-negative", ["--threads", "-1"], "[1, 4096]"),
    ("label-smoothing-2", ["--label-smoothing", "2"], "< 1"),
    ("label-smoothing-1", ["--label-smoothing", "1"], "< 1"),
    ("lr-nan", ["--lr", "nan"], "finite"),
    ("lr-zero", ["--lr", "0"], "> 0"),
    ("epochs-zero", ["--epochs", "0"], "[1, 1000000]"),
    ("batch-huge", ["--batch-size", str(10**12)], "--batch-size"),
    ("batch-zero", ["--batch-size", "0"], "--batch-size"),
    ("workers-negative", ["--workers", "-1"], "--workers"),
    ("stop-after-zero", ["--stop-after", "0"], "--stop-after"),
    ("eval-every-negative", ["--eval-every", "-1"], "--eval-every"),
    ("image-size-huge", ["--image-size", "100000"], "--image-size"),
    ("train-samples-zero", ["--train-samples", "0"], "--train-samples"),
    ("weight-decay-negative", ["--weight-decay", "-1"], ">= 0"),
    ("weight-decay-inf", ["--weight-decay", "inf"], "finite"),
    ("widths-negative", ["--widths", "8,-1"], "--widths"),
    ("widths-float", ["--widths", "8.5"], "integers"),
    ("widths-huge", ["--widths", "100000"], "--widths"),
    ("blocks-zero", ["--blocks", "0"], "--blocks"),
    ("residual-bits-1", ["--residual-bits", "1"], "[2, 16]"),
    ("seed-negative", ["--seed", "-1"], "--seed"),
    ("budget", ["--widths", "16384,16384", "--blocks", "64,64"], "needs"),
    ("odd-stage", ["--widths", "8,8,8,8", "--blocks", "1,1,1,1"], "odd"),
]


@pytest.mark.parametrize("case,argv,words", TRAIN_FLAGS, ids=[c[0] for c in TRAIN_FLAGS])
def test_train_bad_flags(case, argv, words, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli(train_mod.main, capsys, "--dataset", "synthetic", *TINY, "--out", str(out), *argv)
    one_line_refusal(code, err, words)
    assert not out.exists()


@pytest.mark.parametrize("where", ["is-a-file", "under-a-file"])
def test_train_unusable_out(where, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker if where == "is-a-file" else blocker / "out"
    code, _, err = run_cli(train_mod.main, capsys, "--dataset", "synthetic", *TINY, "--out", str(out))
    one_line_refusal(code, err, "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and blocker.read_text() == "x"


OTHER_FLAGS = [
    ("evaluate-limit-0", "evaluate", ["--checkpoint", "{good}", "--limit", "0"], ">= 1"),
    ("evaluate-limit-negative", "evaluate", ["--checkpoint", "{good}", "--limit", "-5"], ">= 1"),
    ("evaluate-limit-text", "evaluate", ["--checkpoint", "{good}", "--limit", "all"], "not a number"),
    ("main-limit-0", "main", ["--checkpoint", "{good}", "--out", "{out}", "--limit", "0"], ">= 1"),
    (
        "main-limit-nan",
        "main",
        ["--checkpoint", "{good}", "--out", "{out}", "--limit", "nan"],
        "not a number",
    ),
    ("main-out-file", "main", ["--checkpoint", "{good}", "--out", "{file}", "--limit", "2"], "is a file"),
    ("export-out-under-file", "export", ["--checkpoint", "{good}", "--out", "{file}/m.onnx"], "not a folder"),
    ("summary-image-huge", "summary", ["bireal18", "--image-size", "100000"], "--image-size"),
    ("summary-image-zero", "summary", ["bireal18", "--image-size", "0"], "--image-size"),
    ("summary-image-odd", "summary", ["bireal18", "--image-size", "7"], "odd"),
    ("summary-unknown", "summary", ["bireal99"], "unknown model"),
]


@pytest.mark.parametrize("case,command,argv,words", OTHER_FLAGS, ids=[c[0] for c in OTHER_FLAGS])
def test_other_bad_flags(case, command, argv, words, ckpts, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    subs = {"{good}": str(ckpts["good"]), "{out}": str(tmp_path / "out"), "{file}": str(tmp_path / "file")}
    for key, value in subs.items():
        argv = [a.replace(key, value) for a in argv]
    code, _, err = run_cli(COMMANDS[command], capsys, *argv)
    one_line_refusal(code, err, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert (tmp_path / "file").read_text() == "x"


def test_main_help_describes_todays_job(capsys):
    code, out, _ = run_cli(main_mod.main, capsys, "--help")
    text = " ".join(out.split())  # argparse wraps lines
    assert code == 0
    assert "until the compiler lands" not in text and "(default: out)" in text
    assert "integer golden" in text and "QONNX" in text and "compiler.build --target fpga" in text


# ------------------------------------------------------------------------------ checkpoints

CHECKPOINT_CASES = [
    ("negative-width", "widths[0] must be an integer"),
    ("float-width", "widths[0] must be an integer"),
    ("huge-image", "image_size must be an integer in [1, 4096]"),
    ("budget", "needs"),
    ("unknown-key", "unknown model config fields"),
    ("name-int", "'name' must be a string"),
    ("stem-bogus", "'stem' must be one of"),
    ("block-bogus", "'block' must be one of"),
    ("bottleneck-odd-width", "multiples of 4"),
    ("scale-bogus", "'weight_scale' must be one of"),
    ("padding-list", "'padding' must be one of"),
    ("widths-text", "'widths' must be a list"),
    ("blocks-bool", "stage_blocks[0] must be an integer"),
    ("quantized-text", "'quantized' must be true or false"),
    ("missing-widths", "lacks the fields ['widths']"),
    ("config-list", "lacks its 'config' entry"),
    ("epoch-text", "'epoch'"),
    ("epoch-negative", "'epoch'"),
    ("epoch-float", "'epoch'"),
    ("epoch-none", "'epoch'"),
    ("nan-weight", "'stem_conv.weight' holds 1 non-finite"),
    ("inf-bn", "'stem_bn.running_var' holds 1 non-finite"),
    ("train-args-list", "'train_args' entry is a list"),
]


SAMPLED = ("huge-image", "nan-weight", "epoch-text", "unknown-key")  # also on export and main
CHECKPOINT_RUNS = [("evaluate", *c) for c in CHECKPOINT_CASES] + [
    (command, *c) for command in ("export", "main") for c in CHECKPOINT_CASES if c[0] in SAMPLED
]


@pytest.mark.parametrize(
    "command,name,words", CHECKPOINT_RUNS, ids=[f"{c[0]}-{c[1]}" for c in CHECKPOINT_RUNS]
)
def test_bad_checkpoints(command, name, words, ckpts, tmp_path, capsys):
    out = tmp_path / ("model.onnx" if command == "export" else "out")
    argv = ["--checkpoint", str(ckpts[name])] + ([] if command == "evaluate" else ["--out", str(out)])
    code, _, err = run_cli(
        COMMANDS[command], capsys, *argv, *(["--limit", "2"] if command != "export" else [])
    )
    one_line_refusal(code, err, words)
    assert str(ckpts[name]) in err
    assert list(tmp_path.iterdir()) == []


def _trained(tmp_path: Path) -> Path:
    """An out folder after one epoch of tiny training (synthetic data)."""
    out = tmp_path / "run"
    code = run_train_ok(out, "--epochs", "2", "--stop-after", "1")
    assert code == 0
    return out


def run_train_ok(out: Path, *extra: str) -> int:
    try:
        train_mod.main(
            [
                "--dataset",
                "synthetic",
                *TINY,
                "--batch-size",
                "128",
                "--eval-every",
                "0",
                "--out",
                str(out),
                *extra,
            ]
        )
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _foreign_optimizer() -> dict:
    other = build_model(model_config("bireal_small", widths=(8, 16), stage_blocks=(1, 1)))
    opt = torch.optim.Adam(other.parameters())
    other(torch.rand(2, 1, 28, 28)).sum().backward()
    opt.step()
    return opt.state_dict()


RESUME_CASES = {
    "foreign-optimizer": (lambda state: _foreign_optimizer(), "optimizer state"),
    "garbage-optimizer": (lambda state: {"state": 3, "param_groups": "x"}, "optimizer state"),
    "groups-without-params": (lambda state: {"state": {}, "param_groups": [{"lr": 1}]}, "optimizer state"),
    "moment-shape": (
        lambda state: {
            **state["optimizer"],
            "state": {k: {**v, "exp_avg": torch.zeros(3)} for k, v in state["optimizer"]["state"].items()},
        },
        "exp_avg",
    ),
    "step-text": (
        lambda state: {
            **state["optimizer"],
            "state": {k: {**v, "step": "many"} for k, v in state["optimizer"]["state"].items()},
        },
        "optimizer state",
    ),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return _trained(tmp_path_factory.mktemp("trained"))


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_with_bad_optimizer_state(case, trained, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    state = read_checkpoint(trained / "checkpoint.pt")
    change, words = RESUME_CASES[case]
    state["optimizer"] = change(state)
    torch.save(state, out / "checkpoint.pt")
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    code = run_train_ok(out, "--epochs", "2", "--resume")
    _, err = capsys.readouterr()
    one_line_refusal(code, err, words)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]
    assert (out / "checkpoint.pt").read_bytes() == before


def test_resume_with_bad_epoch(trained, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    state = read_checkpoint(trained / "checkpoint.pt")
    state["epoch"] = "three"
    torch.save(state, out / "checkpoint.pt")
    capsys.readouterr()
    code = run_train_ok(out, "--epochs", "2", "--resume")
    one_line_refusal(code, capsys.readouterr().err, "'epoch'")


# ---------------------------------------------------------------------------------- datasets

n4 = np.arange(4)
DATA_CASES = {
    "corrupt-gzip": ({"images": b"\x1f\x8b\x08\x00garbage" * 20}, "not a readable gzip"),
    "not-gzip": ({"labels": b"plain bytes, not gzip"}, "gzip"),
    "truncated-idx": ({"images": gzip.compress(idx_bytes(np.zeros((4, 28, 28)))[:-100])}, "truncated"),
    "truncated-header": ({"images": gzip.compress(b"\x00\x00\x08\x03\x00\x00")}, "truncated IDX header"),
    "bad-magic": ({"labels": gzip.compress(b"\x01\x02\x03\x04" * 4)}, "bad magic"),
    "label-10": ({"labels": np.array([0, 1, 10, 3])}, "label 10 is outside"),
    "label-255": ({"labels": np.array([255, 1, 2, 3])}, "label 255 is outside"),
    "label-negative": ({"labels": (np.array([0, -1, 2, 3]), 0x09)}, "label -1 is outside"),
    "labels-n-by-1": ({"labels": n4[:, None] % 10}, "shape (4, 1)"),
    "labels-2d": ({"labels": np.zeros((4, 2))}, "shape (4, 2)"),
    "labels-float": ({"labels": (np.zeros(4), 0x0D)}, "not integers"),
    "count-mismatch": ({"labels": np.arange(3)}, "4 images but 3 labels"),
    "images-wrong-size": ({"images": np.zeros((4, 20, 20))}, "the model expects 1x28x28"),
    "images-not-square": ({"images": np.zeros((4, 28, 20))}, "square"),
    "images-float": ({"images": (np.zeros((4, 28, 28)), 0x0D)}, "not 8-bit"),
    "images-empty": ({"images": np.zeros((0, 28, 28)), "labels": np.zeros(0)}, "no images"),
    "images-2d": ({"images": np.zeros((4, 784))}, "want (N, H, W)"),
    "gzip-bomb": ({"images": gzip_bomb(48 << 20)}, "decompresses to more than"),
    "huge-header": (
        {"images": gzip.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 2**31 - 1, 2**31 - 1, 28))},
        "elements",
    ),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_evaluate_bad_fashion_mnist(case, ckpts, tmp_path, capsys):
    files, words = DATA_CASES[case]
    data = fashion_files(tmp_path / "data", **files)
    code, _, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["fmnist"]), "--data-dir", str(data), "--quiet"
    )
    one_line_refusal(code, err, words)


@pytest.mark.parametrize("case", ["corrupt-gzip", "label-10", "labels-n-by-1", "gzip-bomb", "count-mismatch"])
@pytest.mark.parametrize("split", ["train", "t10k"])
def test_train_bad_fashion_mnist(case, split, tmp_path, capsys):
    files, words = DATA_CASES[case]
    data = fashion_files(tmp_path / "data", split=split, **files)
    out = tmp_path / "out"
    code, _, err = run_cli(
        train_mod.main, capsys, "--data-dir", str(data), *TINY, "--epochs", "1", "--out", str(out)
    )
    one_line_refusal(code, err, words)
    assert not out.exists()


def test_train_splits_of_different_sizes(tmp_path, capsys):
    data = fashion_files(tmp_path / "data", images=np.zeros((4, 20, 20)))
    out = tmp_path / "out"
    code, _, err = run_cli(train_mod.main, capsys, "--data-dir", str(data), *TINY, "--out", str(out))
    one_line_refusal(code, err, "both splits must agree")
    assert not out.exists()


def _cifar(root: Path, content) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(content if isinstance(content, bytes) else pickle.dumps(content))
    return root


GOOD_CIFAR = {b"data": np.zeros((4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
CIFAR_CASES = {
    "garbage": (b"\x80\x04garbage" * 50, "not a CIFAR-10 python batch"),
    "truncated": (pickle.dumps(GOOD_CIFAR)[:-200], "not a CIFAR-10 python batch"),
    "label-10": ({**GOOD_CIFAR, b"labels": [0, 1, 10, 3]}, "label 10 is outside"),
    "label-huge": ({**GOOD_CIFAR, b"labels": [0, 1, 2**70, 3]}, "outside"),
    "labels-2d": ({**GOOD_CIFAR, b"labels": np.zeros((4, 2), dtype=np.int64)}, "integer labels"),
    "data-shape": ({**GOOD_CIFAR, b"data": np.zeros((4, 100), dtype=np.uint8)}, "(N, 3072)"),
    "count-mismatch": ({**GOOD_CIFAR, b"labels": [0, 1]}, "4 images but 2 labels"),
    "not-a-dict": ([1, 2, 3], "no b'data'"),
}


@pytest.mark.parametrize("case", list(CIFAR_CASES))
def test_evaluate_bad_cifar(case, ckpts, tmp_path, capsys):
    content, words = CIFAR_CASES[case]
    root = _cifar(tmp_path / "cifar", content)
    code, _, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["cifar"]), "--data-dir", str(root)
    )
    one_line_refusal(code, err, words)


def _image_folder(root: Path, bad: bytes | None = None) -> Path:
    for cls in ("cat", "dog"):
        d = root / "val" / cls
        d.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((20, 24, 3), 40 * i, dtype=np.uint8)).save(d / f"{i}.png")
    if bad is not None:
        (root / "val" / "dog" / "9.jpg").write_bytes(bad)
    return root


@pytest.mark.parametrize(
    "bad", [b"not a jpeg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40], ids=["garbage", "png-header"]
)
def test_evaluate_bad_image_folder(bad, ckpts, tmp_path, capsys):
    root = _image_folder(tmp_path / "imagenet", bad)
    code, _, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["folder"]), "--data-dir", str(root)
    )
    one_line_refusal(code, err, "cannot decode image")


def test_train_bad_image_in_a_worker_process(tmp_path, capsys):
    """A decode error raised in a DataLoader worker is still one line (not the worker's traceback)."""
    root = _image_folder(tmp_path / "imagenet", b"junk")
    for cls in ("cat", "dog"):
        (root / "train" / cls).mkdir(parents=True)
    (root / "train" / "dog" / "0.jpg").write_bytes(b"junk")
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(root / "train" / "cat" / "0.png")
    out = tmp_path / "out"
    argv = [
        "--dataset",
        "imagenet",
        "--data-dir",
        str(root),
        "--image-size",
        "16",
        *TINY,
        "--batch-size",
        "2",
    ]
    code, _, err = run_cli(train_mod.main, capsys, *argv, "--workers", "1", "--out", str(out))
    one_line_refusal(code, err, "cannot decode image")
    assert not out.exists()


def test_evaluate_image_folder_of_other_class_count(ckpts, tmp_path, capsys):
    root = _image_folder(tmp_path / "imagenet")
    (root / "val" / "bird").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(root / "val" / "bird" / "0.png")
    code, _, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["folder"]), "--data-dir", str(root)
    )
    one_line_refusal(code, err, "3 classes; the model has 2")


# ------------------------------------------------------------------------ valid inputs work


def test_evaluate_limit_3_on_synthetic(ckpts, capsys):
    code, out, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["good"]), "--limit", "3", "--integer"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 3 and report["integer"]["disagreements"] <= 3
    assert err == ""  # no progress bar when stderr is not a terminal


def test_evaluate_tiny_fashion_mnist_files(ckpts, tmp_path, capsys):
    data = fashion_files(tmp_path / "data", n=6)
    code, out, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["fmnist"]), "--data-dir", str(data)
    )
    assert code == 0, err
    assert json.loads(out)["images"] == 6


def test_evaluate_image_folder_and_cifar(ckpts, tmp_path, capsys):
    root = _image_folder(tmp_path / "imagenet")
    code, out, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["folder"]), "--data-dir", str(root)
    )
    assert code == 0 and json.loads(out)["images"] == 4, err
    root = _cifar(tmp_path / "cifar", GOOD_CIFAR)
    code, out, err = run_cli(
        evaluate_mod.main, capsys, "--checkpoint", str(ckpts["cifar"]), "--data-dir", str(root)
    )
    assert code == 0 and json.loads(out)["images"] == 4, err


def test_train_then_resume_with_its_own_optimizer_state(trained, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes((trained / "checkpoint.pt").read_bytes())
    assert run_train_ok(out, "--epochs", "2", "--resume") == 0
    state = read_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)


def test_summary_at_a_valid_image_size(capsys):
    code, out, err = run_cli(summary_mod.main, capsys, "bireal_small", "--image-size", "32")
    assert code == 0 and "bireal_small" in out, err
