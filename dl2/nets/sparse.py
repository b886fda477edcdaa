"""A linear layer on sparse (CSR) features whose backward is a sparse product too.

Cora's features are mostly zero: `csr @ Wᵀ` is far cheaper than the dense product, but
autograd's backward of a CSR product (`grad_outᵀ @ x`, dense by sparse) is as slow as the dense
one. Here the backward is `(xᵀ @ grad_out)ᵀ` with xᵀ another CSR tensor, built from the same
values by a permutation computed once per sparsity pattern, so both directions are sparse
products (docs/speed.md has the timings). Gradients flow to the weights only (features are
data).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch_geometric.nn.dense.linear import Linear

# (crow, col, shape) of recent sparsity patterns -> (perm, crowᵀ, colᵀ); the index tensors
# are held so that their memory (whose address is the key) is not reused while cached
_TRANSPOSES: list[
    tuple[torch.Tensor, torch.Tensor, tuple[int, int], torch.Tensor, torch.Tensor, torch.Tensor]
] = []


def to_csr(x: torch.Tensor) -> torch.Tensor:
    """A dense matrix as CSR (without torch's beta-state warning for CSR tensors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return x.to_sparse_csr()


def transpose_of(x: torch.Tensor) -> torch.Tensor:
    """xᵀ of a CSR matrix as a CSR matrix (its pattern's permutation cached)."""
    crow, col = x.crow_indices(), x.col_indices()
    rows, cols = x.shape
    key = (crow.data_ptr(), col.data_ptr(), (rows, cols))
    found = [e for e in _TRANSPOSES if (e[0].data_ptr(), e[1].data_ptr(), e[2]) == key]
    if found:
        perm, crow_t, col_t = found[0][3:]
    else:
        row = torch.repeat_interleave(torch.arange(rows, device=crow.device), crow.diff())
        perm = torch.argsort(col * rows + row)
        crow_t = torch.zeros(cols + 1, dtype=crow.dtype, device=crow.device)
        crow_t[1:] = torch.cumsum(torch.bincount(col, minlength=cols), 0)
        col_t = row[perm].to(col.dtype)
        _TRANSPOSES.insert(0, (crow, col, (rows, cols), perm, crow_t, col_t))
        del _TRANSPOSES[4:]
    return torch.sparse_csr_tensor(
        crow_t, col_t, x.values()[perm], (cols, rows), check_invariants=False
    )


class _CSRMatmul(torch.autograd.Function):
    """x @ weightᵀ for a CSR x; the gradient of weight as (xᵀ @ grad)ᵀ."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.x = x
        return x @ weight.t()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        return (transpose_of(ctx.x) @ grad).t(), None


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear, with the fast product for a CSR `x`."""
    if x.layout != torch.sparse_csr:
        return F.linear(x, weight, bias)
    out = _CSRMatmul.apply(weight, x)
    return out if bias is None else out + bias


class CSRLinear(Linear):
    """torch_geometric's Linear (the layer inside GCNConv and GATConv) that also takes CSR
    features; the same parameters, initialisation and dense behaviour."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def accept_csr(layer: Linear) -> Linear:
    """Let an already built PyG Linear take CSR features, in place: a new module would draw
    a new initialisation and shift every seed's random stream."""
    layer.__class__ = CSRLinear
    return layer
