"""Building a config node's object with Hydra's `instantiate`, a constructor's bad value named
by the key the user sets; and a setting's datamodule and net built only to run their
constructors' checks (what a study does to every setting it is about to launch)."""

from __future__ import annotations

import re
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dl2.compat import config_child
from dl2.errors import ConfigValueError


def _source_key(node: DictConfig, key: str, prefix: str) -> str:
    """The key the user sets: `model.pad` rather than `model.net.pad` when the latter is
    `${model.pad}`."""
    head = key.split(".", 1)[0]
    raw = config_child(node, head)[1] if isinstance(node, DictConfig) and head in node else None
    match = re.fullmatch(r"\$\{([\w.]+)\}", raw) if isinstance(raw, str) else None
    return match.group(1) if match and "." in match.group(1) else f"{prefix}.{key}"


def build(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate `cfg[key]` (a dotted path); a ConfigValueError from the constructor is
    re-raised naming the config key to change, before anything is trained."""
    node = OmegaConf.select(cfg, key)
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if not isinstance(cause, ConfigValueError):
            raise
        bad = cause
    except ConfigValueError as err:
        bad = err
    raise ConfigValueError(_source_key(node, bad.key, key), bad.value, bad.allowed) from None


def check_constructors(cfg: DictConfig) -> None:
    """Build the setting's datamodule (its constructor reads no data) and its net on torch's
    meta device (no memory), told the data's sizes by the datamodule's `planned_model_kwargs`
    (stand-ins where the real sizes need the data read): the values only a constructor checks
    (`model.pad=mirror`, `data.batch_size=0`) fail here, named, instead of in every job."""
    import torch  # a plan with no job to run never gets here: planning stays light

    datamodule = build(cfg, "data")
    planned = getattr(datamodule, "planned_model_kwargs", dict)
    try:
        sizes = planned()
    except ConfigValueError as err:
        raise err.under("data") from None
    with torch.random.fork_rng(devices=[]), torch.device("meta"):  # the caller's draws intact
        build(cfg, "model.net", **sizes)
