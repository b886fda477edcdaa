"""Every option of every config group composes, as train.py would compose it, and passes the
checks a job runs before training (its datamodule and net built too, for model and data
options): the options are read from conf/, so a new model, dataset or experiment is covered
without a list to extend (docs/extending.md)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra.utils import get_object
from omegaconf import DictConfig

from dl2.compat import config_child
from dl2.config.instantiate import check_constructors
from dl2.config.preflight import check_values
from tests.conf_tree import GROUPS, chosen, options, target
from tests.harness import compose_cfg

# what tells whether two options of a group belong to one experiment
SAME_KIND = {
    "model": lambda o: target("model", o, ("task", "_target_")),  # the task that trains it
    "data": lambda o: (target("data", o, ("_target_",)) or "").rpartition(".")[0],  # its module
}


def experiments_for(group: str, option: str) -> list[str]:
    """The experiments to compose an option with, likeliest first: those that choose it, those
    whose choice of the group is of the same kind (same task, same data module), those whose
    name starts the option's (`gnn_optuna`), then the rest."""
    experiments = options("experiment")
    if group == "experiment":
        return [option]
    kind = SAME_KIND.get(group, lambda o: o)
    ranked = sorted(
        experiments,
        key=lambda e: (
            chosen(e).get(group) != option,
            group not in chosen(e) or kind(chosen(e)[group]) != kind(option),
            not option.startswith(f"{e}_"),
        ),
    )
    return ranked


HYDRA_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


def unknown_arguments(node: object, where: str = "") -> list[str]:
    """Keys of the `_target_` nodes under `node` that their callable does not take (a typo
    Lightning or a net would refuse only when the job builds it)."""
    if not isinstance(node, DictConfig):
        return []
    out = []
    if "_target_" in node:
        params = inspect.signature(get_object(node._target_)).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            out += [f"{where}{k}" for k in node if k not in params and k not in HYDRA_KEYS]
    for key in node:
        out += unknown_arguments(config_child(node, key)[0], f"{where}{key}.")
    return out


def composed(tmp_path: Path, group: str, option: str) -> tuple[str, Exception | None]:
    """The first experiment the option composes with and passes a job's checks in (and, for
    model, data and experiment options, builds its datamodule and net); else the likeliest
    experiment's error."""
    first = None
    for experiment in experiments_for(group, option):
        try:
            cfg = compose_cfg(tmp_path, [f"experiment={experiment}", f"{group}={option}"])
            check_values(cfg)
            if unknown := unknown_arguments(cfg):
                raise TypeError(f"arguments their targets do not take: {', '.join(unknown)}")
            if group in ("model", "data", "experiment"):
                check_constructors(cfg)
        except Exception as err:  # the next experiment may be the option's own
            first = first or err
            continue
        return experiment, None
    return "", first


CASES = [(group, option) for group in GROUPS for option in options(group)]


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_option_of_every_group_composes_and_passes_a_jobs_checks(tmp_path, group, option):
    experiment, error = composed(tmp_path, group, option)
    if error is not None:
        raise error


def test_the_options_are_read_from_conf(tmp_path):
    """The cases follow conf/: each group's files, and the experiment each option belongs to
    is found, its own first."""
    assert {"model=gopher-44m", "model=gpt2", "trainer=mps", "data=sbm_graph"} <= {
        f"{g}={o}" for g, o in CASES
    }
    assert experiments_for("model", "gpt2")[0] == "gpt"
    assert experiments_for("data", "sbm_graph")[0] == "gnn"
    assert experiments_for("hparams_search", "gpt_optuna")[0] == "gpt"
    assert composed(tmp_path, "model", "gopher-44m") == ("gpt", None)


def test_a_model_that_breaks_its_constructor_fails_here(tmp_path):
    """What the composing test would catch in a new model config: a value only its net
    refuses."""
    cfg = compose_cfg(tmp_path, ["experiment=gpt", "model=gpt-nano", "model.n_head=5"])
    check_values(cfg)
    with pytest.raises(Exception, match="n_head|n_embd"):
        check_constructors(cfg)
