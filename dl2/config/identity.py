"""What identifies a job: a hash of the config that decides its result.

Two jobs with the same `config_hash` compute the same numbers (same command, same seed, same
numbers on a CPU), wherever their files go and whatever they log to; a study's runner skips a
job whose hash already has a completed result. `setting_hash` is the same without the seed: the
jobs of one setting across seeds share it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dl2.compat import config_child

# top-level keys that say where and how a job runs, not what it computes
PLUMBING = (
    "paths",
    "logger",
    "hydra",
    "torch_threads",
    "ckpt_path",
    "resume_changed",
    "optimized_metric",
    "tags",
    "notes",
    "verbose",
    "cluster",
    "extras",
)
# leaves that only follow the plumbing: output folders, data folders, the terminal
PLUMBING_REF = re.compile(r"\$\{(paths\.|hydra:|dl2\.interactive|dl2\.run_)")
# leaves that say where data comes from, not what it is (a local CIFAR-10 copy, no checksums)
PLUMBING_LEAVES = ("data.data_dir", "data.download", "data.verify")


# overrides whose values are paths: left out of folder names and W&B names and groups
PATH_KEYS = ("data.path", "data.data_dir", "ckpt_path", "paths")
# overrides that describe a run rather than set it up: left out of W&B names and groups too
NOTE_KEYS = ("tags", "notes", "verbose")
# the override keys Hydra leaves out of a job folder's name (its `exclude_keys` match whole
# keys, conf/hydra/default.yaml takes them from here): the path-valued keys and every
# plumbing key a command line sets (a test checks both ways against PLUMBING)
FOLDER_NAME_EXCLUDES = (
    "data.path",
    "data.data_dir",
    "data.download",
    "data.verify",
    "paths.root_dir",
    "paths.data_dir",
    "paths.log_dir",
    "ckpt_path",
    "resume_changed",
    "torch_threads",
    "optimized_metric",
    "launcher",
    "logger",
    "tags",
    "notes",
    "verbose",
    "hydra.launcher.n_jobs",
    "extras.print_config",
    "extras.ignore_warnings",
    "extras.enforce_tags",
    "cluster.partition",
    "cluster.account",
    "cluster.qos",
)


def override_key(override: str) -> str:
    """The key a command-line override sets: `model.pad` of `+model.pad=zeros`."""
    return override.split("=", 1)[0].lstrip("+~")


def override_value(override: str) -> str:
    """The value text a command-line override sets: `zeros` of `model.pad=zeros`."""
    return override.partition("=")[2]


def parse_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """{key: value text} of command-line overrides (`+`/`~` prefixes dropped)."""
    return {override_key(o): override_value(o) for o in overrides}


def top_key(override: str) -> str:
    """The top-level config key (or group) an override sets: `model` of `model.pad=zeros`."""
    return override_key(override).split(".", 1)[0]


# the config group that chooses how a multirun's jobs are launched (no key of a job's config)
LAUNCHER = "launcher"


def is_plumbing(override: str) -> bool:
    """Whether a command-line override only changes where or how a job runs."""
    return top_key(override) in (*PLUMBING, LAUNCHER) or override_key(override) in PLUMBING_LEAVES


def result_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without plumbing: the top-level PLUMBING keys, PLUMBING_LEAVES, and
    every leaf whose value interpolates them (`${paths.output_dir}/checkpoints`, ...)."""
    return _walk(cfg, top=True)


def _walk(node: DictConfig, top: bool = False, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in node:
        if (top and key in PLUMBING) or f"{prefix}{key}" in PLUMBING_LEAVES:
            continue
        child, raw = config_child(node, key)
        if isinstance(raw, str) and PLUMBING_REF.search(raw):
            continue
        if isinstance(child, DictConfig):
            out[str(key)] = _walk(child, prefix=f"{prefix}{key}.")
        elif isinstance(child, ListConfig):
            out[str(key)] = OmegaConf.to_container(child, resolve=True)
        else:
            out[str(key)] = node[key]
    return out


def digest(data: Any) -> str:
    """A short, stable hash of JSON-able data (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_hash_of(cfg: DictConfig) -> str:
    """The job's hash: what `job_hashes` calls `config_hash`, without the setting's."""
    return digest(result_config(cfg))


def job_hashes(cfg: DictConfig) -> dict[str, str]:
    """{"config_hash": the job, "setting_hash": the job without its seed}. The setting is
    resolved with the seed unset, so that keys following the seed (`data.noise_seed:
    ${seed}`) do not tell the seeds of one setting apart."""
    unseeded = copy.deepcopy(cfg)
    unseeded.seed = None
    setting = {k: v for k, v in result_config(unseeded).items() if k != "seed"}
    return {"config_hash": config_hash_of(cfg), "setting_hash": digest(setting)}


def experiment_of(cfg: DictConfig) -> dict[str, str]:
    """What kind of job `cfg` runs: its task name and the classes of its net and data (what a
    checkpoint must match to be resumed or evaluated by it)."""
    return {
        "task_name": str(cfg.get("task_name")),
        "net": str(OmegaConf.select(cfg, "model.net._target_")),
        "data": str(OmegaConf.select(cfg, "data._target_")),
    }


def describe_experiment(record: dict[str, Any]) -> str:
    """`task padding (net dl2.nets.cnn.BoxCNN, data dl2.data.boxes.BoxDataModule)`."""
    return f"task {record.get('task_name')} (net {record.get('net')}, data {record.get('data')})"
