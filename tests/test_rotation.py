"""The rotation study on a tiny CIFAR-layout folder written here: loading, verification,
rotations, bad input, a tiny run with one accuracy per angle; and the ViT."""

import json
import re
from pathlib import Path

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from dl2.data.cifar import CIFAR10DataModule, ImageSet, RotateBatch, angle_name, balanced_subset
from dl2.errors import ConfigValueError
from dl2.nets.vit import ViT
from dl2.run.job import train
from tests.harness import (
    CIFAR_PER_CLASS,
    TINY_BOXES,
    compose_cfg,
    run_script,
    sweep_py,
    tiny_cifar_overrides,
    write_cifar,
    write_crafted_pickle,
)


def test_local_copy_loads_with_verification_off(cifar_root):
    dm = CIFAR10DataModule(
        data_dir=str(cifar_root),
        download=False,
        verify=False,
        val_size=20,
        batch_size=8,
        num_workers=0,
        angles=[0, 90],
    )
    dm.setup()
    assert len(dm.train_set) == 80 and len(dm.val_set) == 20
    assert [len(t.dataset) for t in dm.test_dataloader()] == [20, 20]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() <= x.max() <= 1
    assert dm.test_split_names == ["test_rot000", "test_rot090"]


def test_limits_take_a_seeded_class_balanced_subset(cifar_root):
    """The fake copy is class-sorted, as CIFAR-10's test batch is not but a rebuilt copy may
    be: the first 10 test images would all be airplanes."""

    def subset(split_seed):
        dm = CIFAR10DataModule(
            data_dir=str(cifar_root),
            download=False,
            verify=False,
            val_size=20,
            split_seed=split_seed,
            limit_train=30,
            limit_test=10,
            angles=[0],
        )
        dm.setup()
        return dm.train_set, dm.test_set

    train_set, test_set = subset(0)
    assert torch.bincount(test_set.labels, minlength=10).tolist() == [1] * 10
    assert torch.bincount(train_set.labels, minlength=10).tolist() == [3] * 10
    again, other = subset(0)[0], subset(1)[0]
    assert torch.equal(again.images, train_set.images)
    assert not torch.equal(other.images, train_set.images)
    assert balanced_subset(torch.tensor([0, 0, 0, 1]), 3, 0).tolist().count(3) == 1


def test_verification_on_rejects_a_rebuilt_copy(cifar_root):
    dm = CIFAR10DataModule(data_dir=str(cifar_root), download=False, verify=True, val_size=20)
    with pytest.raises(ConfigValueError, match="verify=false"):
        dm.setup()


def test_offline_without_a_local_copy_says_where_to_put_one(tmp_path, monkeypatch):
    from urllib.error import URLError

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ConfigValueError) as info:
        CIFAR10DataModule(data_dir=str(tmp_path / "none"), download=True).prepare_data()
    message = str(info.value)
    assert info.value.key == "data_dir" and "no network" in message
    assert "cifar-10-batches-py/" in message and "data.download=false" in message


def test_missing_folder_and_corrupt_file(tmp_path):
    with pytest.raises(ConfigValueError, match="download=false"):
        CIFAR10DataModule(data_dir=str(tmp_path / "none"), download=False).setup()
    write_cifar(tmp_path / "own")  # damaged below: not the shared copy
    (tmp_path / "own" / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ConfigValueError, match="corrupt"):
        CIFAR10DataModule(data_dir=str(tmp_path / "own"), download=False, verify=False).setup()


@pytest.mark.parametrize("name", ["batches.meta", "data_batch_2", "test_batch"])
def test_a_crafted_batch_file_runs_no_code(tmp_path, name):
    """CIFAR's files are pickles: one that names a callable is refused (a batch) or never read
    (the metadata), and the callable never runs."""
    write_cifar(tmp_path / "own")
    marker = tmp_path / "ran"
    write_crafted_pickle(
        tmp_path / "own" / "cifar-10-batches-py" / name, marker, lambda obj: {"data": obj}
    )
    dm = CIFAR10DataModule(
        data_dir=str(tmp_path / "own"), download=False, verify=False, val_size=20
    )
    if name == "batches.meta":
        dm.setup()  # the class names are dl2's own: the file is checked to exist, not read
    else:
        with pytest.raises(ConfigValueError) as info:
            dm.setup()
        assert name in str(info.value) and "subprocess.call" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"angles": []}, "angles"),
        ({"augment": "flip"}, "augment"),
        ({"angles": [0, 360.0, 360]}, "angles"),
    ],
)
def test_bad_settings(kwargs, key):
    with pytest.raises(ConfigValueError) as info:
        CIFAR10DataModule(**kwargs)
    assert info.value.key == key


