"""Full-batch node classification: one step per epoch on the whole graph, the masks choosing
which nodes count for train, val and test."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data
from torchmetrics.classification import MulticlassAccuracy

from dl2.errors import ConfigValueError, check_choice
from dl2.tasks.base import ClassifierNet

# which parameters the optimizer's weight decay applies to: every one, or the first layer's
# alone (Kipf & Welling's GCN and torch-geometric's GCN example; the rest get none)
DECAY_ON = ("all", "first_layer")


class NodeClassifier(L.LightningModule):
    """Cross-entropy on `train_mask` nodes; `<split>/loss` and `<split>/acc` on each mask."""

    # what each validation logs, and which way is better (a search checks its metric here)
    VALIDATION_METRICS: ClassVar[dict[str, str]] = {"val/loss": "minimize", "val/acc": "maximize"}

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        num_classes: int | None = None,
        weight_decay_on: str = "all",
    ) -> None:
        """`num_classes` defaults to the net's own (its output width); `weight_decay_on`
        says which parameters the optimizer's weight decay applies to (DECAY_ON;
        `first_layer` needs a net with a `first_layer()`, as dl2.nets.gnn's have)."""
        super().__init__()
        check_choice("model.task.weight_decay_on", weight_decay_on, DECAY_ON)
        if weight_decay_on == "first_layer" and not callable(getattr(net, "first_layer", None)):
            raise ConfigValueError(
                "model.task.weight_decay_on",
                weight_decay_on,
                f"the net {type(net).__name__} has no first_layer(): choose all",
            )
        if num_classes is None and not isinstance(net, ClassifierNet):
            raise ConfigValueError(
                "model.task.num_classes",
                num_classes,
                f"the net {type(net).__name__} has no num_classes: give model.task.num_classes",
            )
        num_classes = num_classes or net.num_classes
        self.save_hyperparameters(ignore=["net", "optimizer"], logger=False)
        self.net, self.optimizer_factory = net, optimizer
        self.accs = nn.ModuleDict(
            {
                f"{s}_acc": MulticlassAccuracy(num_classes, average="micro")
                for s in ("train", "val", "test")
            }
        )

    def forward(self, graph: Data) -> torch.Tensor:
        return self.net(graph.x, graph.edge_index)

    def scores(self, graph: Data, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, logits, targets) on the `split` nodes."""
        mask = graph[f"{split}_mask"]
        logits, target = self(graph)[mask], graph.y[mask]
        return F.cross_entropy(logits, target), logits, target

    def _evaluate(self, graph: Data, split: str) -> torch.Tensor:
        mask = graph[f"{split}_mask"]
        loss, logits, target = self.scores(graph, split)
        self.accs[f"{split}_acc"](logits.argmax(-1), target)
        self.log(
            f"{split}/loss",
            loss,
            batch_size=int(mask.sum()),
            prog_bar=split == "val",
            sync_dist=True,
        )
        self.log(
            f"{split}/acc",
            self.accs[f"{split}_acc"],
            batch_size=int(mask.sum()),
            prog_bar=split == "val",
        )
        return loss

    def training_step(self, graph: Data, batch_idx: int) -> torch.Tensor:
        return self._evaluate(graph, "train")

    def validation_step(self, graph: Data, batch_idx: int) -> None:
        self._evaluate(graph, "val")

    def test_step(self, graph: Data, batch_idx: int) -> None:
        self._evaluate(graph, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """The optimizer over every parameter; with `weight_decay_on=first_layer` in two
        groups: the first layer's with the optimizer's weight decay, the rest with none."""
        if self.hparams.weight_decay_on == "all":
            return self.optimizer_factory(params=self.parameters())
        first = list(self.net.first_layer().parameters())
        ids = {id(p) for p in first}
        rest = [p for p in self.parameters() if id(p) not in ids]
        return self.optimizer_factory(
            params=[{"params": first}, {"params": rest, "weight_decay": 0.0}]
        )
