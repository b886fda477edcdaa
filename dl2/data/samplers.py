"""Random samplers that a resumed run can put back where it was."""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler


def draw_seed() -> int:
    """One int64 from torch's global RNG: how RandomSampler, and a DataLoader iterator for
    its base seed, draw theirs."""
    return int(torch.empty((), dtype=torch.int64).random_().item())


class ResumableRandomSampler(Sampler[int]):
    """torch's RandomSampler (without replacement), draw for draw, that can resume mid-epoch.

    Each epoch draws its seed from torch's global RNG, exactly as RandomSampler does, and
    permutes with a generator of that seed; `state_dict()` holds the seed, so
    `resume(state, consumed)` replays the same permutation from item `consumed` on (the
    items a checkpointed run has already trained on). A resumed epoch draws nothing from the
    global RNG, which a restored RNG state then continues exactly.
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source
        self.seed: int | None = None
        self._resume: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.data_source)

    def __iter__(self) -> Iterator[int]:
        if self._resume is not None:
            self.seed, skip = self._resume
            self._resume = None
        else:
            self.seed, skip = draw_seed(), 0
        generator = torch.Generator().manual_seed(self.seed)
        yield from torch.randperm(len(self.data_source), generator=generator)[skip:].tolist()

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def resume(self, state: dict[str, Any], consumed: int) -> None:
        """Make the next epoch replay the permutation of `state` from item `consumed` on."""
        if state.get("seed") is not None:
            self._resume = (int(state["seed"]), int(consumed))


class KeyedRandomSampler(ResumableRandomSampler):
    """A ResumableRandomSampler (the same order, draw for draw) that yields `(index, epoch
    seed)`: a dataset that draws an item's randomness from that key (`keyed_uniform`) draws
    the same in any DataLoader worker, for any worker count, and again after a resume."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        for index in super().__iter__():
            yield index, self.seed


def keyed_uniform(seed: int, index: int) -> float:
    """A number in [0, 1) drawn for item `index` of the epoch whose seed is `seed`
    (numpy's SeedSequence hashes the pair: neighbouring keys draw independently)."""
    state = np.random.SeedSequence([seed % 2**64, index]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(11)) / 2**53
