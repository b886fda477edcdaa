"""dl2's W&B logger: Lightning's, without the argument W&B has deprecated, and with W&B's
`watch` set from the config."""

from __future__ import annotations

import os
from typing import Any

from hydra.errors import CompactHydraException
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from torch import nn

from dl2.compat import wandb_init_args

# seconds wandb.init waits for the server before giving up (W&B's own default is 90); a
# WANDB_INIT_TIMEOUT in the environment wins
INIT_TIMEOUT_S = 30


class WandbUnavailable(CompactHydraException, RuntimeError):
    """W&B is online and its run could not start (no API key, no server): one line saying what
    is missing and how to go offline."""


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger. Lightning passes `anonymous=None` to `wandb.init` whatever the
    user sets, and W&B warns about the setting on every run; it is passed only when set.
    `watch` (gradients, parameters or all; None: off) has W&B record the model's gradient and
    parameter histograms every `watch_log_freq` steps (`watch_model`, once the model exists)."""

    def __init__(
        self, *args: Any, watch: str | None = None, watch_log_freq: int = 100, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        init = wandb_init_args(self)
        if init.get("anonymous") is None:
            init.pop("anonymous", None)
        if "settings" not in init:
            import wandb

            init["settings"] = wandb.Settings(init_timeout=init_timeout())
        self.watch_what, self.watch_log_freq = watch, watch_log_freq

    @property
    def experiment(self) -> Any:
        """Lightning's W&B run, started on first use; W&B's errors when it cannot start
        online (a 40-line traceback, or 90 s of waiting first) become one line."""
        import wandb

        try:
            return super().experiment
        except (wandb.errors.UsageError, wandb.errors.AuthenticationError) as err:
            raise WandbUnavailable(
                f"W&B is online and has no usable API key ({first_line(err)}): set "
                "WANDB_API_KEY (in the environment or .env) or run `wandb login`, or log "
                "offline with WANDB_MODE=offline (`wandb sync` uploads the run later)"
            ) from None
        except wandb.errors.CommError as err:
            raise WandbUnavailable(
                f"W&B is online and its server did not answer within {init_timeout():g} s "
                f"({first_line(err)}): check the network or WANDB_BASE_URL, or log offline "
                "with WANDB_MODE=offline (`wandb sync` uploads the run later)"
            ) from None

    def define_summaries(self, directions: dict[str, str]) -> None:
        """W&B's run summary keeps the best of each validation metric (`maximize`: its
        maximum, `minimize`: its minimum) rather than the last epoch's; test metrics, logged
        once with the best checkpoint, keep that value."""
        for name, way in directions.items():
            summary = "max" if way == "maximize" else "min"
            self.experiment.define_metric(
                name, summary=summary, step_metric="trainer/global_step", step_sync=True
            )

    def watch_model(self, model: nn.Module) -> None:
        """W&B's `watch` on `model`, when asked for."""
        if self.watch_what:
            self.watch(model, log=self.watch_what, log_freq=self.watch_log_freq)


def first_line(err: BaseException) -> str:
    """An error's message, first line only, at most 160 characters."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]


def init_timeout() -> float:
    """Seconds wandb.init may wait for the server: WANDB_INIT_TIMEOUT, else INIT_TIMEOUT_S."""
    try:
        return float(os.environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S))
    except ValueError:
        return INIT_TIMEOUT_S
