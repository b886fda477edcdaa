"""Callbacks that stop a run early and loudly: a diverged loss, a monitor no metric has."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from hydra.errors import CompactHydraException

from dl2.errors import ConfigValueError


class DivergedError(CompactHydraException, RuntimeError):
    """The training loss left the finite range (or exceeded `max_loss`); printed as one line."""


def diverged(
    step: int, epoch: int, loss: float, max_loss: float | None, lrs: list[float]
) -> DivergedError | None:
    """The error of a training loss that is NaN, infinite or above `max_loss` (None: no bound)
    at `step`, naming the optimizer's learning rates; None for a loss within bounds."""
    too_big = max_loss is not None and loss > max_loss
    if math.isfinite(loss) and not too_big:
        return None
    lr = ", ".join(f"{x:g}" for x in dict.fromkeys(lrs)) or "?"
    rule = "is not finite" if not math.isfinite(loss) else f"exceeds max_loss={max_loss:g}"
    return DivergedError(
        f"training diverged at step {step} (epoch {epoch}): loss={loss:g} {rule}; optimizer lr={lr}"
    )


def diverged_validation(
    step: int, epoch: int, metrics: dict[str, Any], lrs: list[float]
) -> DivergedError | None:
    """The error of a validation whose `val/*` metrics are not all finite (the training loss
    may still be: the update that broke the weights came after it), naming them and the
    optimizer's learning rates; None when they are finite."""
    bad = {
        k: float(v)
        for k, v in sorted(metrics.items())
        if k.startswith("val/") and not math.isfinite(float(v))
    }
    if not bad:
        return None
    lr = ", ".join(f"{x:g}" for x in dict.fromkeys(lrs)) or "?"
    shown = ", ".join(f"{k}={v:g}" for k, v in bad.items())
    return DivergedError(
        f"validation diverged at step {step} (epoch {epoch}): {shown} is not "
        f"finite; optimizer lr={lr}"
    )


def learning_rates(trainer: L.Trainer) -> list[float]:
    """The learning rate of every parameter group of the trainer's optimizers."""
    return [group["lr"] for opt in trainer.optimizers for group in opt.param_groups]


def check_monitors(keys: dict[str, str], logged: list[str]) -> None:
    """Raise ConfigValueError for the first callback whose `monitor` (by its name in the
    config) is not among the `logged` metrics; `train/*` monitors are logged only in
    training, so they are left to Lightning's own check."""
    for name, monitor in keys.items():
        if monitor.startswith("train/") or monitor in logged:
            continue
        raise ConfigValueError(
            f"callbacks.{name}.monitor",
            monitor,
            "choose a metric the run logs: " + ", ".join([*sorted(logged), "train/* metrics"]),
        )


class DivergenceGuard(L.Callback):
    """After every training step, check the loss: a NaN or infinite loss, or one above
    `max_loss` (None: no bound), raises DivergedError naming the step, the loss and the
    optimizer's learning rate; after every validation, the same for a `val/*` metric that is
    not finite. The pipeline records such a run as `diverged`.

    EarlyStopping's own finite check ends a NaN run quietly and the job "completes" with NaN
    metrics; this makes it fail loudly instead.
    """

    def __init__(self, max_loss: float | None = None) -> None:
        self.max_loss = max_loss

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        error = diverged(
            trainer.global_step,
            trainer.current_epoch,
            value,
            self.max_loss,
            learning_rates(trainer),
        )
        if error is not None:
            raise error

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        error = diverged_validation(
            trainer.global_step,
            trainer.current_epoch,
            dict(trainer.callback_metrics),
            learning_rates(trainer),
        )
        if error is not None:
            raise error


class MonitorCheck(L.Callback):
    """After the sanity-check validation (before the first training step), check that every
    callback's `monitor` is a metric the run logs, instead of failing after the first epoch.
    `train/*` monitors are only logged in training, so they are left to Lightning's check."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys  # callback name in the config -> its monitor

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        check_monitors(self.keys, list(trainer.callback_metrics))
