"""dl2's files. Writes are atomic: a file is either its old version or its complete new one,
never a truncated mix (a full disk or a kill mid-write leaves only a `.part` file behind).
Checkpoints are read as data: with `weights_only=True` (tensors, numbers, strings, lists and
dicts), so a pickled object in a crafted file is refused instead of executed. Nothing here
imports Lightning: planning a study reads checkpoints too."""

from __future__ import annotations

import csv
import os
import pickle
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from dl2.errors import ConfigValueError


def unwritable_reason(folder: Path | str) -> str | None:
    """Why files cannot be written under `folder` (made if it is missing), or None when they
    can. Probed without making `folder` itself: a temporary folder is made and removed in
    `folder` or, when it does not exist yet, in its nearest existing parent."""
    folder = Path(folder).absolute()
    parent = folder
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dl2-write-test-", dir=parent))
    except OSError as err:
        return f"{parent}: {err.strerror or err}"
    return None


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; once the block has written it, flush it to disk
    and rename it over `path`. On any error the temporary file is removed and `path` is left
    as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def exclusive(lock_file: Path | str) -> Iterator[None]:
    """Hold an exclusive lock (flock) on `lock_file` (created with its folder) for the block:
    two processes that prepare the same data wait for each other instead of one reading the
    other's half-written files. Without flock (not POSIX) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_figure(fig: Any, path: Path | str, dpi: int = 120) -> None:
    """Save a matplotlib figure atomically (its format from the file's suffix)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")


def write_csv(path: Path | str, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """A CSV file with a header row, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def read_checkpoint(
    path: Path | str, key: str = "ckpt_path", map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The dict of a Lightning checkpoint, loaded with `weights_only=True`.

    A missing, truncated, foreign or code-carrying file raises ConfigValueError naming `key`
    and the file, in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigValueError(key, str(path), "must be an existing checkpoint file")
    if not zipfile.is_zipfile(path):
        raise ConfigValueError(
            key,
            str(path),
            "must be a PyTorch checkpoint (it is not a "
            "complete zip archive: truncated, or another kind of file)",
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        # torch's first line is generic advice; the line naming the refused object is the news
        reason = next(
            (line for line in lines[1:] if not line.startswith("Check the doc")),
            lines[0] if lines else type(err).__name__,
        )
        raise ConfigValueError(
            key,
            str(path),
            "must hold plain data (tensors, numbers, strings, lists, dicts); "
            f"dl2 loads checkpoints with weights_only=True and refused it: {reason}",
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ConfigValueError(
            key,
            str(path),
            "must be a complete PyTorch checkpoint (it is "
            f"truncated or another format: {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})",
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigValueError(
            key, str(path), "must be a Lightning checkpoint (it has no state_dict)"
        )
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
