"""Atomic file writes: a file dl2 writes is either its old version or its complete new one,
never a truncated mix (a full disk or a kill mid-write leaves only a `.part` file behind)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# what every job writes into its output folder, and all that reports read
RESULTS_FILE = "results.json"


def checkpoint_results(ckpt_path: Path | str) -> dict[str, Any]:
    """The results.json of the run that wrote `ckpt_path` (`<run>/checkpoints/<file>.ckpt`);
    empty when the checkpoint is not in a dl2 run folder or that file is unreadable."""
    try:
        results = json.loads((Path(ckpt_path).resolve().parent.parent / RESULTS_FILE)
                             .read_text())
    except (OSError, ValueError):
        return {}
    return results if isinstance(results, dict) else {}


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
