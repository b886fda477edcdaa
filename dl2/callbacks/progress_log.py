"""Progress as log lines, for jobs without a terminal (SLURM, nohup, joblib workers): after a
validation, and every `trainer.log_every_n_steps` training steps in between, one line with the
epoch, the step, the latest metrics, the speed and the time left; about 20 lines a job at
most. Hydra's logging sends it to the job's log file (train.log) and to stdout; on a terminal
the console leaves it out (dl2/run/console.py: HideOnTerminal) and the progress bar shows the
same."""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta
from typing import Any

import lightning as L
import torch

# dl2's log lines that repeat what a terminal's progress bar shows
PROGRESS_LOGGER = "dl2.progress"
log = logging.getLogger(PROGRESS_LOGGER)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


class ProgressLog(L.Callback):
    """One log line per validation (and per `log_every_n_steps` steps within long epochs), at
    most one per `1/lines` of the run's steps, and the last: a GNN's 200 epochs of one step
    each wrote 200 lines to a SLURM log; now about `lines` (when the run's length is known)."""

    def __init__(self, lines: int = 20) -> None:
        self.lines = lines
        self._start = 0.0
        self._first_step = 0
        self._validated = False  # a validation ran since the last line
        self._shown = -1  # the share of the run (in 1/lines) of the last line
        self._unshown = False  # the last validation's line was left out

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start, self._first_step = time.monotonic(), trainer.global_step

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the line waits for the epoch's training metrics (or, after a validation within an
        # epoch, for the next training step)
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._validated = True

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._validated:
            self._emit(trainer)
            return
        every = max(trainer.log_every_n_steps, 1)
        last_of_epoch = batch_idx + 1 == trainer.num_training_batches
        if trainer.global_step % every or last_of_epoch:  # a validation line follows an epoch
            return
        if not self._due(trainer):
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        metrics = {"train/loss": float(loss)} if isinstance(loss, torch.Tensor) else {}
        if trainer.is_global_zero:
            log.info(self.line(trainer, metrics))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validated:
            self._emit(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validated or self._unshown:  # the last validation's, whatever its share
            self._emit(trainer, last=True)

    def _due(self, trainer: L.Trainer) -> bool:
        """Whether a line now starts a new 1/lines of the run (or ends it); notes it if so."""
        total = trainer.estimated_stepping_batches
        if not math.isfinite(total) or total <= 0:
            return True
        share = trainer.global_step * self.lines // int(total)
        if share > self._shown or trainer.global_step >= total:
            self._shown = share
            return True
        return False

    def _emit(self, trainer: L.Trainer, last: bool = False) -> None:
        self._validated = False
        if not (self._due(trainer) or last):
            self._unshown = True  # within the share of the last line: left out
            return
        self._unshown = False
        metrics = {
            k: float(v)
            for k, v in sorted(trainer.callback_metrics.items())
            if isinstance(v, torch.Tensor) and v.numel() == 1
        }
        if trainer.is_global_zero:
            log.info(self.line(trainer, metrics))

    def line(self, trainer: L.Trainer, metrics: dict[str, float]) -> str:
        """`epoch 3/50 step 40/500 | train/loss 0.69 val/acc 0.91 | 12.3 steps/s | ETA 0:00:37`"""
        epochs = f"/{trainer.max_epochs}" if (trainer.max_epochs or -1) > 0 else ""
        total = trainer.estimated_stepping_batches
        steps = f"/{int(total)}" if math.isfinite(total) else ""
        parts = [f"epoch {trainer.current_epoch + 1}{epochs} step {trainer.global_step}{steps}"]
        if metrics:
            parts.append(" ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()))
        elapsed = time.monotonic() - self._start
        done = trainer.global_step - self._first_step
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.3g} steps/s")
            if math.isfinite(total):
                left = max(total - trainer.global_step, 0) / rate
                parts.append(f"ETA {timedelta(seconds=round(left))}")
        return " | ".join(parts)
