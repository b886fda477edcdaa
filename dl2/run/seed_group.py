"""K seeds of one full-batch node-classification setting trained side by side in one process
(`parallel_seeds`): one Lightning loop, K nets, each seed with its own graph, weights, dropout
stream, best checkpoint and early stopping, so that each ends exactly where it ends alone.

Why it is exact: the seeds share no parameter, the summed loss gives each net the gradient of
its own loss, the optimizers (Adam, SGD, ...) update each parameter from its own gradient and
state only, and each net draws dropout from its own stream (dl2/nets/dropout.py). Why it is
fast: a job on Cora is mostly a process start and Lightning's per-step work, which the K
seeds now pay once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import nn
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from dl2.callbacks.guards import (
    check_monitors,
    diverged,
    diverged_validation,
    learning_rates,
)
from dl2.callbacks.history import MetricHistory
from dl2.tasks.node_classification import NodeClassifier

SPLITS = ("train", "val", "test")


@dataclass
class Rules:
    """What the single job's callbacks would decide, per seed: the best checkpoint's monitor
    (None: the last epoch is the best) and mode, the divergence bound and how often the
    training loss enters the history. Early stopping is each seed's own EarlyStopping."""

    monitor: str | None = "val/loss"
    mode: str = "min"
    max_loss: float | None = None
    log_every_n_steps: int = 1
    # each callback's monitor by its name in the config, checked as a single job checks it
    monitors: dict[str, str] = field(default_factory=dict)


@dataclass
class SeedTrack:
    """One seed's progress: its best checkpoint, early stopping, last training metrics and
    everything it logged (replayed into its own loggers afterwards)."""

    seed: int
    active: bool = True
    status: str = "completed"
    error: str | None = None
    best_score: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    best_state: dict[str, Any] | None = None
    # the seed's own copy of the job's EarlyStopping callback (None: no early stopping)
    stopper: EarlyStopping | None = None
    epochs_run: int | None = None
    train: dict[str, float] = field(default_factory=dict)
    # the seed's history, recorded by a single job's own MetricHistory
    history: MetricHistory = field(default_factory=MetricHistory)
    # [step, {metric: value, "epoch": epoch}], as Lightning logs a single job's metrics
    logged: list[list[Any]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """As plain data, for the group's checkpoint."""
        return {
            **self.__dict__,
            "history": self.history.state_dict(),
            "stopper": self.stopper.state_dict() if self.stopper else None,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state.items() if k not in ("history", "stopper")})
        self.history.load_state_dict(state.get("history", {}))
        if self.stopper is not None and state.get("stopper"):
            self.stopper.load_state_dict(state["stopper"])


