"""Training curves from the CSV logger's metrics.csv of a job."""

from __future__ import annotations

import csv
from pathlib import Path


def read_curves(job_folder: Path, keys: tuple[str, ...] = ("train/loss", "val/loss")
                ) -> dict[str, tuple[list[int], list[float]]]:
    """{metric: (steps, values)} from `<job>/csv/metrics.csv`; empty when there is none."""
    path = job_folder / "csv" / "metrics.csv"
    if not path.exists():
        return {}
    curves: dict[str, tuple[list[int], list[float]]] = {k: ([], []) for k in keys}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key in keys:
                if row.get(key):
                    curves[key][0].append(int(row["step"]))
                    curves[key][1].append(float(row[key]))
    return {k: v for k, v in curves.items() if v[0]}
