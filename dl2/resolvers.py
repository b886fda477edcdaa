"""OmegaConf resolvers that dl2's configs use; registered once when dl2 is imported."""

from __future__ import annotations

import sys

from omegaconf import OmegaConf


def _is_interactive() -> bool:
    return sys.stdout.isatty()


def _overrides(drop_seed: bool) -> str:
    """The job's command-line overrides joined by commas (seed left out for the W&B group)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "default"
    items = [o for o in HydraConfig.get().overrides.task
             if not (drop_seed and o.split("=", 1)[0].lstrip("+~") == "seed")]
    return ",".join(sorted(items)) or "default"


def register_resolvers() -> None:
    """Register dl2's resolvers (idempotent)."""
    from dl2.nets.cnn import preset_pad

    resolvers = {
        "dl2.conv_pad": lambda conv_type: preset_pad(conv_type, "pad"),
        "dl2.conv_pad_size": lambda conv_type: preset_pad(conv_type, "pad_size"),
        "dl2.interactive": _is_interactive,
        "dl2.run_group": lambda: _overrides(drop_seed=True),
        "dl2.run_name": lambda: _overrides(drop_seed=False),
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
