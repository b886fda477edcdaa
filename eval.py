"""Evaluate a checkpoint without training: `python eval.py ckpt_path=<run>/checkpoints/x.ckpt`.

The checkpoint's training run is found from its path (`<run>/checkpoints/<file>.ckpt`, with
`<run>/results.json`); its overrides are applied before the command line's, so the data and the
model are built as they were trained. Writes results.json (`"mode": "eval"`) into
logs/<task>/evals/<time>/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("DL2_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

import dl2  # noqa: E402,F401  (registers the config resolvers)
from dl2.run_overrides import with_training_overrides  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> float | None:
    """Validate and test `ckpt_path`; return the metric named by `optimized_metric`."""
    from dl2.pipeline import evaluate, sweeper_value

    return sweeper_value(cfg, evaluate(cfg))


def cli() -> None:
    """The command line: the checkpoint's training overrides first, then the user's."""
    sys.argv = with_training_overrides(sys.argv)
    main()


if __name__ == "__main__":
    cli()
