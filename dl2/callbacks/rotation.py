"""After testing, gather accuracy per rotation angle: a W&B table and line plot, and a PNG."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from dl2.files import save_figure

ROT_METRIC = re.compile(r"^test_rot(\d+(?:\.\d+)?)/acc$")


def accuracy_by_angle(metrics: dict[str, float]) -> list[tuple[float, float]]:
    """[(angle, accuracy)] from `test_rotXXX/acc` metrics, sorted by angle."""
    pairs = [
        (float(m.group(1)), float(v)) for k, v in metrics.items() if (m := ROT_METRIC.match(k))
    ]
    return sorted(pairs)


def plot_accuracy(pairs: list[tuple[float, float]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([a for a, _ in pairs], [100 * v for _, v in pairs], marker="o")
    ax.set_xlabel("rotation of the test images (degrees)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks([a for a, _ in pairs])
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10, wrap=True)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


class RotationCurve(L.Callback):
    """Logs test accuracy against rotation angle once the test splits have run."""

    def __init__(self, output_dir: str | None = None, setting: str = "") -> None:
        self.output_dir, self.setting = output_dir, setting

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pairs = accuracy_by_angle({k: float(v) for k, v in trainer.callback_metrics.items()})
        if not pairs or not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                import wandb

                table = wandb.Table(data=[[a, v] for a, v in pairs], columns=["angle", "acc"])
                logger.experiment.log(
                    {
                        "test/acc_by_angle": table,
                        "test/acc_by_angle_plot": wandb.plot.line(
                            table, "angle", "acc", title="test accuracy vs rotation"
                        ),
                    }
                )
        if self.output_dir:
            title = f"Test accuracy by rotation: {self.setting}".rstrip(": ")
            plot_accuracy(pairs, Path(self.output_dir) / "accuracy_by_angle.png", title)
