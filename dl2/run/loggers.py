"""dl2's W&B logger: Lightning's, without the argument W&B has deprecated, and with W&B's
`watch` set from the config."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from torch import nn


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger. Lightning passes `anonymous=None` to `wandb.init` whatever the
    user sets, and W&B warns about the setting on every run; it is passed only when set.
    `watch` (gradients, parameters or all; None: off) has W&B record the model's gradient and
    parameter histograms every `watch_log_freq` steps (`watch_model`, once the model exists)."""

    def __init__(
        self, *args: Any, watch: str | None = None, watch_log_freq: int = 100, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
        self.watch_what, self.watch_log_freq = watch, watch_log_freq

    def watch_model(self, model: nn.Module) -> None:
        """W&B's `watch` on `model`, when asked for."""
        if self.watch_what:
            self.watch(model, log=self.watch_what, log_freq=self.watch_log_freq)
