"""The run's metric history, for results.json: training curves that survive without any
logger (the study store keeps them for the GPT study's curve plot)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L


class MetricHistory(L.Callback):
    """Records `(step, value)` of the `train/*` metrics every `trainer.log_every_n_steps`
    steps and of the `val/*` metrics after every validation (not the sanity check);
    `results_entries()` gives them to results.json as `history`."""

    def __init__(self, keys: tuple[str, ...] = ("train/loss", "val/loss")) -> None:
        self.keys = keys
        self.history: dict[str, list[list[float]]] = {k: [] for k in keys}

    def record(self, step: int, metrics: Mapping[str, Any], prefix: str) -> None:
        """Add the `prefix` metrics among `metrics` at `step` (what the hooks below do with the
        trainer's)."""
        for key in self.keys:
            value = metrics.get(key)
            if key.startswith(prefix) and value is not None:
                value = float(value)  # JSON has no NaN: a non-finite value is kept as null
                self.history[key].append(
                    [int(step), round(value, 6) if math.isfinite(value) else None]
                )

    @staticmethod
    def records_training_at(step: int, log_every_n_steps: int) -> bool:
        """Whether the training metrics of `step` enter the history."""
        return step % max(log_every_n_steps, 1) == 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if self.records_training_at(trainer.global_step, trainer.log_every_n_steps):
            self.record(trainer.global_step, trainer.callback_metrics, "train/")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.record(trainer.global_step, trainer.callback_metrics, "val/")

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {k: [list(p) for p in v] for k, v in state_dict.get("history", {}).items()}

    def results_entries(self) -> dict[str, Any]:
        return {"history": {k: v for k, v in self.history.items() if v}}
