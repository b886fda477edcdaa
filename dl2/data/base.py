"""What a dl2 datamodule offers the net, the task and the callbacks, declared once.

Every dl2 datamodule is a `DataModule`; the defaults fit data that has none of it. The pipeline
asks `model_kwargs()` for what the net must know of the data, a classification task names its
test splits after `test_split_names`, exact resume replays `train_order()`, and the text-sample
callback reads a `TextDataModule`'s tokenizer and prompts. State that checkpoints must carry
(a tokenizer) goes through the datamodule's own `state_dict()`, which Lightning saves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L

from dl2.data.samplers import ResumableRandomSampler


@dataclass(frozen=True)
class TrainOrder:
    """A training loader's order that a resumed run can replay: its sampler (seeded per
    epoch), how many items a batch takes from it, and whether each epoch's DataLoader
    iterator draws its base seed from torch's global RNG before the sampler draws (a plain
    DataLoader without workers does; one with a generator of its own does not)."""

    sampler: ResumableRandomSampler
    batch_size: int
    base_seed_per_epoch: bool = True


class DataModule(L.LightningDataModule):
    """A LightningDataModule with dl2's declared offers (see the module's docstring)."""

    # the test dataloaders' names, in their order: a task logs `<name>/<metric>` for each
    test_split_names: Sequence[str] = ("test",)

    def __init__(self) -> None:
        super().__init__()
        # set by a train_dataloader() whose order a resumed run can replay
        self._train_order: TrainOrder | None = None
        self._resume: tuple[dict[str, Any], int] | None = None

    def keep_train_order(self, order: TrainOrder) -> ResumableRandomSampler:
        """Declare the order of the training loader being built (train_dataloader); a resume
        asked for before (`resume_train_order`) is applied to it at once, before any loader
        iterator (with workers: an eager one) takes items from it. Returns its sampler."""
        self._train_order = order
        if self._resume is not None:
            order.sampler.resume(*self._resume)
            self._resume = None
        return order.sampler

    def resume_train_order(self, state: dict[str, Any], consumed: int) -> None:
        """Make the training order replay the permutation of sampler `state` from item
        `consumed` on: on the loader already built, or on the next one built."""
        if self._train_order is not None:
            self._train_order.sampler.resume(state, consumed)
        else:
            self._resume = (state, consumed)

    def model_kwargs(self) -> dict[str, Any]:
        """What the net must know of the data (a vocabulary size, a feature count); passed to
        the net's constructor beside its config."""
        return {}

    def planned_model_kwargs(self) -> dict[str, Any]:
        """`model_kwargs` before any data is read, for a study checking its nets' own values
        before it launches (dl2.config.instantiate.check_constructors): stand-ins where only
        the data tells a size; the real ones by default."""
        return self.model_kwargs()

    def train_order(self) -> TrainOrder | None:
        """The order of the training loader last built, when a resumed run can replay it
        (mid-epoch too); None when it cannot (a resumed run then draws a new order)."""
        return self._train_order


class TextDataModule(DataModule, ABC):
    """Text for a language model: its tokenizer, and prompts that fit its vocabulary."""

    @property
    @abstractmethod
    def tokenizer(self) -> Any:
        """The tokenizer (encode, decode, unknown, vocab_size, state_dict), once set up."""

    @abstractmethod
    def sample_prompts(self, count: int = 4, length: int = 16) -> list[str]:
        """`count` prompts of `length` characters taken from the held-out text."""
