"""A checkpoint is resumed or evaluated with the config it was trained with.

Lightning restores the weights and the optimizer's state from a checkpoint whatever the config
says: resumed with another learning rate, the optimizer keeps the checkpoint's; with another
padding the job is stored as a job it is not; with another net the weights do not load. So the
run's identity (dl2/config/identity.py) is compared with the one recorded in the results.json
beside the checkpoint, before anything is built:

- a resume may extend the training budget (`trainer.max_epochs`, `trainer.max_steps`); any
  other change is refused naming the keys, unless `resume_changed=true` says it is meant
  (results.json then records both hashes). The optimizer's settings cannot change even so:
  its state, learning rate included, comes from the checkpoint.
- an evaluation (eval.py) may score the weights on other data, but the model must be theirs.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from dl2.config.identity import config_hash_of, result_config
from dl2.errors import ConfigValueError
from dl2.job_folder import checkpoint_results

# what a resume may change: it trains on, to a new budget
BUDGET = ("trainer.max_epochs", "trainer.max_steps")
# what no resume can change: Lightning restores the optimizer's state from the checkpoint
OPTIMIZER = "model.task.optimizer."
ABSENT = "(absent)"


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.c": leaf} of nested dicts (lists are leaves)."""
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return out


def config_changes(cfg: DictConfig, trained: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (trained value, this run's value)} of the identity keys that differ between this
    run's config and the resolved config a checkpoint's run recorded (`trained`). The keys
    are this run's identity, and the recorded keys this run's config lacks altogether."""
    ours = flatten(result_config(cfg))
    theirs = flatten(trained)
    everything = flatten(OmegaConf.to_container(cfg, resolve=False))
    keys = set(ours) | {k for k in theirs if k not in everything and k.split(".")[0] in ours}
    return {
        key: (theirs.get(key, ABSENT), ours.get(key, ABSENT))
        for key in sorted(keys)
        if theirs.get(key, ABSENT) != ours.get(key, ABSENT)
    }


def describe(changes: dict[str, tuple[Any, Any]]) -> str:
    """`model.pad (zeros -> reflect), data.n_train (400 -> 2000)`."""
    return ", ".join(f"{k} ({old} -> {new})" for k, (old, new) in changes.items())


def check_resume(cfg: DictConfig, fit: bool) -> dict[str, str]:
    """Refuse a resume (fit) or an evaluation whose config differs from the checkpoint's run
    as the module says; returns what results.json records of it: the trained run's hash when
    it differs from this run's (a longer budget, or `resume_changed=true`)."""
    ckpt = cfg.get("ckpt_path")
    record = checkpoint_results(ckpt) if ckpt else {}
    trained = record.get("config")
    if not isinstance(trained, dict):  # not a dl2 run's checkpoint: its experiment is checked
        return {}
    changes = config_changes(cfg, trained)
    if not fit:
        model = {
            k: v
            for k, v in changes.items()
            if k.startswith("model.") and not k.startswith("model.task.")
        }
        if model:
            raise ConfigValueError(
                "ckpt_path",
                str(ckpt),
                f"holds the weights of another model than this run's: {describe(model)}; "
                "leave out the model overrides (eval.py applies the training run's)",
            )
        return {}
    optimizer = {k: v for k, v in changes.items() if k.startswith(OPTIMIZER)}
    if optimizer:
        raise ConfigValueError(
            "ckpt_path",
            str(ckpt),
            f"was trained with other optimizer settings, {describe(optimizer)}, and a resume "
            "restores the optimizer's state (its learning rate too) from the checkpoint: "
            "resume with the trained settings, or start a new run",
        )
    other = {k: v for k, v in changes.items() if k not in BUDGET}
    if other and not cfg.get("resume_changed"):
        raise ConfigValueError(
            "ckpt_path",
            str(ckpt),
            f"was trained with another config: {describe(other)}; resume with the "
            "trained values (train.py applies the training run's overrides unless you give "
            "them), or add resume_changed=true to continue with these (results.json records "
            "both config hashes)",
        )
    earlier = record.get("config_hash")
    if isinstance(earlier, str) and earlier != config_hash_of(cfg):
        return {"resumed_from_config_hash": earlier}
    return {}
