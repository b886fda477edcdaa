"""Graph nets on torch-geometric: the mean-aggregation layer (and its dense matrix form), and
the two-layer node classifiers GCN, MeanConvNet and GAT."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, MessagePassing
from torch_geometric.utils import softmax

from dl2.errors import check_choice, check_positive
from dl2.nets.dropout import DropoutStream
from dl2.nets.sparse import accept_csr, linear, to_csr

# features with at most this share of non-zeros go to the first layer as a sparse tensor
SPARSE_BELOW = 0.25


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
            out = self.propagate(edge_index, x=linear(x, weight))
        else:
            dense = x.to_dense() if x.layout != torch.strided else x
            out = F.linear(self.propagate(edge_index, x=dense), weight)
        if bias is not None:
            out = out + bias
        return out + linear(x, self.lin_self.weight)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        return x_j


def mean_conv_dense(
    x: torch.Tensor,
    adj: torch.Tensor,
    weight: torch.Tensor,
    root_weight: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """The matrix form D⁻¹ A H Wᵀ + H Bᵀ (+ b), with adj[v, u] = 1 when u sends to v and D⁻¹
    taken as 0 for a node of in-degree 0 (its aggregate is then 0, as in MeanConv)."""
    deg = adj.sum(dim=1, keepdim=True)
    inv = torch.where(deg > 0, 1.0 / deg.clamp(min=1.0), torch.zeros_like(deg))
    out = (inv * adj) @ x @ weight.t() + x @ root_weight.t()
    return out if bias is None else out + bias


class SeededGATConv(GATConv):
    """GATConv whose attention dropout draws from its own DropoutStream (see
    dl2/nets/dropout.py); otherwise PyG's layer, parameters and initialisation unchanged."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attention_dropout = DropoutStream()

    def edge_update(
        self,
        alpha_j: torch.Tensor,
        alpha_i: torch.Tensor | None,
        edge_attr: torch.Tensor | None,
        index: torch.Tensor,
        ptr: torch.Tensor | None,
        dim_size: int | None,
    ) -> torch.Tensor:
        if edge_attr is not None:
            raise ValueError("dl2's GAT takes no edge features")
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if index.numel() == 0:
            return alpha
        alpha = softmax(F.leaky_relu(alpha, self.negative_slope), index, ptr, dim_size)
        return self.attention_dropout(alpha, self.dropout, self.training)


class TwoLayerGNN(nn.Module):
    """dropout -> conv1 -> activation -> dropout -> conv2: the shape GCN and GAT share.

    Dropout draws from the net's own stream (`self.drop`, made after the layers), so a seed's
    masks do not depend on what else draws random numbers. Sparse features (Cora's
    bag-of-words, mostly zeros) reach conv1 as a CSR tensor: dropout then draws only for
    the non-zeros and conv1's projection is a sparse product, forward and backward
    (dl2/nets/sparse.py; docs/speed.md has the gain)."""

    conv1: nn.Module
    conv2: nn.Module
    dropout: float
    drop: DropoutStream

    @staticmethod
    def activation(x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.first_layer_input(x), self.dropout, self.training)
        x = self.activation(self.conv1(x, edge_index))
        x = self.drop(x, self.dropout, self.training)
        return self.conv2(x, edge_index)

    def first_layer(self) -> nn.Module:
        """The layer whose weights a paper's recipe may decay alone (NodeClassifier's
        `weight_decay_on=first_layer`)."""
        return self.conv1

    def __getstate__(self) -> dict:
        """Without the cached sparse features (a copy or a pickle of the net rebuilds them;
        CSR tensors cannot be deep-copied)."""
        state = dict(super().__getstate__())
        state.pop("_sparse_x", None)
        return state

    def first_layer_input(self, x: torch.Tensor) -> torch.Tensor:
        """`x` as a CSR tensor when it is mostly zeros (converted once per feature tensor
        and kept), else `x`."""
        key = (x.data_ptr(), x._version, tuple(x.shape), x.device)
        cached = getattr(self, "_sparse_x", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        nonzero = int(torch.count_nonzero(x))
        out = to_csr(x) if nonzero <= SPARSE_BELOW * x.numel() else x
        self._sparse_x = (key, out)
        return out


class GCN(TwoLayerGNN):
    """Kipf & Welling: dropout -> GCNConv(hidden) -> ReLU -> dropout -> GCNConv(classes).
    `conv="mean"` puts MeanConv in place of GCNConv (the same recipe otherwise)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 16,
        dropout: float = 0.5,
        conv: str = "gcn",
    ) -> None:
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("hidden", hidden),
        ):
            check_positive(key, value)
        check_choice("conv", conv, ("gcn", "mean"))
        self.num_classes = num_classes
        if conv == "gcn":  # one graph per net: its normalisation is computed once (cached)
            self.conv1 = GCNConv(in_channels, hidden, cached=True)
            self.conv2 = GCNConv(hidden, num_classes, cached=True)
            accept_csr(self.conv1.lin)
        else:
            self.conv1, self.conv2 = MeanConv(in_channels, hidden), MeanConv(hidden, num_classes)
        self.dropout = dropout
        self.drop = DropoutStream()


class GAT(TwoLayerGNN):
    """Veličković et al.: dropout -> GATConv(hidden x heads, concat) -> ELU -> dropout ->
    GATConv(classes, out_heads heads, averaged); attention dropout as the feature dropout."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 8,
        heads: int = 8,
        out_heads: int = 1,
        dropout: float = 0.6,
    ) -> None:
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("hidden", hidden),
            ("heads", heads),
            ("out_heads", out_heads),
        ):
            check_positive(key, value)
        self.num_classes = num_classes
        self.conv1 = SeededGATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = SeededGATConv(
            hidden * heads, num_classes, heads=out_heads, concat=False, dropout=dropout
        )
        accept_csr(self.conv1.lin)
        self.dropout = dropout
        self.drop = DropoutStream()

    @staticmethod
    def activation(x: torch.Tensor) -> torch.Tensor:
        return F.elu(x)
