"""Every `debug` option runs on every experiment (tiny data), as lightning-hydra-template's
debug configs do: Lightning rebuilds the dataloaders for some of them (`overfit_batches`), so a
loader it cannot rebuild fails here."""

import json
from pathlib import Path

import pytest

from dl2.pipeline import train
from tests.conftest import TINY_BOXES, compose_cfg
from tests.test_gpt import TEXT, tiny_gpt_overrides
from tests.test_rotation import write_cifar

DEBUGS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "debug").glob(
    "*.yaml"))


def experiment(name: str, tmp_path: Path) -> list[str]:
    """Tiny overrides for each experiment."""
    if name == "padding":
        return list(TINY_BOXES)
    if name == "gnn":
        return ["experiment=gnn", "data=sbm_graph"]
    if name == "gpt":
        text = tmp_path / "tiny.txt"
        text.write_text(TEXT, encoding="utf-8")
        return [o for o in tiny_gpt_overrides(text, steps=20) if not o.startswith("callbacks.")]
    write_cifar(tmp_path / "cifar")
    return ["experiment=rotation", f"data.data_dir={tmp_path / 'cifar'}", "data.download=false",
            "data.verify=false", "data.val_size=20", "data.num_workers=0",
            "data.batch_size=16", "data.angles=[0,90]"]


def test_the_debug_options_are_known():
    assert DEBUGS == ["fdr", "overfit"]


@pytest.mark.parametrize("debug", DEBUGS)
@pytest.mark.parametrize("name", ["padding", "gnn", "gpt", "rotation"])
def test_every_debug_option_runs_on_every_experiment(tmp_path, name, debug):
    cfg = compose_cfg(tmp_path, [*experiment(name, tmp_path), f"debug={debug}",
                                 "trainer.max_epochs=3", "logger=none"])
    metrics = train(cfg)
    assert any(k.startswith("test") for k in metrics) or name == "gpt", metrics
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    assert results["status"] == "completed"
