"""Dataset readers on small data generated here: IDX, CIFAR-10 batches, ImageNet folders."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from bireal_hw.data import load_dataset, shard_indices
from bireal_hw.data.idx import read_idx
from bireal_hw.data.transforms import random_crop_flip, random_resized_crop_params
from bireal_hw.errors import UserError


def write_idx(path, array: np.ndarray, compress=True):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def make_fashion_mnist(root, n=20):
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))


def test_idx_reader_and_fashion_mnist_loader(tmp_path):
    make_fashion_mnist(tmp_path)
    ds = load_dataset("fashion-mnist", "train", tmp_path)
    assert len(ds) == 20 and ds.images.shape == (20, 1, 28, 28) and ds.images.dtype == torch.uint8
    x, y = next(ds.batches(8, train=False))
    assert x.shape == (8, 1, 28, 28) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    assert torch.equal((x * 255).round().to(torch.uint8), ds.images[:8])
    assert y.dtype == torch.int64


@pytest.mark.parametrize("damage", ["truncate", "magic", "shape"])
def test_idx_reader_rejects_damaged_files(tmp_path, damage):
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros((4, 3, 3)), compress=False)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[:-5]
    elif damage == "magic":
        raw[2] = 0x42
    else:
        raw[4:8] = struct.pack(">I", 2**30)  # declares far more data than the file has
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError):
        read_idx(path)


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(UserError, match="apt-get install -y dataset-fashion-mnist"):
        load_dataset("fashion-mnist", "train", tmp_path)


def make_cifar(root, n=10):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, n)),
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def test_cifar10_loader(tmp_path):
    folder = make_cifar(tmp_path)
    train = load_dataset("cifar10", "train", tmp_path)
    test = load_dataset("cifar10", "test", folder)
    assert len(train) == 50 and len(test) == 10
    assert train.images.shape == (50, 3, 32, 32) and train.in_channels == 3 and train.image_size == 32
    x, _ = next(train.batches(16, train=True))
    assert x.shape == (16, 3, 32, 32)


def test_cifar10_refuses_code_in_pickles(tmp_path):
    folder = make_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(UserError, match="refusing to load builtins.print"):
        load_dataset("cifar10", "test", tmp_path)


def make_image_folder(root, sizes=((40, 30), (64, 64), (25, 50))):
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i, (w, h) in enumerate(sizes):
                arr = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")


def test_imagenet_folder_loader(tmp_path):
    make_image_folder(tmp_path)
    train = load_dataset("imagenet", "train", tmp_path, image_size=32)
    val = load_dataset("imagenet", "test", tmp_path, image_size=32)
    assert len(train) == 6 and train.num_classes == 2
    batches = list(train.batches(4, train=True, seed=3, epoch=1))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 32, 32)]  # training drops the partial batch
    again = list(train.batches(4, train=True, seed=3, epoch=1))
    assert all(
        torch.equal(a[0], b[0]) for a, b in zip(batches, again, strict=False)
    )  # augmentation is seeded
    x, y = next(val.batches(6, train=False))
    assert x.shape == (6, 3, 32, 32) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_imagenet_bad_image_is_a_user_error(tmp_path):
    make_image_folder(tmp_path)
    (tmp_path / "val" / "dog" / "9.jpg").write_bytes(b"not a jpeg")
    val = load_dataset("imagenet", "test", tmp_path, image_size=32)
    with pytest.raises(UserError, match="cannot decode"):
        list(val.batches(8, train=False))


def test_random_resized_crop_params_stay_inside():
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        left, top, w, h = random_resized_crop_params(50, 30, gen)
        assert left >= 0 and top >= 0 and left + w <= 50 and top + h <= 30 and w > 0 and h > 0


def test_random_crop_flip():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(random_crop_flip(x, 0, False, gen), x)
    y = random_crop_flip(x, 2, True, gen)
    assert y.shape == x.shape


def test_shards_are_disjoint_and_equal():
    def gen():
        return torch.Generator().manual_seed(5)

    a = shard_indices(11, True, gen(), 0, 2)
    b = shard_indices(11, True, gen(), 1, 2)
    assert len(a) == len(b) == 5 and not set(a.tolist()) & set(b.tolist())
