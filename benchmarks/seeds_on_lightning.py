"""Would seeds side by side pay on Lightning's own machinery? K GCN seeds on Cora, in this one
process, two ways: K dl2 jobs one after another (`train()`, as a multirun's jobs run), and one
Lightning fit of a module holding the K NodeClassifiers (the summed loss, each seed's metrics
logged under `seed_<s>/`, one ModelCheckpoint per seed on its own `val/acc`, weights only, and
the group's last.ckpt), each seed then tested with its best weights. Prints both wall times,
their ratio and the largest difference of a seed's test accuracy between the two ways.

The group here is the least such a mode needs (no loggers, no early stopping, no results.json
per seed): what it measures is an upper bound on what the full mode could gain.

    python benchmarks/seeds_on_lightning.py [--data-dir data] [--seeds 10] [--epochs 200]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, open_dict
from torch import nn
from torch.utils.data import DataLoader

import dl2  # noqa: F401  (registers the config resolvers)
from dl2.paths import CONF
from dl2.run.build import build_model
from dl2.run.job import train


def job_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """conf/train.yaml with `overrides`, writing to `output_dir`, as a job sees it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg


class Graphs(L.LightningDataModule):
    """The seeds' graphs as one batch (a list), for training and validation."""

    def __init__(self, datamodules: list[L.LightningDataModule]) -> None:
        super().__init__()
        self.datamodules = datamodules

    def setup(self, stage: str | None = None) -> None:
        for dm in self.datamodules:
            dm.setup(stage)

    def _loader(self) -> DataLoader:
        graphs = [dm.graph for dm in self.datamodules]
        return DataLoader([graphs], batch_size=None, collate_fn=lambda batch: batch)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


class Seeds(L.LightningModule):
    """K NodeClassifiers trained together: the summed loss, each seed's metrics logged as
    `seed_<s>/<split>/<metric>` by its own torchmetrics."""

    def __init__(self, tasks: list[L.LightningModule], seeds: list[int]) -> None:
        super().__init__()
        self.tasks, self.seeds = nn.ModuleList(tasks), seeds

    def _step(self, graphs: list, split: str) -> torch.Tensor:
        total = torch.zeros(())
        for seed, task, graph in zip(self.seeds, self.tasks, graphs, strict=True):
            loss, logits, target = task.scores(graph, split)
            size = int(graph[f"{split}_mask"].sum())
            accuracy = task.accs[f"{split}_acc"]
            accuracy(logits.argmax(-1), target)
            self.log(f"seed_{seed}/{split}/loss", loss, batch_size=size)
            self.log(f"seed_{seed}/{split}/acc", accuracy, batch_size=size)
            total = total + loss
        return total

    def training_step(self, graphs: list, batch_idx: int) -> torch.Tensor:
        return self._step(graphs, "train")

    def validation_step(self, graphs: list, batch_idx: int) -> None:
        self._step(graphs, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizers = [task.configure_optimizers() for task in self.tasks]
        groups = [g for opt in optimizers for g in opt.param_groups]
        return type(optimizers[0])(groups, **optimizers[0].defaults)


def together(base: list[str], seeds: list[int], out: Path, epochs: int) -> list[float]:
    """One Lightning fit of the seeds' tasks; each seed's test accuracy at its best epoch."""
    datamodules, tasks = [], []
    for seed in seeds:
        cfg = job_config([*base, f"seed={seed}"], out / f"seed_{seed}")
        L.seed_everything(seed, workers=True, verbose=False)
        datamodule, task = build_model(cfg)
        datamodules.append(datamodule)
        tasks.append(task)
    best = [
        ModelCheckpoint(
            dirpath=str(out / f"seed_{seed}" / "checkpoints"),
            monitor=f"seed_{seed}/val/acc",
            mode="max",
            save_weights_only=True,
        )
        for seed in seeds
    ]
    last = ModelCheckpoint(dirpath=str(out / "checkpoints"), filename="last")
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        callbacks=[*best, last],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(Seeds(tasks, seeds), datamodule=Graphs(datamodules))
    accuracies = []
    for k, callback in enumerate(best):
        state = torch.load(callback.best_model_path, weights_only=True)["state_dict"]
        prefix = f"tasks.{k}."
        task = copy.deepcopy(tasks[k])
        task.load_state_dict(
            {n[len(prefix) :]: v for n, v in state.items() if n[: len(prefix)] == prefix}
        )
        task.eval()
        with torch.no_grad():
            _, logits, target = task.scores(datamodules[k].graph, "test")
        accuracies.append(float((logits.argmax(-1) == target).float().mean()))
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="holds planetoid/Cora/raw")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(args.seeds))
    base = [
        "experiment=gnn",
        "model=gcn",
        "logger=none",
        "torch_threads=1",
        f"paths.data_dir={Path(args.data_dir).resolve()}",
        f"trainer.max_epochs={args.epochs}",
    ]
    # the jobs' own tables of metrics stay out of the way of this one
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        root = Path(tmp)
        train(job_config([*base, "trainer.max_epochs=1"], root / "warm-up"))  # first-use costs
        start = time.perf_counter()
        alone = [
            train(job_config([*base, f"seed={s}"], root / f"job_{s}"))["test/acc"] for s in seeds
        ]
        jobs_s = time.perf_counter() - start
        start = time.perf_counter()
        grouped = together(base, seeds, root / "together", args.epochs)
        together_s = time.perf_counter() - start
    diff = max(abs(a - b) for a, b in zip(alone, grouped, strict=True))
    print(f"GCN on Cora, {args.seeds} seeds, {args.epochs} epochs, 1 torch thread, one process")
    print("| way | wall time | speed-up | largest test/acc difference |")
    print("|---|---:|---:|---:|")
    print(f"| a dl2 job per seed, one after another | {jobs_s:.1f} s | 1.00x | 0 |")
    print(
        f"| the seeds in one Lightning fit | {together_s:.1f} s | {jobs_s / together_s:.2f}x "
        f"| {diff:.2g} |"
    )


if __name__ == "__main__":
    main()
