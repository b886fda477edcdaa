"""Train one model (or a sweep with -m): `python train.py experiment=padding model=net2`."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

import dl2  # noqa: F401  (registers the config resolvers)
from dl2.config.environment import load_env_file


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Run the job; return the metric named by `optimized_metric` for hyperparameter sweeps."""
    # imported here: a multirun's launching process (joblib, SLURM) never trains, and
    # importing Lightning takes it 7 s on a small CPU
    from dl2.run.job import sweeper_value, train

    return sweeper_value(cfg, train(cfg))


if __name__ == "__main__":
    load_env_file()  # .env (W&B's key, entity, project), before Hydra composes
    main()
