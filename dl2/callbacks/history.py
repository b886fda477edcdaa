"""The run's metric history, for results.json: training curves that survive without any
logger (the study store keeps them for the GPT study's curve plot)."""

from __future__ import annotations

from typing import Any

import lightning as L


class MetricHistory(L.Callback):
    """Records `(step, value)` of the `train/*` metrics every `trainer.log_every_n_steps`
    steps and of the `val/*` metrics after every validation (not the sanity check);
    `results_entries()` gives them to results.json as `history`."""

    def __init__(self, keys: tuple[str, ...] = ("train/loss", "val/loss")) -> None:
        self.keys = keys
        self.history: dict[str, list[list[float]]] = {k: [] for k in keys}

    def _record(self, trainer: L.Trainer, prefix: str) -> None:
        for key in self.keys:
            value = trainer.callback_metrics.get(key)
            if key.startswith(prefix) and value is not None:
                self.history[key].append([int(trainer.global_step), round(float(value), 6)])

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step % max(trainer.log_every_n_steps, 1) == 0:
            self._record(trainer, "train/")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, "val/")

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {k: [list(p) for p in v]
                        for k, v in state_dict.get("history", {}).items()}

    def results_entries(self) -> dict[str, Any]:
        return {"history": {k: v for k, v in self.history.items() if v}}
