"""What conf/ holds, read as YAML without Hydra (cheap enough for test collection): each
group's options, the options an experiment chooses, the experiments that stand alone. Tests
enumerate these rather than lists of their own, so a new model, dataset or experiment is
covered without an edit here."""

from __future__ import annotations

from functools import cache

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


def extended(node: dict) -> list[str]:
    """The options of its own group a file's defaults list extends (`- gpt`, `- default`)."""
    return [i for i in node.get("defaults", []) if isinstance(i, str) and i != "_self_"]


def choices(node: dict) -> dict[str, str]:
    """The group options a defaults list chooses (`- model: net1`, `- override /model: gcn`)."""
    return {
        k.removeprefix("override /"): v
        for item in node.get("defaults", [])
        if isinstance(item, dict)
        for k, v in item.items()
        if isinstance(v, str)
    }


@cache
def train_yaml() -> dict:
    """conf/train.yaml as written."""
    return yaml.safe_load((CONF / "train.yaml").read_text())


def chosen(experiment: str) -> dict[str, str]:
    """The group options an experiment runs with: train.yaml's, then its base experiment's
    (gpt_cpu extends gpt), then its own (`override /model: gcn`)."""
    out = choices(train_yaml())
    for base in extended(raw("experiment", experiment)):
        out.update(chosen(base))  # an experiment extending another (gpt_cpu: gpt)
    return out | choices(raw("experiment", experiment))


def target(group: str, option: str, path: tuple[str, ...]) -> str | None:
    """The `_target_` at `path` of an option, through the options its defaults extend."""
    node = raw(group, option)
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, str):
        return node
    for base in extended(raw(group, option)):
        if found := target(group, base, path):
            return found
    return None


def base_experiments() -> list[str]:
    """The experiments that do not extend another (gpt_cpu is gpt on a CPU's sizes)."""
    return [e for e in options("experiment") if not extended(raw("experiment", e))]


def data_target(experiment: str) -> str:
    """The datamodule class an experiment trains on (`dl2.data.boxes.BoxDataModule`)."""
    return target("data", chosen(experiment)["data"], ("_target_",)) or ""
