"""The red/green box dataset of the padding study, and its LightningDataModule.

`generate_boxes` reproduces the reference generator draw for draw (numpy's legacy global RNG,
reseeded at every call), so results compare with the report. Class 0 has a red box left of a
green one near row `offset1`; class 1 has green left of red near row `offset2`. The shifted
variant swaps the classes' vertical halves, which only a net that ignores absolute position
can classify.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from dl2.data.base import DataModule, TrainOrder
from dl2.data.samplers import ResumableRandomSampler
from dl2.data.tensors import tensor_loader
from dl2.errors import ConfigValueError, check_choice, check_positive

PROTOCOLS = ("reference", "independent")


def check_geometry(
    image_size: int, box_size: int, offset1: int, offset2: int, fluctuation: int
) -> None:
    """Fail unless every box the generator can draw lies inside the image."""
    for key, value in (
        ("image_size", image_size),
        ("box_size", box_size),
        ("fluctuation", fluctuation),
    ):
        check_positive(key, value)
    off = image_size - box_size
    if int(off / 2 - box_size) < 1:
        raise ConfigValueError(
            "box_size",
            box_size,
            f"must leave room for the left box: int(({image_size} - box_size) / 2 - box_size) >= 1",
        )
    x1_max = int(off / 2 - box_size) - 1
    if x1_max + box_size + 1 > off - 1:
        raise ConfigValueError(
            "box_size",
            box_size,
            "must leave room for the right box at least box_size + 1 columns right of the left one",
        )
    low, high = int(-off / fluctuation), int(off / fluctuation)
    for key, row in (("offset1", offset1), ("offset2", offset2)):
        if isinstance(row, bool) or not isinstance(row, int):
            raise ConfigValueError(key, row, "must be an integer row")
        if row + low < 0 or row + high - 1 + box_size > image_size:
            raise ConfigValueError(
                key,
                row,
                f"boxes near this row (jitter {low}..{high - 1}) must fit rows 0..{image_size - 1}:"
                f" need {-low} <= {key} <= {image_size - box_size - high + 1}",
            )


def memory_bytes() -> int | None:
    """This machine's memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(n_train: int, n_val: int, n_test: int, image_size: int) -> None:
    """The splits are generated in memory (float32, 3 channels; the test split twice:
    shifted and not): refuse sizes the machine cannot hold before drawing any."""
    images = n_train + n_val + 2 * n_test
    need, have = images * 3 * image_size**2 * 4, memory_bytes()
    if have is not None and need > have:
        raise ConfigValueError(
            "n_train",
            n_train,
            f"with n_val={n_val} and n_test={n_test} "
            f"the images need {need / 2**30:,.1f} GiB of memory and this "
            f"machine has {have / 2**30:,.1f} GiB",
        )


def generate_boxes(
    n: int,
    seed: int = 42,
    shifted: bool = False,
    image_size: int = 32,
    box_size: int = 4,
    offset1: int = 7,
    offset2: int = 23,
    fluctuation: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` box images exactly as the reference generator does.

    Returns float32 images of shape (n, 3, image_size, image_size) and int64 labels (i % 2).
    `shifted=True` makes the same draws with class 0 moved down and class 1 moved up by
    `offset2 - offset1` rows.
    """
    check_positive("n", n)
    check_geometry(image_size, box_size, offset1, offset2, fluctuation)
    np.random.seed(seed)
    off = image_size - box_size
    low, high = int(-off / fluctuation), int(off / fluctuation)
    shift = offset2 - offset1 if shifted else 0
    images = np.zeros((n, 3, image_size, image_size), dtype=np.float32)
    labels = np.arange(n, dtype=np.int64) % 2
    for i in range(n):
        if labels[i] == 0:
            row, first, second = offset1 + shift, 0, 1
        else:
            row, first, second = offset2 - shift, 1, 0
        x1 = np.random.randint(int(off / 2 - box_size))
        y1 = np.random.randint(low, high) + row
        images[i, first, y1 : y1 + box_size, x1 : x1 + box_size] = 1.0
        x2 = np.random.randint(x1, off)
        y2 = np.random.randint(low, high) + row
        while abs(x1 - x2) < box_size + 1:
            x2 = np.random.randint(x1, off)
            y2 = np.random.randint(low, high) + row
        images[i, second, y2 : y2 + box_size, x2 : x2 + box_size] = 1.0
    return images, labels


def split_seeds(protocol: str, seed: int) -> dict[str, int]:
    """The generator seed of each split: one shared seed (reference) or one each (independent)."""
    check_choice("protocol", protocol, PROTOCOLS)
    if protocol == "reference":
        return {"train": seed, "val": seed, "test": seed}
    return {"train": seed, "val": seed + 1, "test": seed + 2}


class BoxDataModule(DataModule):
    """Train/val on upright boxes; test on shifted boxes (`test`) and the same draws unshifted
    (`test_unshifted`). All splits live in memory as tensors (TensorDataset)."""

    test_split_names = ("test", "test_unshifted")
    num_classes = 2

    def __init__(
        self,
        protocol: str = "independent",
        seed: int = 42,
        n_train: int = 2000,
        n_val: int = 1000,
        n_test: int = 1000,
        batch_size: int = 200,
        shuffle: bool = False,
        image_size: int = 32,
        box_size: int = 4,
        offset1: int = 7,
        offset2: int = 23,
        fluctuation: int = 6,
    ) -> None:
        super().__init__()
        check_choice("protocol", protocol, PROTOCOLS)
        for key, value in (
            ("n_train", n_train),
            ("n_val", n_val),
            ("n_test", n_test),
            ("batch_size", batch_size),
        ):
            check_positive(key, value)
        check_geometry(image_size, box_size, offset1, offset2, fluctuation)
        check_fits_in_memory(n_train, n_val, n_test, image_size)
        self.save_hyperparameters(logger=False)  # the pipeline logs the whole config once
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        """Generate every split once (a few hundred milliseconds)."""
        if self.splits:
            return
        hp = self.hparams
        geometry = dict(
            image_size=hp.image_size,
            box_size=hp.box_size,
            offset1=hp.offset1,
            offset2=hp.offset2,
            fluctuation=hp.fluctuation,
        )
        seeds = split_seeds(hp.protocol, hp.seed)
        plan = {
            "train": (hp.n_train, seeds["train"], False),
            "val": (hp.n_val, seeds["val"], False),
            "test": (hp.n_test, seeds["test"], True),
            "test_unshifted": (hp.n_test, seeds["test"], False),
        }
        for name, (n, seed, shifted) in plan.items():
            images, labels = generate_boxes(n, seed=seed, shifted=shifted, **geometry)
            self.splits[name] = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))

    def _loader(self, name: str) -> DataLoader:
        return tensor_loader(self.splits[name], self.hparams.batch_size)

    def train_dataloader(self) -> DataLoader:
        if not self.hparams.shuffle:
            return self._loader("train")
        sampler = self.keep_train_order(
            TrainOrder(ResumableRandomSampler(self.splits["train"]), self.hparams.batch_size)
        )
        return tensor_loader(self.splits["train"], self.hparams.batch_size, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(name) for name in self.test_split_names]