def improved(current: float, best: float | None, mode: str) -> bool:
    """ModelCheckpoint's rule for the best checkpoint (save_top_k=1): strictly better than the
    best (the first value always is)."""
    if best is None:
        return True
    return current > best if mode == "max" else current < best


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Share of correct argmax predictions (torchmetrics' micro accuracy)."""
    return float((logits.argmax(-1) == target).float().mean())


def val_scores(loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """What a seed's validation logs, as a NodeClassifier's own validation logs it."""
    return {"val/acc": accuracy(logits, target), "val/loss": float(loss)}


def _as_is(batch: Any) -> Any:
    return batch


class SeedGraphs(L.LightningDataModule):
    """The K seeds' graph datamodules as one: every batch is the list of their graphs."""

    def __init__(self, datamodules: list[L.LightningDataModule]) -> None:
        super().__init__()
        self.datamodules = datamodules

    def prepare_data(self) -> None:
        for dm in self.datamodules:
            dm.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        for dm in self.datamodules:
            dm.setup(stage)

    def graphs(self) -> list[Data]:
        return [dm.graph for dm in self.datamodules]

    def _loader(self) -> DataLoader:
        return DataLoader([self.graphs()], batch_size=None, collate_fn=_as_is)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


class SeedGroup(L.LightningModule):
    """K NodeClassifiers (one per seed) trained as one module; `tracks` hold each seed's
    outcome."""

    def __init__(
        self,
        tasks: list[NodeClassifier],
        seeds: list[int],
        rules: Rules,
        stoppers: list[EarlyStopping | None] | None = None,
    ) -> None:
        super().__init__()
        self.tasks = nn.ModuleList(tasks)
        self.rules = rules
        self.tracks = [
            SeedTrack(seed, stopper=stop)
            for seed, stop in zip(seeds, stoppers or [None] * len(seeds), strict=True)
        ]

    def training_step(self, graphs: list[Data], batch_idx: int) -> torch.Tensor:
        total = None
        step = self.global_step + 1  # the step this batch's update makes
        for task, graph, track in zip(self.tasks, graphs, self.tracks, strict=True):
            if track.status == "diverged":
                continue
            loss, logits, target = task.scores(graph, "train")
            if track.active:
                value = float(loss.detach())
                error = diverged(
                    step,
                    self.current_epoch,
                    value,
                    self.rules.max_loss,
                    learning_rates(self.trainer),
                )
                if error is not None:  # as a single job's DivergenceGuard says it
                    track.status, track.active = "diverged", False
                    track.error = f"{type(error).__name__}: {error}"
                    continue
                track.train = {"train/acc": accuracy(logits, target), "train/loss": value}
                track.logged.append([step, {**track.train, "epoch": self.current_epoch}])
                if track.history.records_training_at(step, self.rules.log_every_n_steps):
                    track.history.record(step, track.train, "train/")
            total = loss if total is None else total + loss
        if total is None:  # every seed diverged
            self.trainer.should_stop = True
            return None
        return total

    def validation_step(self, graphs: list[Data], batch_idx: int) -> None:
        if self.trainer.sanity_checking:  # the metrics a validation logs, for the monitors
            check_monitors(
                self.rules.monitors, list(val_scores(*self.tasks[0].scores(graphs[0], "val")))
            )
            return
        step = self.global_step
        for task, graph, track in zip(self.tasks, graphs, self.tracks, strict=True):
            if not track.active:
                continue
            scores = val_scores(*task.scores(graph, "val"))
            track.logged.append([step, {**scores, "epoch": self.current_epoch}])
            track.history.record(step, scores, "val/")
            error = diverged_validation(
                step, self.current_epoch, scores, learning_rates(self.trainer)
            )
            if error is not None:  # as a single job's DivergenceGuard says it
                track.status, track.active = "diverged", False
                track.error = f"{type(error).__name__}: {error}"
                continue
            # for the progress lines (dl2/callbacks/progress_log.py); the group logs nowhere
            self.log_dict({f"seed_{track.seed}/{k}": v for k, v in scores.items()}, batch_size=1)
            self._checkpoint(task, track, scores)
            self._early_stop(track, scores)
        if not any(t.active for t in self.tracks):
            self.trainer.should_stop = True

    def _checkpoint(self, task: NodeClassifier, track: SeedTrack, scores: dict[str, float]) -> None:
        rules = self.rules
        current = None if rules.monitor is None else scores[rules.monitor]
        if current is None or improved(current, track.best_score, rules.mode):
            track.best_score = current
            track.best_epoch, track.best_step = self.current_epoch, self.global_step
            track.best_state = {
                k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
                for k, v in task.state_dict().items()
            }

    def _early_stop(self, track: SeedTrack, scores: dict[str, float]) -> None:
        """The seed's own EarlyStopping decides, from the seed's validation metrics, by the
        rule it applies to a single job (its patience, min_delta, thresholds, finite check)."""
        stop = track.stopper
        if stop is None:
            return
        should_stop, _ = stop._evaluate_stopping_criteria(torch.tensor(scores[stop.monitor]))
        if should_stop:
            track.active = False
            track.epochs_run = self.current_epoch + 1

    def on_train_end(self) -> None:
        for track in self.tracks:
            if track.epochs_run is None and track.status == "completed":
                track.epochs_run = self.current_epoch

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """One optimizer over every seed's parameters, from the seeds' own optimizers' groups:
        the same update as K optimizers, as each parameter is updated from its own state."""
        opts = [task.configure_optimizers() for task in self.tasks]
        kinds = {type(o) for o in opts}
        if len(kinds) != 1 or not all(isinstance(o, torch.optim.Optimizer) for o in opts):
            raise TypeError(
                "parallel_seeds needs each task to return one plain optimizer "
                f"(got {sorted(k.__name__ for k in kinds)}); no schedulers"
            )
        groups = [group for opt in opts for group in opt.param_groups]
        return kinds.pop()(groups, **opts[0].defaults)

    def evaluate(self, graphs: list[Data]) -> list[dict[str, float]]:
        """Each completed seed's val and test metrics with its best weights (its last ones
        when nothing was monitored); the training metrics of its last epoch."""
        out = []
        for task, graph, track in zip(self.tasks, graphs, self.tracks, strict=True):
            metrics = dict(track.train)
            if track.status == "completed":
                best = copy.deepcopy(task)
                if track.best_state is not None:
                    best.load_state_dict(track.best_state)
                best.eval()
                with torch.no_grad():
                    for split in ("val", "test"):
                        loss, logits, target = best.scores(graph, split)
                        metrics[f"{split}/acc"] = accuracy(logits, target)
                        metrics[f"{split}/loss"] = float(loss)
            out.append(dict(sorted(metrics.items())))
        return out

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seed_tracks"] = [t.state() for t in self.tracks]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        for track, state in zip(self.tracks, checkpoint.get("seed_tracks", []), strict=False):
            track.load(state)
