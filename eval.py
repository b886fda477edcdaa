"""Evaluate a checkpoint without training: `python eval.py ckpt_path=<run>/checkpoints/x.ckpt`.

The checkpoint's training run is found from its path (`<run>/checkpoints/<file>.ckpt`, with
`<run>/results.json`); its overrides are applied before the command line's, so the data and the
model are built as they were trained. Writes results.json (`"mode": "eval"`) into
logs/<task>/evals/<time>/.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import dl2  # noqa: F401  (registers the config resolvers)
from dl2.config.environment import check_config_files, load_env_file, with_config_dir
from dl2.config.overrides import with_training_overrides


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> float | None:
    """Validate and test `ckpt_path`; return the metric named by `optimized_metric`."""
    from dl2.run.job import evaluate, sweeper_value

    return sweeper_value(cfg, evaluate(cfg))


def cli() -> None:
    """The command line: the checkpoint's training overrides first, then the user's."""
    load_env_file()  # .env (W&B's key, entity, project), before Hydra composes
    check_config_files()
    sys.argv = with_config_dir(with_training_overrides(sys.argv))
    main()


if __name__ == "__main__":
    cli()
