"""Train one model (or a sweep with -m): `python train.py experiment=padding model=net2`.

`python train.py ckpt_path=<run>/checkpoints/last.ckpt` resumes a run with its own overrides
(read from `<run>/results.json`; the command line's come after them and win)."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import dl2  # noqa: F401  (registers the config resolvers)
from dl2.config.environment import check_config_files, load_env_file, with_config_dir
from dl2.config.overrides import with_training_overrides


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Run the job; return the metric named by `optimized_metric` for hyperparameter sweeps."""
    # imported here: a multirun's launching process (joblib, SLURM) never trains, and
    # importing Lightning takes seconds on a small CPU
    from dl2.run.job import sweeper_value, train

    return sweeper_value(cfg, train(cfg))


def cli() -> None:
    """The command line; a resume (`ckpt_path=`) gets its run's overrides before the user's."""
    load_env_file()  # .env (W&B's key, entity, project), before Hydra composes
    check_config_files()
    sys.argv = with_config_dir(with_training_overrides(sys.argv))
    main()


if __name__ == "__main__":
    cli()
