"""CIFAR-10 for the rotation study: torchvision's download (or a local copy in the standard
`cifar-10-batches-py` layout, checksums optional, read without running code from the files), a
seeded 45k/5k train/val split, random rotation augmentation, and one test split per angle.

The training order and each image's random angle come from the job's seeded state: the
sampler draws each epoch's seed from torch's global RNG (as RandomSampler does) and hands
`(index, epoch seed)` to the dataset, which draws the angle from that key. So a resumed or
requeued job continues exactly, and the numbers do not depend on `data.num_workers`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity, download_and_extract_archive
from torchvision.transforms.v2 import functional as TF

from dl2.data.base import DataModule, TrainOrder
from dl2.data.pickles import load_data_pickle
from dl2.data.samplers import KeyedRandomSampler, draw_seed, keyed_uniform
from dl2.data.workers import worker_context
from dl2.errors import ConfigValueError, check_choice, check_positive

AUGMENTS = ("none", "rotation")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


BATCHES = {True: [name for name, _ in CIFAR10.train_list], False: ["test_batch"]}


def load_cifar10(
    root: str | Path, train: bool, download: bool, verify: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as uint8 (N, 3, 32, 32) and labels as int64 from a `cifar-10-batches-py` copy,
    downloaded by torchvision when asked. The batches are read with a restricted unpickler
    (numpy arrays, lists, dicts, strings and numbers): a crafted file cannot run code."""
    folder = Path(root) / CIFAR10.base_folder
    if not folder.is_dir():
        if not download:
            raise ConfigValueError(
                "data_dir",
                str(root),
                f"has no {CIFAR10.base_folder}/ folder and data.download=false; "
                "set data.download=true or point data.data_dir at a copy",
            )
        try:
            download_and_extract_archive(
                CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5
            )
        except OSError as err:  # no network (urllib's URLError, a timeout, ...)
            raise ConfigValueError(
                "data_dir",
                str(root),
                f"has no {CIFAR10.base_folder}/ folder and "
                f"downloading CIFAR-10 failed ({err}); copy the python "
                f"version's {CIFAR10.base_folder}/ into {root} (or point "
                "data.data_dir at a copy) and set data.download=false",
            ) from None
    files = [
        *CIFAR10.train_list,
        *CIFAR10.test_list,
        (CIFAR10.meta["filename"], CIFAR10.meta["md5"]),
    ]
    missing = [name for name, _ in files if not (folder / name).is_file()]
    if missing:
        raise ConfigValueError(
            "data_dir",
            str(root),
            f"has an incomplete {folder}: {', '.join(missing)} missing (restore them, or "
            "delete the folder to download it again)",
        )
    if verify:
        changed = [name for name, md5 in files if not check_integrity(str(folder / name), md5)]
        if changed:
            raise ConfigValueError(
                "data_dir",
                str(root),
                f"holds CIFAR-10 files that do not match the official MD5 sums "
                f"({', '.join(changed)}); a rebuilt or mirrored copy needs data.verify=false",
            )
    images, labels = [], []
    for name in BATCHES[train]:
        batch = load_data_pickle(folder / name, "data_dir")
        try:
            images.append(torch.from_numpy(batch["data"]).reshape(-1, 3, 32, 32))
            labels += batch["labels"]
        except (KeyError, TypeError, RuntimeError) as err:
            raise ConfigValueError(
                "data_dir",
                str(folder / name),
                f"is a corrupt CIFAR-10 batch file ({type(err).__name__}: {err})",
            ) from None
    return torch.cat(images), torch.tensor(labels, dtype=torch.long)


def balanced_subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of `n` items with every class as equally often as the classes allow (counts
    differ by at most one while a class has items left), drawn at random within each class
    (seeded): the first n of a class-sorted file would all be one class."""
    gen = torch.Generator().manual_seed(seed)
    per_class = [
        idx[torch.randperm(len(idx), generator=gen)]
        for idx in (torch.nonzero(labels == c).flatten() for c in labels.unique())
    ]
    rounds = [
        cls[i]
        for i in range(max(map(len, per_class), default=0))
        for cls in per_class
        if i < len(cls)
    ]
    return torch.stack(rounds[:n]) if rounds[:n] else torch.zeros(0, dtype=torch.long)


class ImageSet(Dataset):
    """uint8 images served as float [0, 1] tensors (ToTensor's scaling). With
    `max_rotation`, an item asked for by `(index, epoch seed)` (KeyedRandomSampler) is rotated
    by an angle drawn uniformly from [-max_rotation, max_rotation] for that key, as
    torchvision's RandomRotation(max_rotation) rotates (nearest pixel, same size, black
    corners); a plain index is served upright."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, max_rotation: float | None = None
    ) -> None:
        self.images, self.labels, self.max_rotation = images, labels, max_rotation

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        i, seed = key if isinstance(key, tuple) else (key, None)
        image = self.images[i].float().div_(255)
        if self.max_rotation is not None and seed is not None:
            image = TF.rotate(image, self.angle(seed, i))
        return image, self.labels[i]

    def angle(self, seed: int, index: int) -> float:
        """The rotation of item `index` in the epoch whose seed is `seed`."""
        assert self.max_rotation is not None
        return self.max_rotation * (2 * keyed_uniform(seed, index) - 1)


