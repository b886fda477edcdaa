"""Every `debug` option runs on every experiment (tiny data), as lightning-hydra-template's
debug configs do: Lightning rebuilds the dataloaders for some of them (`overfit_batches`), so a
loader it cannot rebuild fails here."""

import json
from pathlib import Path

import pytest

from dl2.run.job import train
from tests.conf_tree import base_experiments, data_target
from tests.harness import TINY_BOXES, compose_cfg, tiny_cifar_overrides, tiny_gpt_overrides

DEBUGS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "debug").glob("*.yaml")
)


def experiment(name: str, text_file: Path, cifar_root: Path) -> list[str]:
    """The experiment on tiny data, by the datamodule it trains on (conf/ says which): the
    box, text and CIFAR data the tests make, the synthetic graph for a graph experiment; an
    experiment on another datamodule runs as its config says."""
    data = data_target(name)
    if data == "dl2.data.boxes.BoxDataModule":
        tiny = list(TINY_BOXES)
    elif data.startswith("dl2.data.graphs."):
        tiny = ["data=sbm_graph"]
    elif data == "dl2.data.text.CharDataModule":
        tiny = [
            o for o in tiny_gpt_overrides(text_file, steps=20) if not o.startswith("callbacks.")
        ]
    elif data == "dl2.data.cifar.CIFAR10DataModule":
        tiny = tiny_cifar_overrides(cifar_root)
    else:
        tiny = []
    return [f"experiment={name}", *(o for o in tiny if not o.startswith("experiment="))]


def test_the_debug_options_are_known():
    assert DEBUGS == ["default", "fdr", "limit", "overfit", "profiler"]


# the options Lightning rebuilds loaders for, on every experiment; limit and profiler (both
# on top of default) have a test of their own below
CASES = [(d, n) for d in ("fdr", "overfit") for n in base_experiments()] + [("limit", "rotation")]


@pytest.mark.parametrize(("debug", "name"), CASES)
def test_every_debug_option_runs_on_every_experiment(tmp_path, text_file, cifar_root, name, debug):
    cfg = compose_cfg(
        tmp_path,
        [
            *experiment(name, text_file, cifar_root),
            f"debug={debug}",
            "trainer.max_epochs=2",
            "logger=none",
        ],
    )
    metrics = train(cfg)
    # a text's debug runs end with its validation (the tiny text has no test split)
    split = "val" if data_target(name) == "dl2.data.text.CharDataModule" else "test"
    assert any(k.startswith(split) for k in metrics), metrics  # test/..., test_rot30/...
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "completed"


def test_limit_runs_a_fraction_and_profiler_writes_its_report(tmp_path):
    boxes = [*TINY_BOXES, "data.n_train=400", "data.batch_size=20"]
    limited = compose_cfg(tmp_path, [*boxes, "debug=limit"], job="limit")
    train(limited)
    history = json.loads((Path(limited.paths.output_dir) / "results.json").read_text())
    assert history["config"]["task_name"] == "debug"
    assert [step for step, _ in history["history"]["val/loss"]][-1] == 2 * 10, (
        "10 of the 20 batches per epoch, 2 epochs (TINY_BOXES' max_epochs wins)"
    )
    profiled = compose_cfg(tmp_path, [*TINY_BOXES, "debug=profiler"], job="profiler")
    train(profiled)
    reports = list(Path(profiled.paths.output_dir).glob("*profile*.txt"))
    assert reports and "run_training_epoch" in reports[0].read_text()
