"""Image classification: cross-entropy, torchmetrics accuracy, an optimizer from the config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from dl2.data.base import DataModule
from dl2.errors import check_positive

Batch = tuple[torch.Tensor, torch.Tensor]
OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class ImageClassifier(L.LightningModule):
    """Trains `net` with cross-entropy and logs `<split>/loss` and `<split>/acc`.

    The test splits take their names from the datamodule's `test_split_names` when it has them
    (for the box data `test`, the shifted images, and `test_unshifted`), one metric per split.
    """

    # what each validation logs, and which way is better (a search checks its metric here)
    VALIDATION_METRICS: ClassVar[dict[str, str]] = {"val/loss": "minimize", "val/acc": "maximize"}

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        num_classes: int,
        scheduler: SchedulerFactory | None = None,
        test_split_names: Sequence[str] = ("test",),
    ) -> None:
        super().__init__()
        check_positive("num_classes", num_classes)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.train_acc, self.val_acc = self._accuracy(), self._accuracy()
        self._set_test_splits(test_split_names)

    def _accuracy(self) -> MulticlassAccuracy:
        return MulticlassAccuracy(num_classes=self.hparams.num_classes, average="micro")

    def _set_test_splits(self, names: Sequence[str]) -> None:
        self.test_split_names = list(names)
        self.test_accs = nn.ModuleList(self._accuracy() for _ in self.test_split_names)

    def setup(self, stage: str) -> None:
        datamodule: DataModule = self.trainer.datamodule
        if list(datamodule.test_split_names) != self.test_split_names:
            self._set_test_splits(datamodule.test_split_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self(x)
        return F.cross_entropy(logits, y), logits.argmax(dim=1), y

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, preds, y = self._step(batch)
        self.train_acc(preds, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, preds, y = self._step(batch)
        self.val_acc(preds, y)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("val/acc", self.val_acc, on_epoch=True, prog_bar=True)

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self.test_split_names[dataloader_idx]
        loss, preds, y = self._step(batch)
        metric = self.test_accs[dataloader_idx]
        metric(preds, y)
        self.log(f"{name}/loss", loss, on_epoch=True, add_dataloader_idx=False, sync_dist=True)
        self.log(f"{name}/acc", metric, on_epoch=True, add_dataloader_idx=False)

    def configure_optimizers(self) -> dict:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
