"""Typed schemas for the top-level keys of train.py and dl2.generate (OmegaConf structured
configs in Hydra's ConfigStore). Hydra checks every value against them while composing, so
`seed=1.5` or `test=maybe` fails before any work with the key, the value and the type."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# OmegaConf reads these annotations at run time: Optional[...] rather than `X | None`, which it
# cannot parse on Python 3.10.


@dataclass
class ClusterSchema:
    """`cluster`: the SLURM cluster launcher=slurm submits to (conf/local/default.yaml)."""

    partition: Optional[str] = None  # noqa: UP045
    account: Optional[str] = None  # noqa: UP045
    qos: Optional[str] = None  # noqa: UP045


@dataclass
class PathsSchema:
    """`paths`: where dl2 reads data and writes runs (conf/paths/default.yaml)."""

    root_dir: str = MISSING
    data_dir: str = MISSING
    log_dir: str = MISSING
    output_dir: Optional[str] = MISSING  # noqa: UP045  (Hydra's, unset for `--cfg job`)


@dataclass
class TrainSchema:
    """conf/train.yaml: the keys above the config groups."""

    task_name: str = MISSING
    seed: Optional[int] = 0  # noqa: UP045
    test: bool = True
    ckpt_path: Optional[str] = None  # noqa: UP045
    resume_changed: bool = False
    torch_threads: Optional[int] = None  # noqa: UP045
    optimized_metric: Optional[str] = None  # noqa: UP045
    max_loss: Optional[float] = None  # noqa: UP045
    tags: list[str] = field(default_factory=list)
    notes: Optional[str] = None  # noqa: UP045
    verbose: bool = False
    data: Any = MISSING
    model: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = None
    logger: Any = None
    paths: PathsSchema = field(default_factory=PathsSchema)
    cluster: ClusterSchema = field(default_factory=ClusterSchema)
    extras: Any = None  # print_config, ignore_warnings, enforce_tags (dl2/run/extras.py)


@dataclass
class GenerateSchema:
    """conf/generate.yaml: every key of `python -m dl2.generate`."""

    ckpt_path: str = MISSING
    prompt: str = "There was once"
    length: int = 300
    num_samples: int = 1
    greedy: bool = False
    temperature: float = 0.8
    top_k: Optional[int] = None  # noqa: UP045
    top_p: Optional[float] = None  # noqa: UP045
    seed: int = 0
    device: str = "auto"
    use_cache: bool = True


def train_keys() -> frozenset[str]:
    """The top-level keys a train.py config may have (eval.py's adds none)."""
    return frozenset(f.name for f in fields(TrainSchema))


def register_schemas() -> None:
    """Store the schemas as `train_schema` and `generate_schema` (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainSchema)
    store.store(name="generate_schema", node=GenerateSchema)