def test_rotations():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(4)
    items = [ImageSet(images, labels)[i] for i in range(4)]
    plain = torch.stack([image for image, _ in items])
    for angle, expected in [
        (0, plain),
        (360, plain),
        (90, torch.rot90(plain, 1, dims=(-2, -1))),
        (180, torch.rot90(plain, 2, dims=(-2, -1))),
    ]:
        rotated, y = RotateBatch(angle)(items)
        assert torch.equal(rotated, expected) and torch.equal(y, labels), angle


@pytest.mark.parametrize("angle", [30, 45, 150, 270, 330, 22.5])
def test_batch_rotation_equals_rotating_each_image(angle):
    """The test sets are rotated a batch at a time: the same pixels as image by image."""
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    items = [ImageSet(images, torch.arange(16))[i] for i in range(16)]
    one_by_one = torch.stack([TF.rotate(image, angle) for image, _ in items])
    batched, _ = RotateBatch(angle)(items)
    assert torch.equal(batched, one_by_one)
    assert not torch.equal(batched, torch.stack([image for image, _ in items]))
    assert angle_name(30) == "test_rot030" and angle_name(22.5) == "test_rot022.5"


def test_tiny_rotation_run_reports_every_angle(tmp_path, cifar_root):
    angles = [0, 45, 90]
    cfg = compose_cfg(
        tmp_path,
        [
            "experiment=rotation",
            f"data.data_dir={cifar_root}",
            "data.download=false",
            "data.verify=false",
            "data.val_size=20",
            "data.num_workers=0",
            "data.batch_size=16",
            f"data.angles={angles}",
            "data.augment=rotation",
            "trainer.max_epochs=1",
            "logger=wandb",
        ],
    )
    metrics = train(cfg)
    assert [k for k in metrics if k.endswith("/acc") and k.startswith("test_rot")] == [
        "test_rot000/acc",
        "test_rot045/acc",
        "test_rot090/acc",
    ]
    out = Path(cfg.paths.output_dir)
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["test_rot045/acc"] == metrics["test_rot045/acc"]
    assert (out / "accuracy_by_angle.png").stat().st_size > 1000


def test_each_training_image_has_the_angle_of_its_key():
    """The angle of an image comes from (the epoch's seed, its index): the same in any
    worker and after a resume, different across epochs and images, within the range."""
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    data = ImageSet(images, torch.arange(64), max_rotation=360.0)
    angles = [data.angle(7, i) for i in range(64)]
    assert angles == [data.angle(7, i) for i in range(64)]
    assert len(set(angles)) == 64 and all(-360 <= a <= 360 for a in angles)
    assert min(angles) < -180 and max(angles) > 180, "the whole range is drawn"
    assert angles != [data.angle(8, i) for i in range(64)]
    image, _ = data[(5, 7)]  # (index, epoch seed), as KeyedRandomSampler yields
    assert torch.equal(image, TF.rotate(images[5].float().div(255), angles[5]))
    assert torch.equal(data[5][0], images[5].float().div(255)), "a plain index: upright"


def rotation_overrides(cifar_root: Path, *extra: str) -> list[str]:
    return [*tiny_cifar_overrides(cifar_root), "data.augment=rotation", "logger=none", *extra]


@pytest.mark.slow  # DataLoader worker processes are its subject
def test_the_rotation_arm_does_not_depend_on_the_worker_count(tmp_path, cifar_root):
    """Before: each image's angle was drawn in the DataLoader workers, seeded per worker."""
    runs = []
    for workers in (0, 2):
        cfg = compose_cfg(
            tmp_path,
            rotation_overrides(cifar_root, "trainer.max_epochs=2", f"data.num_workers={workers}"),
            job=f"workers{workers}",
        )
        train(cfg)
        runs.append(json.loads((Path(cfg.paths.output_dir) / "results.json").read_text()))
    assert runs[0]["metrics"] == runs[1]["metrics"]
    assert runs[0]["history"] == runs[1]["history"]


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_a_resumed_rotation_job_is_the_straight_run(tmp_path, cifar_root, workers):
    """Stopped after 1 of 2 epochs and resumed from last.ckpt: the same order, the same
    angles, the same weights (before: shuffle=True and per-worker angles drew anew). In this
    process, and with DataLoader workers, whose iterator takes items from the sampler before
    training starts."""

    def run(job: str, *extra: str) -> dict:
        cfg = compose_cfg(
            tmp_path, rotation_overrides(cifar_root, f"data.num_workers={workers}", *extra), job=job
        )
        train(cfg)
        return json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())

    straight = run("straight", "trainer.max_epochs=2")
    run("first", "trainer.max_epochs=1")
    resumed = run(
        "resumed",
        "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'first' / 'checkpoints' / 'last.ckpt'}",
    )
    assert resumed["resumed_from"]
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["history"]["val/loss"] == straight["history"]["val/loss"]


