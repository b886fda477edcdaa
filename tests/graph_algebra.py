"""Dense graph algebra for small graphs: adjacency from edges, walk counts, degrees,
Laplacians. (Matrices as torch tensors; node ids 0..n-1.)"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from dl2.errors import ConfigValueError


def adjacency(
    edges: Iterable[tuple[int, int]] | torch.Tensor, num_nodes: int, directed: bool = False
) -> torch.Tensor:
    """n x n 0/1 matrix with A[u, v] = 1 for each edge (u, v) (and A[v, u] unless directed).

    `edges` are pairs or a (2, E) edge_index tensor; ids outside 0..n-1 raise an error.
    """
    if num_nodes < 1:
        raise ConfigValueError("num_nodes", num_nodes, "must be a positive integer")
    pairs = edges.t().tolist() if isinstance(edges, torch.Tensor) else [tuple(e) for e in edges]
    adj = torch.zeros(num_nodes, num_nodes)
    for u, v in pairs:
        if not (0 <= u < num_nodes and 0 <= v < num_nodes):
            raise ConfigValueError("edges", (u, v), f"node ids must lie in 0..{num_nodes - 1}")
        adj[u, v] = 1.0
        if not directed:
            adj[v, u] = 1.0
    return adj


def check_square(adj: torch.Tensor) -> None:
    if adj.dim() != 2 or adj.shape[0] != adj.shape[1]:
        raise ConfigValueError("adjacency", tuple(adj.shape), "must be a square n x n matrix")


def walk_counts(adj: torch.Tensor, length: int) -> torch.Tensor:
    """A^length: entry (u, v) counts the walks of `length` edges from u to v."""
    check_square(adj)
    if length < 0:
        raise ConfigValueError("length", length, "must be >= 0")
    return torch.linalg.matrix_power(adj, length)


def degree_matrix(adj: torch.Tensor) -> torch.Tensor:
    """D = diag(row sums of A) (out-degrees; the degree for an undirected graph)."""
    check_square(adj)
    return torch.diag(adj.sum(dim=1))


def laplacian(adj: torch.Tensor, normalized: bool = False) -> torch.Tensor:
    """L = D - A, or the symmetric normalised I - D^-1/2 A D^-1/2 (isolated nodes: D^-1/2 = 0,
    so their row and column of the normalised form are those of I)."""
    check_square(adj)
    deg = adj.sum(dim=1)
    if not normalized:
        return torch.diag(deg) - adj
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    return torch.eye(len(adj)) - inv_sqrt[:, None] * adj * inv_sqrt[None, :]
