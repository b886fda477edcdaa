"""Every use dl2 makes of a library's private name or internal structure (Lightning, OmegaConf,
Hydra), in one place: each is one function or constant here, and tests/test_compat.py has a
test per item that fails on a version that changes it. Nothing here imports Lightning until it
is used: planning a study reads checkpoints and configs without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import WandbLogger
    from omegaconf import DictConfig

# Lightning's modules whose loggers print its info lines (GPU/TPU available, "Restoring
# states ..."): the logger names are these module paths
LIGHTNING_INFO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.distributed",
)
# Hydra's default sweeper (its `_target_` in a multirun's config), which lives in `_internal`
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
# the keys of ModelCheckpoint.state_dict() that say which checkpoints are kept and how good
KEPT_CHECKPOINT_KEYS = (
    "best_k_models",
    "best_model_score",
    "kth_value",
    "best_model_path",
    "kth_best_model_path",
)


def epochs_completed(checkpoint: dict[str, Any]) -> int:
    """Whole epochs a Lightning checkpoint's run had finished: its `epoch`, plus one when it
    was written after the epoch's last batch (the fit loop's saved batch progress)."""
    loops = checkpoint.get("loops") or {}
    batches = (loops.get("fit_loop") or {}).get("epoch_loop.batch_progress") or {}
    return int(checkpoint.get("epoch", 0)) + bool(batches.get("is_last_batch"))


def batches_done_in_epoch(trainer: L.Trainer) -> int:
    """Training batches completed in the current epoch (the fit loop's batch progress)."""
    return int(trainer.fit_loop.epoch_loop.batch_progress.current.completed)


def wandb_init_args(logger: WandbLogger) -> dict[str, Any]:
    """The keyword arguments Lightning's WandbLogger will pass to `wandb.init` (mutable: what
    is changed here is what W&B gets)."""
    return logger._wandb_init


def restore_kept_checkpoints(
    callback: ModelCheckpoint, state: dict[str, Any], moved: dict[str, str]
) -> None:
    """Put a ModelCheckpoint's kept checkpoints and scores back from its `state` with each
    file at its new path (`moved`: old -> new; a file not in it is dropped), which Lightning's
    own load_state_dict does not do across folders."""
    callback.best_k_models = {moved[p]: s for p, s in state["best_k_models"].items()}
    callback.best_model_score = state["best_model_score"]
    callback.kth_value = state.get("kth_value", callback.kth_value)
    callback.best_model_path = moved.get(state["best_model_path"], "")
    callback.kth_best_model_path = moved.get(state.get("kth_best_model_path", ""), "")


def config_child(node: DictConfig, key: str) -> tuple[Any, Any]:
    """(the child node of `key`, its value as written: `${paths.x}` for an interpolation,
    unresolved); (None, None) for a missing key."""
    child = node._get_node(key)
    return child, child._value() if child is not None else None


def split_basic_sweep(overrides: list[Any]) -> list[list[str]]:
    """Each job's overrides, in launch order, as Hydra's basic sweeper splits parsed sweep
    `overrides` (in one batch)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return BasicSweeper.split_arguments(overrides, None)[0]


def save_hook_checkpoint() -> type[ModelCheckpoint]:
    """Lightning's ModelCheckpoint with `on_file_saved(trainer, filepath)` called before each
    file it writes (its top-k and last checkpoints) is written, through its private
    `_save_checkpoint`, the one place that knows the file."""
    global _HOOKED
    if _HOOKED is None:
        from lightning.pytorch.callbacks import ModelCheckpoint

        class SaveHookCheckpoint(ModelCheckpoint):
            def on_file_saved(self, trainer: L.Trainer, filepath: str) -> None:
                """Called before `filepath` is written with the trainer's current state."""

            def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
                self.on_file_saved(trainer, filepath)
                super()._save_checkpoint(trainer, filepath)

        _HOOKED = SaveHookCheckpoint
    return _HOOKED


_HOOKED: type[ModelCheckpoint] | None = None
