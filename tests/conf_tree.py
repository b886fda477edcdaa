"""What conf/ holds, read as YAML without Hydra (cheap enough for test collection): each
group's options, the options an experiment chooses, the experiments that stand alone. Tests
enumerate these rather than lists of their own, so a new model, dataset or experiment is
covered without an edit here."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from tests.harness import ROOT

CONF = ROOT / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "local")


def options(group: str) -> list[str]:
    """A group's options: its YAML files' names."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@cache
def raw(group: str, option: str) -> dict:
    """An option's file as written (its defaults list unresolved)."""
    return yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}


def defaults(path: Path) -> dict[str, str]:
    """The group options a defaults list chooses (`- model: net1`, `- override /model: gcn`)."""
    items = (yaml.safe_load(path.read_text()) or {}).get("defaults", [])
    return {
        k.removeprefix("override /"): v
        for item in items
        if isinstance(item, dict)
        for k, v in item.items()
        if isinstance(v, str)
    }


def chosen(experiment: str) -> dict[str, str]:
    """The group options an experiment runs with: train.yaml's, then its base experiment's
    (gpt_cpu extends gpt), then its own (`override /model: gcn`)."""
    out = defaults(CONF / "train.yaml")
    for item in raw("experiment", experiment).get("defaults", []):
        if isinstance(item, str) and item != "_self_":
            out.update(chosen(item))  # an experiment extending another (gpt_cpu: gpt)
    return out | defaults(CONF / "experiment" / f"{experiment}.yaml")


def target(group: str, option: str, path: tuple[str, ...]) -> str | None:
    """The `_target_` at `path` of an option, through the options its defaults extend."""
    node = raw(group, option)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, str):
        return node
    for item in raw(group, option).get("defaults", []):
        if isinstance(item, str) and item != "_self_" and (found := target(group, item, path)):
            return found
    return None


def base_experiments() -> list[str]:
    """The experiments that do not extend another (gpt_cpu is gpt on a CPU's sizes)."""
    return [
        e
        for e in options("experiment")
        if not any(
            isinstance(item, str) and item != "_self_"
            for item in raw("experiment", e).get("defaults", [])
        )
    ]


def data_target(experiment: str) -> str:
    """The datamodule class an experiment trains on (`dl2.data.boxes.BoxesDataModule`)."""
    return target("data", chosen(experiment)["data"], ("_target_",)) or ""
