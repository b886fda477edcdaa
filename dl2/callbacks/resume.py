"""Exact resume: the random state a checkpoint needs so that a resumed run continues as the
uninterrupted run would have."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

from dl2.compat import batches_done_in_epoch
from dl2.data.base import DataModule, TrainOrder
from dl2.data.samplers import draw_seed


def rng_state() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and Python RNG states as plain data (weights_only-safe)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": [version, list(internal), gauss_next],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back what `rng_state` returned."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _train_order(trainer: L.Trainer) -> TrainOrder | None:
    """The training order the datamodule declares resumable, or None."""
    datamodule = trainer.datamodule
    return datamodule.train_order() if isinstance(datamodule, DataModule) else None


class ResumeState(L.Callback):
    """Stores the RNG states and the training sampler's place in every checkpoint, and puts
    them back when a run resumes from it, so that the resumed run draws the same batches and
    the same dropout masks as the uninterrupted one.

    Lightning restores weights, optimizer and loop counters, but not the random streams, and
    on a restart it builds the training iterator at another point of its loop. So the state is
    put back at the first training batch after the resume, with the sampler told which
    permutation to replay and from where:
    - saved mid-epoch: the current permutation, after the batches already trained on;
    - saved at the end of an epoch: the next epoch's permutation, computed at save time as the
      uninterrupted run draws it (the DataLoader iterator's base seed where the loader draws
      one per epoch from the global RNG, then the sampler's seed), and the RNG state after
      those draws.
    Exact wherever the data's randomness comes from the main process's RNG or from the
    sampler's keys (CIFAR's rotations: dl2/data/samplers.py, KeyedRandomSampler); DataLoader
    workers' own streams are seeded from the iterator's base seed, which a resumed run draws
    anew.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._trainer: L.Trainer | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        if trainer is None:
            return {}
        done = batches_done_in_epoch(trainer)
        total = trainer.num_training_batches
        order = _train_order(trainer)
        if total != float("inf") and done >= total:  # the next epoch starts from scratch
            with torch.random.fork_rng(devices=[]):
                if order is None or order.base_seed_per_epoch:
                    draw_seed()  # the next epoch's DataLoader iterator takes its base seed
                seed = draw_seed() if order is not None else None
                state = rng_state()
            return {"rng": state, "sampler": {"seed": seed}, "skip": 0}
        return {
            "rng": rng_state(),
            "sampler": order.sampler.state_dict() if order is not None else None,
            "skip": done * order.batch_size if order is not None else 0,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # restored after setup and before the training loader is built: the datamodule
        # applies the sampler's place as it builds it
        self._pending = state_dict or None
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        if self._pending and self._pending.get("sampler") and isinstance(datamodule, DataModule):
            datamodule.resume_train_order(self._pending["sampler"], self._pending["skip"])

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._pending:
            set_rng_state(self._pending["rng"])
            self._pending = None
