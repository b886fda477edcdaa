"""In-memory datasets served a whole batch at a time, without per-sample collation."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, SequentialSampler

from dl2.data.samplers import ResumableRandomSampler


class TensorBatches(Dataset):
    """Tensors indexed by a list of indices, so a DataLoader with `batch_size=None` and a
    BatchSampler slices each batch in one step (small in-memory data is not worth collating
    item by item)."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorBatches needs tensors of one common length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: list[int]) -> tuple[torch.Tensor, ...]:
        idx = torch.as_tensor(index)
        return tuple(t[idx] for t in self.tensors)

    def loader(self, batch_size: int, shuffle: bool = False) -> DataLoader:
        """A DataLoader over whole batches; shuffling draws from torch's global RNG (seeded),
        as RandomSampler does, and can resume mid-epoch."""
        base = ResumableRandomSampler(self) if shuffle else SequentialSampler(self)
        sampler = BatchSampler(base, batch_size=batch_size, drop_last=False)
        return DataLoader(self, sampler=sampler, batch_size=None)
