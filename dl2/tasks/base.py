"""What every task offers the run layer and the callbacks, written down and checked when a
job builds its task: the net it trains (`net`: the job counts its parameters, text samples
call it) and what each validation logs (`VALIDATION_METRICS`: a search and W&B's summary read
it). A new task is any LightningModule with both; `build_model` refuses one without."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from torch import nn


@runtime_checkable
class Task(Protocol):
    """A dl2 task (a LightningModule around a plain net)."""

    net: nn.Module
    # {metric each validation logs: "maximize" or "minimize", the way it gets better}
    VALIDATION_METRICS: ClassVar[dict[str, str]]


@runtime_checkable
class ClassifierNet(Protocol):
    """A net whose output width is its number of classes (what NodeClassifier's metrics are
    sized by when `num_classes` is not given)."""

    num_classes: int
