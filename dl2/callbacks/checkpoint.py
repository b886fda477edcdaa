"""The best-checkpoint callback that every dl2 experiment uses."""

from __future__ import annotations

import os
import shutil
from typing import Any

import lightning as L
from hydra.errors import CompactHydraException

from dl2.compat import restore_kept_checkpoints, save_hook_checkpoint
from dl2.files import check_written


class ResumeError(CompactHydraException, RuntimeError):
    """A checkpoint cannot be resumed faithfully (its best checkpoint file is gone); printed
    as one line."""


class BestCheckpoint(save_hook_checkpoint()):  # type: ignore[misc]
    """Lightning's ModelCheckpoint with what a trustworthy results.json needs.

    - It remembers the epoch and step at which each kept checkpoint was written (its own
      state, saved in every checkpoint): `best_epoch` / `best_step` never open a file.
    - Resumed into a new output folder (a new Hydra run resuming an old one), Lightning keeps
      only `best_model_path` and drops the best score, so the first epoch after the resume
      becomes "best" whatever its score. Here the kept checkpoints are copied into the new
      folder and the scores kept, so the resumed run ends with the same best checkpoint as the
      uninterrupted run. A kept checkpoint that no longer exists stops the resume with a
      message instead of silently changing what "best" means.
      An evaluation of the checkpoint (eval.py) refers to them where they are, copying none.
    - A file of the same name is replaced, never versioned (`last-v1.ckpt`): a folder holds one
      job (a finished one is never trained into again), so its last.ckpt is the one to resume.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("enable_version_counter", False)
        super().__init__(*args, **kwargs)
        self.saved_at: dict[str, tuple[int, int]] = {}
        self.fitting = True

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Lightning restores a checkpoint's callback state after setup: an evaluation
        # (validate / test) keeps the run's checkpoints where they are, copying none
        self.fitting = stage == "fit"
        super().setup(trainer, pl_module, stage)

    @property
    def best_epoch(self) -> int | None:
        return self.saved_at.get(self.best_model_path, (None, None))[0]

    @property
    def best_step(self) -> int | None:
        return self.saved_at.get(self.best_model_path, (None, None))[1]

    def on_file_saved(self, trainer: L.Trainer, filepath: str) -> None:
        # recorded first: the checkpoint written now carries its own (epoch, step)
        self.saved_at[filepath] = (trainer.current_epoch, trainer.global_step)
        kept = {
            self.best_model_path,
            self.kth_best_model_path,
            self.last_model_path,
            filepath,
            *self.best_k_models,
        }
        self.saved_at = {p: v for p, v in self.saved_at.items() if p in kept}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["saved_at"] = {p: list(v) for p, v in self.saved_at.items()}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_at = {p: (int(v[0]), int(v[1])) for p, v in state_dict.get("saved_at", {}).items()}
        old_dir = state_dict.get("dirpath", self.dirpath)
        if old_dir == self.dirpath or self.dirpath is None:
            super().load_state_dict(state_dict)
            self.saved_at = saved_at
            return
        moved = {
            old: self._carry_over(old, state_dict) if self.fitting else old
            for old in state_dict["best_k_models"]
        }
        restore_kept_checkpoints(self, state_dict, moved)
        self.saved_at = {moved[p]: v for p, v in saved_at.items() if p in moved}

    def _carry_over(self, old: str, state_dict: dict[str, Any]) -> str:
        """Copy a kept checkpoint of the resumed run into this run's folder."""
        new = os.path.join(self.dirpath, os.path.basename(old))
        try:
            check_written(old)
        except OSError as err:
            raise ResumeError(
                f"the run being resumed kept {old} as a best checkpoint "
                f"({self.monitor}={float(state_dict['best_k_models'][old]):.6g}), but it is "
                f"not readable ({err}); resume in the original output folder "
                f"(hydra.run.dir=<its folder>) or restore that file"
            ) from None
        os.makedirs(self.dirpath, exist_ok=True)
        if os.path.abspath(old) != os.path.abspath(new):
            shutil.copy2(old, new)
        return new
