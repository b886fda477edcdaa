"""The GPT experiment end to end on a tiny text: it overfits, logs what it should, and its
checkpoint alone drives `python -m dl2.generate`."""

import csv
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from dl2.generate import load_gpt, sample_texts
from dl2.paths import CONF
from dl2.run.job import train
from dl2.tasks.language_model import LanguageModel
from tests.harness import (
    TEXT,
    compose_cfg,
    generate_py,
    run_script,
    sweep_py,
    tiny_gpt_overrides,
)


def test_tiny_gpt_overfits_and_logs(tmp_path, text_file):
    cfg = compose_cfg(tmp_path, tiny_gpt_overrides(text_file))
    metrics = train(cfg)
    assert metrics["val/loss"] < 0.5, metrics  # the text repeats: near-perfect prediction
    assert {k for k in metrics if k.startswith("val/")} == set(LanguageModel.VALIDATION_METRICS)
    assert metrics["val/bpc"] == pytest.approx(metrics["val/loss"] / 0.6931471805599453)
    out = Path(cfg.paths.output_dir)
    header = (out / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "train/bpc", "train/tokens_per_s", "val/loss", "val/bpc"} <= set(header)
    with open(out / "samples.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["step"] for r in rows} == {"100", "150"}
    assert [r["prompt"] for r in rows] == ["the cat", "a dog"] * 2


def test_prompts_outside_the_vocabulary_fail_before_training(tmp_path, text_file):
    cfg = compose_cfg(
        tmp_path,
        [*tiny_gpt_overrides(text_file), 'callbacks.text_samples.prompts=["Hansel said to"]'],
    )
    # the tiny text has no capitals: fail before any step, naming the characters
    with pytest.raises(ConfigValueError, match="'H'"):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


def test_a_text_of_ones_own_samples_from_its_validation_text(tmp_path, text_file):
    """The default prompts are the Grimm text's; with data.path they come from the text itself
    (the tiny text has no capitals, so the Grimm prompts would not fit)."""
    grimm = compose_cfg(tmp_path, ["experiment=gpt"], job="grimm").callbacks.text_samples
    assert grimm.prompts == ["Hansel said to", "The wolf said to", "There was once", "Rapunzel had"]
    overrides = [o for o in tiny_gpt_overrides(text_file, steps=20) if "prompts" not in o]
    cfg = compose_cfg(tmp_path, overrides)
    assert cfg.callbacks.text_samples.prompts is None
    train(cfg)
    with open(Path(cfg.paths.output_dir) / "samples.csv") as f:
        prompts = [r["prompt"] for r in csv.DictReader(f)]
    assert len(prompts) == 4 and len(set(prompts)) > 1
    assert all(len(p) == 16 and p in TEXT[-len(TEXT) // 10 - 16 :] for p in prompts)


@pytest.fixture(scope="module")
def gpt_checkpoint(tmp_path_factory, text_file):
    """The best checkpoint of a tiny GPT run of 100 steps (trained once for this module)."""
    tmp_path = tmp_path_factory.mktemp("gpt")
    overrides = [*tiny_gpt_overrides(text_file, steps=100), "trainer.val_check_interval=100"]
    cfg = compose_cfg(tmp_path, overrides)
    train(cfg)
    return json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())["checkpoint"]


def test_train_checkpoint_generate_round_trip(gpt_checkpoint, capsys):
    # the tokenizer is the datamodule's own state, which Lightning keeps in the checkpoint
    stored = read_checkpoint(gpt_checkpoint)
    assert stored["CharDataModule"]["tokenizer"]["chars"] == sorted(set(TEXT))
    assert "tokenizer" not in stored["dl2"]
    model, tok = load_gpt(gpt_checkpoint)
    assert model.config.block_size == 16 and tok.vocab_size == len(set(TEXT))
    cached = sample_texts(model, tok, "the cat", 40, greedy=True)
    plain = sample_texts(model, tok, "the cat", 40, greedy=True, use_cache=False)
    assert cached == plain and cached[0].startswith("the cat sat on the")
    assert generate_py(f"ckpt_path={gpt_checkpoint}", "prompt=the DOG") == 1
    err = capsys.readouterr().err
    assert "'D'" in err and "'O'" in err and "Traceback" not in err
    assert generate_py(f"ckpt_path={gpt_checkpoint}", "top_k=3", "top_p=0.5") == 1
    assert "top_k" in capsys.readouterr().err
    # the README's example: top_k alone means top-k sampling (top_p's 0.9 default steps aside)
    assert (
        generate_py(
            f"ckpt_path={gpt_checkpoint}",
            "prompt=the dog",
            "top_k=3",
            "temperature=0.9",
            "num_samples=3",
            "length=10",
        )
        == 0
    )
    assert capsys.readouterr().out.count("the dog") == 3


def test_a_checkpoint_written_before_the_datamodule_kept_the_tokenizer_loads(
    gpt_checkpoint, tmp_path
):
    old = read_checkpoint(gpt_checkpoint)
    old["dl2"]["tokenizer"] = old.pop("CharDataModule")["tokenizer"]
    torch.save(old, tmp_path / "old.ckpt")
    model, tok = load_gpt(tmp_path / "old.ckpt")
    assert sample_texts(model, tok, "the cat", 10, greedy=True) == sample_texts(
        *load_gpt(gpt_checkpoint), "the cat", 10, greedy=True
    )


def test_resuming_on_another_text_is_refused(gpt_checkpoint, tmp_path):
    other = tmp_path / "other.txt"  # as many characters (the net fits), other ones
    other.write_text(TEXT.replace("c", "x"), encoding="utf-8")
    last = Path(gpt_checkpoint).parent / "last.ckpt"
    cfg = compose_cfg(
        tmp_path,
        [
            *tiny_gpt_overrides(other, steps=110),
            f"ckpt_path={last}",
            'callbacks.text_samples.prompts=["the"]',
            "logger=none",
        ],
    )
    with pytest.raises(ConfigValueError) as info:
        train(cfg)
    assert info.value.key == "ckpt_path" and "data.path (" in str(info.value)
    assert f"-> {other})" in str(info.value), "the resume names the changed text"
    with open_dict(cfg):
        cfg.resume_changed = True  # meant: the vocabulary still has to be the trained one
    with pytest.raises(ConfigValueError) as info:
        train(cfg)
    assert info.value.key == "data.path" and "trained on" in str(info.value)


def test_text_samples_need_text_data(tiny_cfg):
    with pytest.raises(ConfigValueError) as info:
        train(tiny_cfg(["callbacks=gpt", "callbacks.text_samples.prompts=[a]"]))
    assert info.value.key == "callbacks.text_samples" and "BoxDataModule" in str(info.value)


@pytest.mark.slow
def test_generate_as_a_command(gpt_checkpoint):
    """`python -m dl2.generate` in a process of its own, as users type it."""
    proc = run_script(
        "-m",
        "dl2.generate",
        f"ckpt_path={gpt_checkpoint}",
        "prompt=the dog",
        "length=30",
        "greedy=true",
    )
    assert proc.stdout.strip().startswith("the dog sat on the")
    assert proc.stderr.strip() == "", "nothing but the text"


def test_top_p_steps_aside_when_top_k_is_given(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        assert compose("generate", ["ckpt_path=x"]).top_p == 0.9
        given = compose("generate", ["ckpt_path=x", "top_k=10"])
        assert (given.top_k, given.top_p) == (10, None)
        both = compose("generate", ["ckpt_path=x", "top_k=10", "top_p=0.5"])
        assert (both.top_k, both.top_p) == (10, 0.5)  # both given: generate says which to drop
    cfg = compose_cfg(tmp_path, ["experiment=gpt", "callbacks.text_samples.top_k=5"])
    assert cfg.callbacks.text_samples.top_p is None
    GlobalHydra.instance().clear()


def test_sweep_gpt_tiny_report(tmp_path, text_file):
    out = tmp_path / "report"
    overrides = [
        o
        for o in tiny_gpt_overrides(text_file, steps=10)
        if not o.startswith(("experiment=", "logger="))
    ]
    assert (
        sweep_py(
            "gpt",
            "--seeds",
            "0",
            "--pos-embs",
            "rope",
            "--out",
            str(out),
            "--log-dir",
            str(tmp_path / "logs"),
            *overrides,
            "trainer.val_check_interval=5",
            "callbacks.text_samples.every_n_steps=5",
            "logger=none",
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    arms = {(r["model.pos_emb"], r["model.attn"]) for r in summary["rows"]}
    assert arms == {("rope", "sdpa"), ("rope", "manual")}
    assert all(r["n"] == 1 for r in summary["rows"])
    bpc = {
        (r["model.pos_emb"], r["model.attn"]): r["mean"]
        for r in summary["rows"]
        if r["metric"] == "val/bpc"
    }
    assert bpc["rope", "sdpa"] == pytest.approx(bpc["rope", "manual"], abs=1e-4), (
        "sdpa and manual attention learn the same function"
    )
    report = (out / "report.md").read_text()
    assert "gpt-curves.png" in report and "**the cat**" in report
    assert (out / "gpt-curves.png").stat().st_size > 1000
    stored = [json.loads(line) for line in (out / "jobs.jsonl").read_text().splitlines()]
    assert all(len(r["history"]["val/loss"]) == 2 and r["samples"]["step"] == 10 for r in stored), (
        "the store keeps each run's curve and samples"
    )


@pytest.mark.slow
def test_compiled_training_matches_eager_loss_scale(tmp_path, text_file):
    """model.task.compile=true trains (torch.compile on this machine's backend) and its
    checkpoint holds plain (uncompiled) weights that load for generation."""
    cfg = compose_cfg(
        tmp_path,
        [
            *tiny_gpt_overrides(text_file, steps=60),
            "model.task.compile=true",
            "trainer.val_check_interval=60",
        ],
    )
    metrics = train(cfg)
    assert metrics["val/loss"] < 2.5
    results = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
    model, tok = load_gpt(results["checkpoint"])
    assert sample_texts(model, tok, "the", 5, greedy=True)[0].startswith("the")
