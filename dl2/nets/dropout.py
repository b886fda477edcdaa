"""Dropout drawn from a net's own random stream.

A net that owns its stream draws the same masks whatever else draws random numbers in the
process (Lightning's loaders, another net, a callback), and the stream's state travels in the
net's state_dict, so a resumed run continues it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class DropoutStream(nn.Module):
    """Inverted dropout whose masks come from a generator seeded at construction (from the
    global generator, so `seed` decides it like the weights)."""

    def __init__(self) -> None:
        super().__init__()
        # the CPU generator's draw, whatever the default device (a plan builds nets on "meta")
        self.seed = int(torch.randint(0, 2**62, (), device="cpu").item())
        self._generator: torch.Generator | None = None
        self._pending: torch.Tensor | None = None  # a loaded state, set on first use
        self._pending_device = "cpu"

    def generator(self, device: torch.device) -> torch.Generator:
        """The stream on `device`, created on first use (a CUDA tensor needs a CUDA one)."""
        gen = self._generator
        if gen is None or gen.device.type != device.type:
            gen = torch.Generator(device=device).manual_seed(self.seed)
            if self._pending is not None and self._pending_device == device.type:
                gen.set_state(self._pending)
            self._pending, self._generator = None, gen
        return gen

    def mask(self, like: torch.Tensor, p: float) -> torch.Tensor:
        """Keep-mask scaled by 1/(1-p): each entry 1/(1-p) with probability 1-p, else 0."""
        keep = torch.empty_like(like).bernoulli_(1.0 - p, generator=self.generator(like.device))
        return keep.div_(1.0 - p)

    def forward(self, x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
        """Dropout of a dense tensor, or of the stored values of a sparse (CSR, COO) one (its zeros
        stay zero whatever the mask: drawing only for the stored values is the same dropout,
        far cheaper on Cora's bag-of-words features)."""
        if not training or p == 0.0:
            return x
        if p >= 1.0:
            return torch.zeros_like(x)
        if x.layout == torch.sparse_csr:
            values = x.values()
            return torch.sparse_csr_tensor(
                x.crow_indices(),
                x.col_indices(),
                values * self.mask(values, p),
                x.shape,
                check_invariants=False,
            )
        if x.is_sparse:
            values = x._values()
            return torch.sparse_coo_tensor(
                x._indices(),
                values * self.mask(values, p),
                x.shape,
                is_coalesced=True,
                check_invariants=False,
            )
        return x * self.mask(x, p)

    def get_extra_state(self) -> dict[str, Any]:
        gen = self._generator
        if gen is None:
            return {"seed": self.seed}
        return {"seed": self.seed, "state": gen.get_state(), "device": gen.device.type}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        self._generator = None
        self._pending = state.get("state")
        self._pending_device = state.get("device", "cpu")
