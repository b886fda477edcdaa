"""Every `debug` option runs on every experiment (tiny data), as lightning-hydra-template's
debug configs do: Lightning rebuilds the dataloaders for some of them (`overfit_batches`), so a
loader it cannot rebuild fails here."""

import json
from pathlib import Path

import pytest

from dl2.run.job import train
from tests.harness import TINY_BOXES, compose_cfg, tiny_gpt_overrides

DEBUGS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "debug").glob(
    "*.yaml"))


def experiment(name: str, text_file: Path, cifar_root: Path) -> list[str]:
    """Tiny overrides for each experiment."""
    if name == "padding":
        return list(TINY_BOXES)
    if name == "gnn":
        return ["experiment=gnn", "data=sbm_graph"]
    if name == "gpt":
        return [o for o in tiny_gpt_overrides(text_file, steps=20)
                if not o.startswith("callbacks.")]
    return ["experiment=rotation", f"data.data_dir={cifar_root}", "data.download=false",
            "data.verify=false", "data.val_size=20", "data.num_workers=0",
            "data.batch_size=16", "data.angles=[0,90]"]


def test_the_debug_options_are_known():
    assert DEBUGS == ["fdr", "overfit"]


@pytest.mark.parametrize("debug", DEBUGS)
@pytest.mark.parametrize("name", ["padding", "gnn", "gpt", "rotation"])
def test_every_debug_option_runs_on_every_experiment(tmp_path, text_file, cifar_root, name,
                                                      debug):
    cfg = compose_cfg(tmp_path, [*experiment(name, text_file, cifar_root), f"debug={debug}",
                                 "trainer.max_epochs=3", "logger=none"])
    metrics = train(cfg)
    assert any(k.startswith("test") for k in metrics) or name == "gpt", metrics
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "completed"
