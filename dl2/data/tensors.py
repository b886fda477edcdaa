"""In-memory datasets as torch's TensorDataset, served by a plain DataLoader.

A plain DataLoader (batch_size + sampler) is what Lightning knows how to rebuild: for
`overfit_batches`, distributed samplers and the like it swaps the sampler and keeps the batch
size. On the box data it is also no slower than slicing whole batches by hand.
"""

from __future__ import annotations

from torch.utils.data import DataLoader, TensorDataset

from dl2.data.samplers import ResumableRandomSampler


def tensor_loader(
    dataset: TensorDataset, batch_size: int, sampler: ResumableRandomSampler | None = None
) -> DataLoader:
    """Batches of `dataset` in order, or in the order of `sampler` (shuffled from torch's
    global RNG, seeded, as RandomSampler does, and resumable mid-epoch)."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
