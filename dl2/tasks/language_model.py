"""Next-character prediction: cross-entropy, bits per character, tokens/s, AdamW with weight
decay on Linear weights only; checkpoints carry the tokenizer and the net's config so that
`python -m dl2.generate` needs nothing else."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, ClassVar

import lightning as L
import torch
import torch.nn.functional as F

from dl2.nets.transformer import GPT, decay_groups

Batch = tuple[torch.Tensor, torch.Tensor]
LN2 = math.log(2.0)


class LanguageModel(L.LightningModule):
    """Trains a GPT on (x, y) windows; logs `<split>/loss` (nats per character), `<split>/bpc`
    and `train/tokens_per_s`."""

    # what each validation logs, and which way is better (a search checks its metric here)
    VALIDATION_METRICS: ClassVar[dict[str, str]] = {"val/loss": "minimize", "val/bpc": "minimize"}

    def __init__(
        self,
        net: GPT,
        optimizer: Callable[..., torch.optim.Optimizer],
        weight_decay: float = 0.1,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._last_batch_end: float | None = None
        self._tokens, self._seconds = 0, 0.0
        self._compiled: Callable | None = None

    def setup(self, stage: str) -> None:
        if self.hparams.compile and self._compiled is None:
            # kept off the module tree, so checkpoints hold the plain net's weights
            object.__setattr__(self, "_compiled", torch.compile(self.net))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        # `is None`, not `or`: a compiled module's truth value asks the net for its len()
        return (self.net if self._compiled is None else self._compiled)(idx)

    def _loss(self, batch: Batch) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/bpc", loss / LN2)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Log training throughput over the whole loop, not just the step: tokens over the wall
        time between consecutive batch ends (data, forward, backward, optimizer, logging and
        callbacks), from the third batch on (the first ones pay for warm-up and, with compile,
        compilation), validation excluded. Lightning's ThroughputMonitor measures the same but
        logs only to the loggers; this value also reaches results.json and the study tables."""
        now = time.perf_counter()
        if self._last_batch_end is not None and self.global_step > 2:
            self._tokens += batch[0].numel()
            self._seconds += now - self._last_batch_end
        self._last_batch_end = now
        if self._seconds > 0:
            self.log("train/tokens_per_s", self._tokens / self._seconds, prog_bar=True)

    def on_validation_start(self) -> None:
        self._last_batch_end = None  # the next interval would include the validation pass

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss = self._loss(batch)
        # losses are plain tensors: averaged over the processes under DDP
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self.log("val/bpc", loss / LN2, sync_dist=True)

    def configure_optimizers(self) -> dict:
        groups = decay_groups(self.net, self.hparams.weight_decay)
        optimizer = self.optimizer_factory(params=groups)
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store what generation needs of the model: the net's config (the tokenizer is the
        datamodule's own state, which Lightning stores beside it)."""
        checkpoint["dl2"] = {"net_config": self.net.config_dict()}