class RotateBatch:
    """A DataLoader collate_fn: stack the images, then rotate the whole batch by one fixed
    `angle` (one sampling grid for the batch, in the main process: the same pixels as rotating
    each image alone, about 10x faster than per image in workers)."""

    def __init__(self, angle: float) -> None:
        self.angle = angle

    def __call__(
        self, items: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([image for image, _ in items])
        labels = torch.stack([label for _, label in items])
        if self.angle % 360:
            images = TF.rotate(images, self.angle)
        return images, labels


def angle_name(angle: float) -> str:
    """`test_rot030` for 30 degrees (`test_rot022.5` for 22.5)."""
    text = f"{angle:g}"
    whole, _, frac = text.partition(".")
    return f"test_rot{int(whole):03d}" + (f".{frac}" if frac else "")


class CIFAR10DataModule(DataModule):
    """45k/5k seeded train/val split of the training images, the official test set rotated by
    each of `angles` (one test split each: `test_rot000/acc`, `test_rot030/acc`, ...).
    `val_size=0` trains on all 50,000 with no validation (the coursework's protocol)."""

    num_classes = 10

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = True,
        verify: bool = True,
        augment: str = "none",
        max_rotation: float = 360.0,
        val_size: int = 5000,
        split_seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        angles: list[float] | None = None,
        limit_train: int | None = None,
        limit_test: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("augment", augment, AUGMENTS)
        check_positive("batch_size", batch_size)
        if isinstance(val_size, bool) or not isinstance(val_size, int) or val_size < 0:
            raise ConfigValueError("val_size", val_size, "must be an integer >= 0")
        if angles is None:
            angles = list(range(0, 361, 30))
        if len(angles) == 0:
            raise ConfigValueError("angles", list(angles), "give at least one angle")
        for key, value in (("limit_train", limit_train), ("limit_test", limit_test)):
            if value is not None:
                check_positive(key, value)
        self.save_hyperparameters(logger=False)  # the pipeline logs the whole config once
        self.angles = [float(a) for a in angles]
        self.test_split_names = [angle_name(a) for a in self.angles]
        if len(set(self.test_split_names)) != len(self.test_split_names):
            raise ConfigValueError("angles", list(angles), "must not repeat an angle")
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        hp = self.hparams
        if hp.download:
            load_cifar10(hp.data_dir, True, True, hp.verify)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        images, labels = load_cifar10(hp.data_dir, True, False, hp.verify)
        if hp.val_size >= len(labels):
            raise ConfigValueError(
                "val_size", hp.val_size, f"must be smaller than the {len(labels)} training images"
            )
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(hp.split_seed))
        val_idx, train_idx = order[: hp.val_size], order[hp.val_size :]
        if hp.limit_train:
            train_idx = train_idx[balanced_subset(labels[train_idx], hp.limit_train, hp.split_seed)]
        rotation = float(hp.max_rotation) if hp.augment == "rotation" else None
        self.train_set = ImageSet(images[train_idx], labels[train_idx], max_rotation=rotation)
        self.val_set = ImageSet(images[val_idx], labels[val_idx])
        test_images, test_labels = load_cifar10(hp.data_dir, False, False, hp.verify)
        if hp.limit_test:
            keep = balanced_subset(test_labels, hp.limit_test, hp.split_seed)
            test_images, test_labels = test_images[keep], test_labels[keep]
        self.test_set = ImageSet(test_images, test_labels)

    def train_dataloader(self) -> DataLoader:
        """Shuffled as RandomSampler shuffles, resumable mid-epoch; workers only here (the
        random rotation of each image is the one costly transform). The iterators' base
        seeds come from a generator of the loader's own, seeded by one draw from the global
        RNG here, where a loader with persistent workers draws its one base seed: the global
        stream then sees the same draws for any worker count."""
        hp = self.hparams
        sampler = self.keep_train_order(
            TrainOrder(KeyedRandomSampler(self.train_set), hp.batch_size, base_seed_per_epoch=False)
        )
        return DataLoader(
            self.train_set,
            batch_size=hp.batch_size,
            sampler=sampler,
            generator=torch.Generator().manual_seed(draw_seed()),
            num_workers=hp.num_workers,
            persistent_workers=hp.num_workers > 0,
            multiprocessing_context=worker_context(hp.num_workers),
        )

    def val_dataloader(self) -> DataLoader | list:
        """No loader with `val_size=0` (Lightning then skips validation)."""
        if not len(self.val_set):
            return []
        # in-memory images and no transform: worker processes would only add start-up time
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> list[DataLoader]:
        """One loader per angle over the same test images, each batch rotated at once."""
        return [
            DataLoader(self.test_set, batch_size=self.hparams.batch_size, collate_fn=RotateBatch(a))
            for a in self.angles
        ]
