"""Node classification data: Planetoid citation graphs (Cora, CiteSeer, PubMed) on their
standard public split, a small synthetic graph for tests, and seeded random-edge noise."""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from dl2.data.base import DataModule
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

    def _loader(self) -> DataLoader:
        return DataLoader([self.graph], batch_size=None, collate_fn=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        return self._loader()


class PlanetoidDataModule(GraphDataModule):
    """torch_geometric's Planetoid (downloaded into `data_dir/<name>` on first use), the public
    split (140/500/1000 nodes for Cora), features row-normalised by default."""

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

    def _dataset(self):
        from torch_geometric.datasets import Planetoid
        from torch_geometric.transforms import NormalizeFeatures

        root = Path(self.data_dir) / "planetoid"
        # the first job to read a graph writes its processed/ files: jobs started together
        # (joblib's workers) take turns, so none reads a file another is still writing
        with exclusive(root / f".{self.name}.lock"):
            return Planetoid(
                str(root),
                self.name,
                split="public",
                transform=NormalizeFeatures() if self.normalize else None,
            )

    def prepare_data(self) -> None:
        self._dataset_or_message()

    def load(self) -> Data:
        return self._dataset_or_message()[0]

    def _dataset_or_message(self):
        """The dataset; a raw file that cannot be read fails naming that file."""
        try:
            return self._dataset()
        except (EOFError, pickle.UnpicklingError, ValueError, IndexError, RuntimeError) as err:
            raise ConfigValueError("data_dir", self.data_dir, self._corrupt(err)) from None
        except OSError as err:  # no network (urllib's URLError, a timeout, ...)
            raw = Path(self.data_dir) / "planetoid" / self.name / "raw"
            raise ConfigValueError(
                "data_dir",
                self.data_dir,
                f"has no {self.name} raw files in {raw} and downloading them failed ({err}); "
                f"copy ind.{self.name.lower()}.* (x, tx, allx, y, ty, ally, graph, test.index)"
                f" from the Planetoid data into {raw}, or point paths.data_dir at a folder "
                f"with planetoid/{self.name}/raw/",
            ) from None

    def _corrupt(self, err: Exception) -> str:
        """Which raw file is unreadable (PyG reads them in this order), for the message."""
        from torch_geometric.io.planetoid import read_file

        raw = Path(self.data_dir) / "planetoid" / self.name / "raw"
        for part in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"):
            try:
                read_file(str(raw), self.name.lower(), part)
            except Exception as part_err:  # noqa: BLE001  (any failure names the file)
                return (
                    f"holds an unreadable Planetoid file {raw}/ind.{self.name.lower()}."
                    f"{part} ({type(part_err).__name__}: {part_err}); delete it to "
                    "download it again, or copy it anew"
                )
        return f"holds Planetoid files under {raw} that PyG cannot read ({err})"


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
