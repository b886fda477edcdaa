"""Node classification data: Planetoid citation graphs (Cora, CiteSeer, PubMed) on their
standard public split, a small synthetic graph for tests, and seeded random-edge noise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Data
from torch_geometric.io import read_txt_array
from torch_geometric.io.planetoid import edge_index_from_dict
from torch_geometric.utils import index_to_mask

from dl2.data.base import DataModule
from dl2.data.pickles import NEIGHBOURS, NUMPY, SPARSE, load_data_pickle
from dl2.errors import ConfigValueError, check_choice, check_positive
from dl2.files import exclusive

PLANETOIDS = ("Cora", "CiteSeer", "PubMed")


def undirected_pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    """The distinct unordered node pairs (u < v) joined by an edge; self-loops left out."""
    u, v = edge_index
    lo, hi = torch.minimum(u, v), torch.maximum(u, v)
    keep = lo != hi
    return set(zip(lo[keep].tolist(), hi[keep].tolist(), strict=True))


def add_random_edges(
    edge_index: torch.Tensor, num_nodes: int, fraction: float, seed: int = 0
) -> torch.Tensor:
    """Add round(fraction x #undirected edges) new undirected edges between random node pairs:
    no self-loops, none already present, no duplicates; both directions are added."""
    if fraction < 0:
        raise ConfigValueError("noise", fraction, "must be >= 0 (a fraction of the edge count)")
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
        raise ConfigValueError(
            "edge_index",
            f"ids {int(edge_index.min())}..{int(edge_index.max())}",
            f"must lie in 0..{num_nodes - 1}",
        )
    existing = undirected_pairs(edge_index)
    wanted = round(fraction * len(existing))
    free = num_nodes * (num_nodes - 1) // 2 - len(existing)
    if wanted > free:
        raise ConfigValueError(
            "noise",
            fraction,
            f"asks for {wanted} new edges but only {free} node pairs are not yet joined",
        )
    gen = torch.Generator().manual_seed(seed)
    new: set[tuple[int, int]] = set()
    while len(new) < wanted:
        cand = torch.randint(0, num_nodes, (2, 2 * (wanted - len(new)) + 16), generator=gen)
        for a, b in zip(*cand.tolist(), strict=True):
            pair = (min(a, b), max(a, b))
            if a != b and pair not in existing and pair not in new:
                new.add(pair)
                if len(new) == wanted:
                    break
    if not new:
        return edge_index
    added = torch.tensor(sorted(new), dtype=edge_index.dtype).t()
    return torch.cat([edge_index, added, added.flip(0)], dim=1)


class GraphDataModule(DataModule, ABC):
    """One graph served whole, the same batch for train/val/test (masks pick the nodes)."""

    test_split_names = ("test",)

    def __init__(self, noise: float = 0.0, noise_seed: int = 0) -> None:
        super().__init__()
        if noise < 0:
            raise ConfigValueError("noise", noise, "must be >= 0 (a fraction of the edge count)")
        self.noise, self.noise_seed = noise, noise_seed
        self.graph: Data | None = None

    @abstractmethod
    def load(self) -> Data:
        """Build or read the graph (before noise is added)."""

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        graph = self.load()
        if self.noise:
            graph.edge_index = add_random_edges(
                graph.edge_index, graph.num_nodes, self.noise, self.noise_seed
            )
        self.graph = graph

    def model_kwargs(self) -> dict[str, int]:
        """The net's input width and number of classes."""
        self.prepare_data()
        self.setup()
        return {"in_channels": self.graph.num_features, "num_classes": int(self.graph.y.max()) + 1}

    def planned_model_kwargs(self) -> dict[str, int]:
        """Stand-in sizes: the graph is not read to plan a study."""
        return {"in_channels": 1, "num_classes": 2}

    def _loader(self) -> DataLoader:
        return DataLoader([self.graph], batch_size=None, collate_fn=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        return self._loader()


RAW_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def read_planetoid(raw: Path, name: str) -> Data:
    """A Planetoid graph on its public split, built from the raw `ind.<name>.*` files as
    torch-geometric's Planetoid builds it, but read with the restricted unpickler (the raw
    files are pickles) and never cached: nothing from a file can run code, and no processed
    file is left for a later job to trust."""
    prefix = name.lower()

    def matrix(part: str) -> torch.Tensor:
        path = raw / f"ind.{prefix}.{part}"
        obj = load_data_pickle(path, "data_dir", NUMPY | SPARSE)
        try:
            return torch.from_numpy(np.asarray(obj.todense() if hasattr(obj, "todense") else obj))
        except (AttributeError, TypeError) as err:
            raise ConfigValueError("data_dir", str(path), f"holds no matrix ({err})") from None

    x, tx, allx, y, ty, ally = (matrix(part).float() for part in RAW_PARTS[:6])
    graph = load_data_pickle(raw / f"ind.{prefix}.graph", "data_dir", NEIGHBOURS)
    test_index = read_txt_array(str(raw / f"ind.{prefix}.test.index"), dtype=torch.long)
    in_order = test_index.sort().values
    if prefix == "citeseer":  # isolated test nodes have no row in tx, ty: zeros stand in
        rows = in_order - test_index.min()
        span = int(test_index.max() - test_index.min()) + 1
        tx = tx.new_zeros(span, tx.size(1)).index_copy_(0, rows, tx)
        ty = ty.new_zeros(span, ty.size(1)).index_copy_(0, rows, ty)
    features = torch.cat([allx, tx])
    features[test_index] = features[in_order].clone()
    labels = torch.cat([ally, ty]).argmax(dim=1)
    labels[test_index] = labels[in_order].clone()
    n = labels.numel()
    mask = partial(index_to_mask, size=n)
    return Data(
        x=features,
        edge_index=edge_index_from_dict(graph, num_nodes=n),
        y=labels,
        train_mask=mask(torch.arange(y.size(0))),
        val_mask=mask(torch.arange(y.size(0), y.size(0) + 500)),
        test_mask=mask(test_index),
    )


class PlanetoidDataModule(GraphDataModule):
    """A Planetoid graph (Cora, CiteSeer, PubMed; its raw files downloaded into
    `data_dir/planetoid/<name>/raw` on first use), the public split (140/500/1000 nodes for
    Cora), features row-normalised by default."""

    def __init__(
        self,
        data_dir: str = "data",
        name: str = "Cora",
        normalize_features: bool = True,
        noise: float = 0.0,
        noise_seed: int = 0,
    ) -> None:
        super().__init__(noise, noise_seed)
        check_choice("name", name, PLANETOIDS)
        self.data_dir, self.name, self.normalize = data_dir, name, normalize_features

    @property
    def raw(self) -> Path:
        return Path(self.data_dir) / "planetoid" / self.name / "raw"

    def prepare_data(self) -> None:
        """Download the raw files that are missing (torch-geometric's source and copy); jobs
        started together (joblib's workers) take turns, so none reads a half-written file."""
        from torch_geometric.datasets import Planetoid
        from torch_geometric.io import fs

        files = [f"ind.{self.name.lower()}.{part}" for part in RAW_PARTS]
        with exclusive(self.raw.parent.parent / f".{self.name}.lock"):
            for file in files:
                if (self.raw / file).is_file():
                    continue
                self.raw.mkdir(parents=True, exist_ok=True)
                try:
                    fs.cp(f"{Planetoid.url}/{file}", str(self.raw))
                except OSError as err:  # no network (urllib's URLError, a timeout, ...)
                    (self.raw / file).unlink(missing_ok=True)
                    raise ConfigValueError(
                        "data_dir",
                        self.data_dir,
                        f"has no {self.name} raw files in {self.raw} and downloading them "
                        f"failed ({err}); copy ind.{self.name.lower()}.* (x, tx, allx, y, ty, "
                        "ally, graph, test.index) from the Planetoid data into "
                        f"{self.raw}, or point paths.data_dir at a folder with "
                        f"planetoid/{self.name}/raw/",
                    ) from None

    def load(self) -> Data:
        from torch_geometric.transforms import NormalizeFeatures

        self.prepare_data()
        try:
            graph = read_planetoid(self.raw, self.name)
        except ConfigValueError:
            raise
        except (ValueError, IndexError, RuntimeError) as err:
            raise ConfigValueError(
                "data_dir",
                self.data_dir,
                f"holds Planetoid files under {self.raw} that do not make a graph "
                f"({type(err).__name__}: {err}); delete them to download them again, or "
                "copy them anew",
            ) from None
        return NormalizeFeatures()(graph) if self.normalize else graph


class SyntheticGraphDataModule(GraphDataModule):
    """A small homophilous graph from a stochastic block model (torch_geometric's
    `stochastic_blockmodel_graph`): `num_classes` equal blocks, edge probability `p_in` within
    a block and `p_out` across; features are Gaussian noise plus `signal` on the channel of the
    node's class. A seeded random train/val/test split. For tests and quick checks."""

    def __init__(
        self,
        num_nodes: int = 200,
        num_classes: int = 3,
        num_channels: int = 16,
        p_in: float = 0.1,
        p_out: float = 0.01,
        signal: float = 1.0,
        seed: int = 0,
        n_train: int = 60,
        n_val: int = 40,
        noise: float = 0.0,
        noise_seed: int = 0,
    ) -> None:
        super().__init__(noise, noise_seed)
        for key, value in (
            ("num_nodes", num_nodes),
            ("num_channels", num_channels),
            ("num_classes", num_classes),
            ("n_train", n_train),
            ("n_val", n_val),
        ):
            check_positive(key, value)
        if num_channels < num_classes:
            raise ConfigValueError(
                "num_channels", num_channels, f"must be >= num_classes={num_classes}"
            )
        if n_train + n_val >= num_nodes:
            raise ConfigValueError(
                "n_train",
                n_train,
                f"n_train + n_val must leave test nodes among num_nodes={num_nodes}",
            )
        for key, value in (("p_in", p_in), ("p_out", p_out)):
            if not 0.0 <= value <= 1.0:
                raise ConfigValueError(key, value, "must be a probability in [0, 1]")
        self.kw = dict(
            num_nodes=num_nodes,
            num_classes=num_classes,
            num_channels=num_channels,
            p_in=p_in,
            p_out=p_out,
            signal=signal,
            seed=seed,
            n_train=n_train,
            n_val=n_val,
        )

    def load(self) -> Data:
        from torch_geometric.utils import stochastic_blockmodel_graph

        kw = self.kw
        n, k = kw["num_nodes"], kw["num_classes"]
        sizes = [n // k + (i < n % k) for i in range(k)]
        probs = torch.full((k, k), kw["p_out"])
        probs.fill_diagonal_(kw["p_in"])
        with torch.random.fork_rng():
            torch.manual_seed(kw["seed"])
            edge_index = stochastic_blockmodel_graph(sizes, probs, directed=False)
            y = torch.repeat_interleave(torch.arange(k), torch.tensor(sizes))
            x = torch.randn(n, kw["num_channels"])
            x[torch.arange(n), y] += kw["signal"]
            order = torch.randperm(n)
        masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
        masks[0][order[: kw["n_train"]]] = True
        masks[1][order[kw["n_train"] : kw["n_train"] + kw["n_val"]]] = True
        masks[2][order[kw["n_train"] + kw["n_val"] :]] = True
        return Data(
            x=x,
            edge_index=edge_index,
            y=y,
            train_mask=masks[0],
            val_mask=masks[1],
            test_mask=masks[2],
        )
