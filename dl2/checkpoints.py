"""Checkpoint files: read them without running code from them, write them atomically.

Every checkpoint dl2 opens goes through `read_checkpoint` or Lightning with
`weights_only=True`: a checkpoint is data (tensors, numbers, strings, lists and dicts), and a
pickled object in a crafted file is refused instead of executed.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from dl2.errors import ConfigValueError
from dl2.io import atomic_path


def read_checkpoint(path: Path | str, key: str = "ckpt_path",
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The dict of a Lightning checkpoint, loaded with `weights_only=True`.

    A missing, truncated, foreign or code-carrying file raises ConfigValueError naming `key`
    and the file, in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigValueError(key, str(path), "must be an existing checkpoint file")
    if not zipfile.is_zipfile(path):
        raise ConfigValueError(key, str(path), "must be a PyTorch checkpoint (it is not a "
                               "complete zip archive: truncated, or another kind of file)")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        # torch's first line is generic advice; the line naming the refused object is the news
        reason = next((line for line in lines[1:] if not line.startswith("Check the doc")),
                      lines[0] if lines else type(err).__name__)
        raise ConfigValueError(
            key, str(path), "must hold plain data (tensors, numbers, strings, lists, dicts); "
            f"dl2 loads checkpoints with weights_only=True and refused it: {reason}") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ConfigValueError(key, str(path), "must be a complete PyTorch checkpoint (it is "
                               f"truncated or another format: {type(err).__name__}: "
                               f"{str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigValueError(key, str(path), "must be a Lightning checkpoint (it has no "
                               "state_dict)")
    return checkpoint


def check_written(path: Path | str) -> None:
    """Raise OSError unless `path` is a non-empty, complete zip checkpoint (the format
    torch.save writes): a cheap check of the central directory, not a full read."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"checkpoint {path} was not written")
    try:
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
    except zipfile.BadZipFile as err:
        raise OSError(f"checkpoint {path} is incomplete ({err})") from None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, writing each file atomically and checking it.

    The checkpoint goes to a temporary file beside its target, is flushed, checked
    (`check_written`) and renamed over the target. A failed save (a full disk, an unwritable
    folder) raises at once, so the run fails at its first bad save and leaves the previous
    file of that name intact."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            check_written(tmp)

    def load_checkpoint(self, path: _PATH, map_location: Any = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        """Load with `weights_only=True` whatever the caller asks: no code from files."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint file {path} not found")
        return read_checkpoint(path, map_location=map_location or "cpu")


def fraction_trained(checkpoint: dict[str, Any], max_epochs: int | None,
                     max_steps: int | None) -> float | None:
    """How much of its training a run had done when it wrote `checkpoint` (0 to 1): the
    larger of its optimizer steps over `max_steps` and its whole epochs over `max_epochs`
    (a mid-epoch checkpoint counts only the epochs before it), since Lightning stops at the
    first limit reached. None when neither limit is set (-1 or None: unlimited)."""
    fractions = []
    if max_steps is not None and max_steps > 0:
        fractions.append(int(checkpoint.get("global_step", 0)) / max_steps)
    if max_epochs is not None and max_epochs > 0:
        batches = checkpoint.get("loops", {}).get("fit_loop", {}).get(
            "epoch_loop.batch_progress", {})
        epochs = int(checkpoint.get("epoch", 0)) + bool(batches.get("is_last_batch"))
        fractions.append(epochs / max_epochs)
    return min(1.0, max(fractions)) if fractions else None
