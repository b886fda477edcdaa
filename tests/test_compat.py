"""dl2.compat, item by item: each test fails on a library version that changes the private
name or internal structure the item relies on."""

import logging

import lightning as L
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dl2 import compat
from dl2.files import read_checkpoint
from dl2.run.loggers import WandbLogger


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = ((self.layer(x) - y) ** 2).mean()
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        torch.manual_seed(0)
        data = TensorDataset(torch.randn(12, 3), torch.randn(12, 1))
        return DataLoader(data, batch_size=4)  # 3 batches an epoch


def fit(tmp_path, callbacks, epochs=2) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Tiny())
    return trainer


class MidEpoch(L.Callback):
    """Saves checkpoints at the end of epoch 0 and of epoch 1's second batch; records the
    batch progress."""

    def __init__(self, path) -> None:
        self.path, self.done = path, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.done.append((batch_idx, compat.batches_done_in_epoch(trainer)))
        if trainer.current_epoch == 1 and batch_idx == 1:
            trainer.save_checkpoint(self.path / "mid.ckpt")

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 0:
            trainer.save_checkpoint(self.path / "first.ckpt")


def test_epochs_and_batches_from_the_fit_loop(tmp_path):
    mid = MidEpoch(tmp_path)
    fit(tmp_path, [mid])
    # the batch ending is counted once its end hooks have run (where checkpoints are saved)
    assert mid.done == [(b, b) for b in (0, 1, 2)] * 2
    assert compat.epochs_completed(read_checkpoint(tmp_path / "mid.ckpt")) == 1
    assert compat.epochs_completed(read_checkpoint(tmp_path / "first.ckpt")) == 1


def test_the_save_hook_sees_every_file_before_it_is_written(tmp_path):
    seen = []

    class Hooked(compat.save_hook_checkpoint()):
        def on_file_saved(self, trainer, filepath):
            seen.append((filepath, trainer.current_epoch, (tmp_path / "c").exists()))

    hooked = Hooked(dirpath=tmp_path / "c", monitor="loss", save_top_k=1, save_last=True)
    fit(tmp_path, [hooked])
    files = {path for path, _, _ in seen}
    assert {hooked.best_model_path, hooked.last_model_path} <= files
    assert seen[0][2] is False, "called before the first file is written"
    assert [epoch for path, epoch, _ in seen if path.endswith("last.ckpt")] == [0, 1]


def test_kept_checkpoints_are_model_checkpoint_state(tmp_path):
    callback = ModelCheckpoint(dirpath=tmp_path, monitor="loss", save_top_k=2)
    fit(tmp_path, [callback])
    state = callback.state_dict()
    assert set(compat.KEPT_CHECKPOINT_KEYS) <= set(state)
    fresh = ModelCheckpoint(dirpath=tmp_path / "new", monitor="loss", save_top_k=2)
    moved = {p: p.replace(str(tmp_path), str(tmp_path / "new")) for p in state["best_k_models"]}
    compat.restore_kept_checkpoints(fresh, state, moved)
    assert fresh.best_model_path == moved[callback.best_model_path]
    assert fresh.best_model_score == callback.best_model_score
    assert set(fresh.best_k_models) == set(moved.values())
    # what Lightning keeps after its own load across folders: the scores would be lost
    other = ModelCheckpoint(dirpath=tmp_path / "new", monitor="loss", save_top_k=2)
    other.load_state_dict(state)
    assert other.best_k_models == {} or other.best_k_models == fresh.best_k_models


def test_wandb_init_args_are_what_wandb_init_gets(tmp_path):
    logger = WandbLogger(project="dl2-compat", save_dir=str(tmp_path), offline=True)
    init = compat.wandb_init_args(logger)
    assert init["project"] == "dl2-compat" and init["dir"] == str(tmp_path)
    assert "anonymous" not in init, "dl2's logger removed it from what Lightning passes"


def test_a_config_child_and_its_written_value():
    cfg = OmegaConf.create({"a": "${b.c}", "b": {"c": 1}, "l": [1, 2], "x": 3})
    child, raw = compat.config_child(cfg, "a")
    assert raw == "${b.c}" and cfg.a == 1
    assert isinstance(compat.config_child(cfg, "b")[0], DictConfig)
    assert isinstance(compat.config_child(cfg, "l")[0], ListConfig)
    assert compat.config_child(cfg, "x")[1] == 3


def test_the_basic_sweeper_splits_as_hydra_launches():
    assert get_class(compat.BASIC_SWEEPER).__name__ == "BasicSweeper"
    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x"])
    assert compat.split_basic_sweep(parsed) == [["a=1", "b=x"], ["a=2", "b=x"]]


def test_lightnings_info_lines_come_from_the_named_loggers(caplog):
    with caplog.at_level(logging.INFO):
        L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    names = {r.name for r in caplog.records if r.name.startswith("lightning")}
    assert names and names <= set(compat.LIGHTNING_INFO_LOGGERS)
