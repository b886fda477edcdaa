"""`extras`: conveniences around a job that lightning-hydra-template users reach for (printing
the composed config as a tree, silencing warnings, insisting on tags in a multirun). None
changes what a job computes."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dl2.errors import ConfigValueError
from dl2.files import atomic_write_text

TREE_FILE = "config_tree.log"
# the groups first, in the order a reader looks for them; the keys above them after
ORDER = ("data", "model", "trainer", "callbacks", "logger", "paths", "extras")


def apply_extras(cfg: DictConfig) -> None:
    """What `cfg.extras` asks for, before anything is built."""
    extras = cfg.get("extras") or {}
    if extras.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if extras.get("enforce_tags") and not cfg.get("tags") and _multirun():
        raise ConfigValueError(
            "tags",
            [],
            "a multirun with extras.enforce_tags=true needs "
            "tags, e.g. tags=[baseline] (or extras.enforce_tags=false)",
        )
    if extras.get("print_config"):
        text = config_tree(cfg)
        print(text)
        if OmegaConf.select(cfg, "paths.output_dir"):
            atomic_write_text(Path(cfg.paths.output_dir) / TREE_FILE, text + "\n")


def _multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def config_tree(cfg: DictConfig) -> str:
    """The composed config as a tree (resolved where it can be), one branch per top key."""
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.tree import Tree

    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException:  # an interpolation only Hydra's job resolves
        data = OmegaConf.to_container(cfg)
    tree = Tree("config")
    for key in [k for k in ORDER if k in data] + [k for k in data if k not in ORDER]:
        text = OmegaConf.to_yaml(OmegaConf.create({key: data[key]}))
        tree.add(Syntax(text.rstrip("\n"), "yaml", theme="ansi_dark"))
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(tree)
    return buffer.getvalue().rstrip("\n")
