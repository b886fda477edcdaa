"""OmegaConf resolvers that dl2's configs use; registered once when dl2 is imported."""

from __future__ import annotations

import hashlib
import sys

from omegaconf import OmegaConf


def _is_interactive() -> bool:
    return sys.stdout.isatty()


# overrides that change where or how a job runs, not what it learns: left out of W&B groups
PLUMBING_KEYS = ("seed", "launcher", "logger", "torch_threads", "paths", "hydra", "debug")


def _overrides(group: bool) -> str:
    """The job's command-line overrides joined by commas; for a W&B group (`group=True`) the
    seed and plumbing keys are left out, so the runs of one setting across seeds share it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "default"
    items = list(HydraConfig.get().overrides.task)
    if group:
        items = [o for o in items
                 if o.split("=", 1)[0].lstrip("+~").split(".", 1)[0] not in PLUMBING_KEYS]
    return ",".join(sorted(items)) or "default"


def job_dirname(overrides: str, max_len: int = 120) -> str:
    """A job folder name from its overrides: `/` replaced (no nested folders), and names longer
    than `max_len` cut and tagged with a hash of the whole, so that they stay unique and under
    the file system's 255-byte limit."""
    name = str(overrides).replace("/", "_")
    if len(name) <= max_len:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[:max_len - 11]}~{digest}"


def register_resolvers() -> None:
    """Register dl2's resolvers (idempotent)."""
    from dl2.nets.cnn import preset_pad

    resolvers = {
        "dl2.conv_pad": lambda conv_type: preset_pad(conv_type, "pad"),
        "dl2.conv_pad_size": lambda conv_type: preset_pad(conv_type, "pad_size"),
        "dl2.interactive": _is_interactive,
        "dl2.run_group": lambda: _overrides(group=True),
        "dl2.run_name": lambda: _overrides(group=False),
        "dl2.dirname": job_dirname,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
