"""dl2's W&B logger: Lightning's, without the argument W&B has deprecated."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger. Lightning passes `anonymous=None` to `wandb.init` whatever the
    user sets, and W&B warns about the setting on every run; it is passed only when set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
