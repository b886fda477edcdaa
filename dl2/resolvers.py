"""OmegaConf resolvers that dl2's configs use; registered once when dl2 is imported."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import OmegaConf


def _is_interactive() -> bool:
    return sys.stdout.isatty()


# overrides that change where or how a job runs, not what it learns: left out of W&B groups
PLUMBING_KEYS = ("seed", "parallel_seeds", "launcher", "logger", "torch_threads", "paths",
                 "hydra", "debug")
# the overrides of the job being set up, when they are not Hydra's (one seed of a
# `parallel_seeds` group names its W&B run as that seed's own job would)
_job_overrides: list[list[str]] = []


@contextmanager
def job_overrides_as(overrides: list[str]) -> Iterator[None]:
    """Resolve `dl2.run_name` / `dl2.run_group` from `overrides` inside the block."""
    _job_overrides.append(list(overrides))
    try:
        yield
    finally:
        _job_overrides.pop()


def _overrides(group: bool) -> str:
    """The job's command-line overrides joined by commas; for a W&B group (`group=True`) the
    seed and plumbing keys are left out, so the runs of one setting across seeds share it."""
    from hydra.core.hydra_config import HydraConfig

    if _job_overrides:
        items = list(_job_overrides[-1])
    elif HydraConfig.initialized():
        items = list(HydraConfig.get().overrides.task)
    else:
        return "default"
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
        # `top_p: ${dl2.unless_set:${top_k},0.9}`: 0.9 unless top_k is given
        "dl2.unless_set": lambda other, value: value if other is None else None,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
