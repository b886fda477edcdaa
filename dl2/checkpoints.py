"""Lightning's checkpoint IO for dl2: every checkpoint written atomically and checked, and read
back as data only (`dl2.files.read_checkpoint`). Its path is in every job's config
(`trainer.plugins`), so it stays here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from dl2.files import atomic_path, check_written, read_checkpoint


class _WriteErrors:
    """A file for torch.save that keeps the OSError of a failed write (a full disk): torch
    reports it as "enforce fail at inline_container.cc: unexpected pos"."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


def _free_space(folder: Path) -> str:
    """How much room is left where `folder` lies, in words."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return f"the space left in {folder} is unknown"
    return f"{free / 2**20:,.1f} MiB free on the disk holding {folder}"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, writing each file atomically and checking it.

    The checkpoint goes to a temporary file beside its target, is flushed, checked
    (`check_written`) and renamed over the target. A failed save (a full disk, an unwritable
    folder) raises at once, so the run fails at its first bad save and leaves the previous
    file of that name intact."""

    def save_checkpoint(
        self,
        checkpoint: dict[str, Any],
        path: str | os.PathLike[str],
        storage_options: Any | None = None,
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    stream = _WriteErrors(f)
                    try:
                        torch.save(checkpoint, stream)
                    except RuntimeError:  # torch's writer hides the OSError behind its own
                        if stream.error is None:
                            raise
                        raise stream.error from None
                    f.flush()
                    os.fsync(f.fileno())
                check_written(tmp)
        except OSError as err:
            raise OSError(
                err.errno,
                f"{err.strerror or err}: checkpoint {path} not written "
                f"({_free_space(Path(path).parent)})",
            ) from None

    def load_checkpoint(
        self,
        path: str | os.PathLike[str],
        map_location: Any = None,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load with `weights_only=True` whatever the caller asks: no code from files."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint file {path} not found")
        return read_checkpoint(path, map_location=map_location or "cpu")
