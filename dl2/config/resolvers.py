"""OmegaConf resolvers that dl2's configs use; registered once when dl2 is imported."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from dl2.config.identity import (
    FOLDER_NAME_EXCLUDES,
    LAUNCHER,
    NOTE_KEYS,
    PATH_KEYS,
    PLUMBING,
    is_plumbing,
    override_key,
    top_key,
)
from dl2.paths import ROOT

# set in the jobs of a launcher that runs several at once on this machine (joblib's workers,
# conf/launcher/joblib.yaml): they share the launching terminal, so none draws on it
WORKER_ENV = "DL2_JOB_WORKER"


def interactive() -> bool:
    """Whether this job draws on a terminal (progress bar, model summary): stdout is one and
    the job is not one of several workers sharing it, which print progress lines instead."""
    return sys.stdout.isatty() and not os.environ.get(WORKER_ENV)


# left out of W&B run names: where and how a job runs (threads, launcher, loggers), not what
NAME_LEAVES_OUT = (*PLUMBING, LAUNCHER)
# left out of W&B groups too: the seed (a group holds a setting's seeds) and debug options (a
# quick check of a setting belongs with it)
GROUP_LEAVES_OUT = (*NAME_LEAVES_OUT, "seed", "debug")
# how data reaches the job (loader processes: the same batches), left out of groups too
LOADING_KEYS = ("data.num_workers",)
# W&B's limit on run names and groups
WANDB_MAX_LEN = 128


def _overrides(group: bool) -> str:
    """The job's command-line overrides joined by commas, without path-valued ones and run
    descriptions (tags, notes); for a W&B group (`group=True`) the seed and plumbing keys are
    left out too, so the runs of one setting across seeds share it."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        items = list(HydraConfig.get().overrides.task)
    else:
        return "default"
    items = [
        o
        for o in items
        if not any(
            override_key(o) == k or override_key(o).startswith(f"{k}.")
            for k in (*PATH_KEYS, *NOTE_KEYS)
        )
    ]
    left_out = GROUP_LEAVES_OUT if group else NAME_LEAVES_OUT
    items = [o for o in items if top_key(o) not in left_out]
    if group:  # a setting: what its jobs compute, not where their data comes from or how
        items = [o for o in items if not is_plumbing(o) and override_key(o) not in LOADING_KEYS]
    # the config-group choices first (experiment=gpt, model=gpt-nano): what a cut name keeps
    return ",".join(sorted(items, key=lambda o: ("." in override_key(o), o))) or "default"


def sweep_stamp() -> str | None:
    """The folder stamp of the multirun this job belongs to (`2026-11-30_02-44-08-493613`), or
    None outside a multirun: two launches of the same sweep get different W&B groups."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return Path(hydra_cfg.sweep.dir).name


def wandb_name() -> str:
    """A W&B run name: the job's overrides, at most 128 characters."""
    return job_dirname(_overrides(group=False), max_len=WANDB_MAX_LEN)


def wandb_group(task_name: str) -> str:
    """A W&B group: `task/setting` (the overrides without seed and plumbing), with the sweep's
    stamp in a multirun (`task/setting@stamp`), at most 128 characters."""
    stamp = sweep_stamp()
    suffix = f"@{stamp}" if stamp else ""
    head = f"{task_name}/"
    room = WANDB_MAX_LEN - len(head) - len(suffix)
    return head + job_dirname(_overrides(group=True), max_len=room) + suffix


def run_tags(_root_: DictConfig) -> ListConfig:
    """W&B tags: the task name, then the user's `tags` (a ListConfig: a plain list cannot be
    resolved in place, which `train.py --cfg job --resolve` does)."""
    tags = [str(_root_.task_name)]
    return OmegaConf.create(
        tags + [str(t) for t in (_root_.get("tags") or []) if str(t) not in tags]
    )


def job_dirname(overrides: str, max_len: int = 120) -> str:
    """A job folder name from its overrides: `/` replaced (no nested folders), and names longer
    than `max_len` cut and tagged with a hash of the whole, so that they stay unique and under
    the file system's 255-byte limit."""
    name = str(overrides).replace("/", "_")
    if len(name) <= max_len:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: max_len - 11]}~{digest}"


def conv_preset(conv_type: str | None, what: str) -> str | int:
    """A conv type's padding mode or size (dl2/nets/cnn.py), the nets imported only when a
    config asks: `import dl2` (and so planning a study) loads no net."""
    from dl2.nets.cnn import preset_pad

    return preset_pad(conv_type, what)


def register_resolvers() -> None:
    """Register dl2's resolvers (idempotent)."""
    resolvers = {
        "dl2.conv_pad": lambda conv_type: conv_preset(conv_type, "pad"),
        "dl2.conv_pad_size": lambda conv_type: conv_preset(conv_type, "pad_size"),
        "dl2.interactive": interactive,
        "dl2.run_name": wandb_name,
        "dl2.run_group": wandb_group,
        "dl2.run_tags": run_tags,
        "dl2.dirname": job_dirname,
        # Hydra's exclude_keys for job folder names (conf/hydra/default.yaml): one list
        "dl2.folder_name_excludes": lambda: ListConfig(list(FOLDER_NAME_EXCLUDES)),
        # the project folder (dl2/paths.py: ROOT), so that logs land there from any cwd
        "dl2.root": lambda: str(ROOT),
        # `top_p: ${dl2.unless_set:${top_k},0.9}`: 0.9 unless top_k is given
        "dl2.unless_set": lambda other, value: value if other is None else None,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
