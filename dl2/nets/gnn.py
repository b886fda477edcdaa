"""Graph nets on torch-geometric: the mean-aggregation layer (and its dense matrix form), and
the two-layer node classifiers GCN, MeanConvNet and GAT."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, MessagePassing

from dl2.errors import check_choice, check_positive


class MeanConv(MessagePassing):
    """h_v' = W · mean_{u in N(v)} h_u + B · h_v (+ bias), N(v) = the sources of edges into v.

    A node without incoming edges aggregates nothing (its mean is 0), so h_v' = B · h_v (+ bias).
    W is linear, so W · mean(h_u) = mean(W · h_u): the layer averages whichever side is narrower
    (on Cora's 1433 input features, projecting to 16 first makes the messages 90x smaller).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="mean")
        self.lin_neigh = nn.Linear(in_channels, out_channels, bias=bias)  # W (+ bias)
        self.lin_self = nn.Linear(in_channels, out_channels, bias=False)  # B

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        weight, bias = self.lin_neigh.weight, self.lin_neigh.bias
        if weight.shape[0] < weight.shape[1]:  # out < in: project, then average
            out = self.propagate(edge_index, x=F.linear(x, weight))
        else:
            out = F.linear(self.propagate(edge_index, x=x), weight)
        if bias is not None:
            out = out + bias
        return out + self.lin_self(x)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        return x_j


def mean_conv_dense(x: torch.Tensor, adj: torch.Tensor, weight: torch.Tensor,
                    root_weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The matrix form D⁻¹ A H Wᵀ + H Bᵀ (+ b), with adj[v, u] = 1 when u sends to v and D⁻¹
    taken as 0 for a node of in-degree 0 (its aggregate is then 0, as in MeanConv)."""
    deg = adj.sum(dim=1, keepdim=True)
    inv = torch.where(deg > 0, 1.0 / deg.clamp(min=1.0), torch.zeros_like(deg))
    out = (inv * adj) @ x @ weight.t() + x @ root_weight.t()
    return out if bias is None else out + bias


class TwoLayerGNN(nn.Module):
    """dropout -> conv1 -> activation -> dropout -> conv2: the shape GCN and GAT share."""

    conv1: nn.Module
    conv2: nn.Module
    dropout: float

    @staticmethod
    def activation(x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = self.activation(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


class GCN(TwoLayerGNN):
    """Kipf & Welling: dropout -> GCNConv(hidden) -> ReLU -> dropout -> GCNConv(classes).
    `conv="mean"` puts MeanConv in place of GCNConv (the same recipe otherwise)."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 16,
                 dropout: float = 0.5, conv: str = "gcn") -> None:
        super().__init__()
        for key, value in (("in_channels", in_channels), ("num_classes", num_classes),
                           ("hidden", hidden)):
            check_positive(key, value)
        check_choice("conv", conv, ("gcn", "mean"))
        layer = GCNConv if conv == "gcn" else MeanConv
        self.num_classes = num_classes
        self.conv1, self.conv2 = layer(in_channels, hidden), layer(hidden, num_classes)
        self.dropout = dropout


class GAT(TwoLayerGNN):
    """Veličković et al.: dropout -> GATConv(hidden x heads, concat) -> ELU -> dropout ->
    GATConv(classes, out_heads heads, averaged); attention dropout as the feature dropout."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 8, heads: int = 8,
                 out_heads: int = 1, dropout: float = 0.6) -> None:
        super().__init__()
        for key, value in (("in_channels", in_channels), ("num_classes", num_classes),
                           ("hidden", hidden), ("heads", heads), ("out_heads", out_heads)):
            check_positive(key, value)
        self.num_classes = num_classes
        self.conv1 = GATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=out_heads, concat=False,
                             dropout=dropout)
        self.dropout = dropout

    @staticmethod
    def activation(x: torch.Tensor) -> torch.Tensor:
        return F.elu(x)
