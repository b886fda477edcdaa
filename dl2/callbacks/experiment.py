"""Which experiment a checkpoint belongs to, written into every checkpoint dl2 saves, so that a
checkpoint given to another experiment (a CNN's as a GPT run's `ckpt_path`) is refused in one
line naming both, instead of failing on its weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

KEY = "dl2_experiment"


class ExperimentRecord(L.Callback):
    """Adds `record` (dl2.config.identity.experiment_of: task, net, data) to each checkpoint."""

    def __init__(self, record: Mapping[str, str]) -> None:
        self.record = dict(record)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[KEY] = dict(self.record)