@pytest.mark.parametrize("pool", ["cls", "mean"])
@pytest.mark.parametrize("pos_emb", ["learned", "none"])
def test_vit_shapes(pool, pos_emb):
    vit = ViT(
        image_size=32,
        patch_size=8,
        num_classes=7,
        n_layer=2,
        n_head=2,
        n_embd=32,
        pool=pool,
        pos_emb=pos_emb,
    )
    assert vit(torch.randn(3, 3, 32, 32)).shape == (3, 7)
    with pytest.raises(ConfigValueError):
        ViT(image_size=32, patch_size=5)


def test_vit_learns_the_box_task(tmp_path):
    cfg = compose_cfg(
        tmp_path,
        [
            *TINY_BOXES,
            "model=vit",
            "model.n_layer=2",
            "model.n_embd=32",
            "model.patch_size=8",
            "model.dropout=0.0",
            "logger=none",
            "data.n_train=200",
            "trainer.max_epochs=15",
            "callbacks.early_stopping.patience=20",
        ],
    )
    assert cfg.model.num_classes == 2
    metrics = train(cfg)
    assert metrics["train/acc"] > 0.9, metrics


@pytest.mark.parametrize("launch", ["in-process", pytest.param("joblib", marks=pytest.mark.slow)])
def test_sweep_rotation_tiny(tmp_path, cifar_root, launch):
    """The study on tiny data (the coursework protocol: no validation images to hold out of
    100): its jobs trained in this process, or two at a time in joblib's process pool, each
    with a DataLoader worker, as `--jobs 2` runs the CIFAR studies."""
    out = tmp_path / "report"
    args = [
        "rotation-cnn",
        "--seeds",
        "0,1",
        "--val-sizes",
        "0",
        "--out",
        str(out),
        "--log-dir",
        str(tmp_path / "logs"),
    ]
    overrides = [
        f"data.data_dir={cifar_root}",
        "data.download=false",
        "data.verify=false",
        "data.angles=[0,90,180]",
        "trainer.max_epochs=1",
        "logger=csv",
    ]
    if launch == "joblib":
        proc = run_script("sweep.py", *args, "--jobs", "2", *overrides, "data.num_workers=1")
        # the launching process prints one line as each job starts and as it ends
        assert len(re.findall(r"\]\[HYDRA\] job #\d+ started: ", proc.stdout)) == 2
        assert len(re.findall(r"\]\[HYDRA\] job #\d+ completed after ", proc.stdout)) == 2
    else:
        assert sweep_py(*args, "--jobs", "1", *overrides, "data.num_workers=0") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs_completed"] == 2
    rows = {(r["data.augment"], r["metric"]): r for r in summary["rows"]}
    assert {a for a, _ in rows} == {"rotation"}
    assert {r["data.val_size"] for r in summary["rows"]} == {"0"}
    assert {m for _, m in rows} == {"test_rot000/acc", "test_rot090/acc", "test_rot180/acc"}
    assert all(r["n"] == 2 for r in rows.values())
    report = (out / "report.md").read_text()
    assert "| 90 |" in report and "| 30 | – |" in report, "angles not tested show as –"
    assert (out / "rotation-cnn.png").stat().st_size > 1000


def test_the_coursework_protocol_trains_on_every_image_without_validation(tmp_path, cifar_root):
    """`data.val_size=0`: all training images in the training set, no validation loop, and
    the test scores of the last epoch's weights."""
    dm = CIFAR10DataModule(data_dir=str(cifar_root), download=False, verify=False, val_size=0)
    dm.setup()
    assert len(dm.train_set) == 5 * 10 * CIFAR_PER_CLASS and dm.val_dataloader() == []
    cfg = compose_cfg(
        tmp_path,
        [*tiny_cifar_overrides(cifar_root), "data.val_size=0", "trainer.max_epochs=2"],
    )
    metrics = train(cfg)
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_run"] == 2
    assert not any(k.startswith("val/") for k in metrics) and "test_rot090/acc" in metrics
    with pytest.raises(ConfigValueError) as info:
        CIFAR10DataModule(val_size=-1)
    assert info.value.key == "val_size"
