"""W&B the way its users use it: tags, notes, groups per sweep, names within W&B's limits."""

from __future__ import annotations

import pytest

from dl2.compat import wandb_init_args
from dl2.config import resolvers
from dl2.config.identity import job_hashes
from dl2.run.build import build_loggers
from dl2.run.loggers import WandbLogger


def test_tags_and_notes_reach_the_run_without_changing_the_job(tiny_cfg):
    plain = tiny_cfg(["logger=wandb"])
    tagged = tiny_cfg(["logger=wandb", "tags=[baseline,lr-test]", "notes=first try"])
    assert list(plain.logger.wandb.tags) == ["padding"] and plain.logger.wandb.notes is None
    (logger,) = build_loggers(tagged)
    assert isinstance(logger, WandbLogger)
    init = wandb_init_args(logger)  # what wandb.init receives
    assert init["tags"] == ["padding", "baseline", "lr-test"] and init["notes"] == "first try"
    assert "anonymous" not in init  # W&B warns about it on every run, even as None
    assert job_hashes(tagged) == job_hashes(plain)
    assert "tags" not in init["name"] and "notes" not in init["group"]


def test_names_and_groups_leave_out_paths_and_stay_under_128(tiny_cfg):
    long = [
        f"paths.data_dir=/{'very/' * 40}long",
        "model.task.optimizer.lr=0.123456789",
        *[f"+data.extra{i}=value_number_{i}" for i in range(12)],
    ]
    cfg = tiny_cfg(["logger=wandb", *long])
    name, group = cfg.logger.wandb.name, cfg.logger.wandb.group
    assert "very" not in name and "very" not in group
    assert len(name) <= 128 and len(group) <= 128
    assert group.startswith("padding/+data.extra0=value_number_0,")
    assert name.startswith("+data.extra0=value_number_0,") and "~" in name
    # cut names stay unique: a hash of the whole
    other = tiny_cfg(["logger=wandb", *long[:-1], "+data.extra11=another"])
    assert other.logger.wandb.name != name and other.logger.wandb.group != group


def test_a_sweeps_stamp_is_in_the_group(tiny_cfg, monkeypatch):
    monkeypatch.setattr(resolvers, "sweep_stamp", lambda: "2026-11-30_02-44-08-493613")
    cfg = tiny_cfg(["logger=wandb", "seed=3"])
    assert cfg.logger.wandb.group.endswith("@2026-11-30_02-44-08-493613")
    assert "seed" not in cfg.logger.wandb.group and "seed=3" in cfg.logger.wandb.name
    monkeypatch.setattr(resolvers, "sweep_stamp", lambda: None)
    assert "@" not in tiny_cfg(["logger=wandb"]).logger.wandb.group


def test_sweep_stamp_is_the_multirun_folder(tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from tests.harness import compose_cfg

    compose_cfg(tmp_path, ["hydra.mode=MULTIRUN", "hydra.sweep.dir=/x/2026-01-02_03-04-05"])
    assert HydraConfig.get().sweep.dir == "/x/2026-01-02_03-04-05"
    assert resolvers.sweep_stamp() == "2026-01-02_03-04-05"
    compose_cfg(tmp_path, [])
    assert resolvers.sweep_stamp() is None


@pytest.mark.parametrize("bad", ["tags=baseline", "tags={a:1}"])
def test_tags_must_be_a_list_of_strings(tiny_cfg, bad):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        tiny_cfg([bad])


def test_log_model_stores_the_checkpoints_as_an_artifact(tiny_cfg):
    from pathlib import Path

    from dl2.run.job import train

    cfg = tiny_cfg(["logger=wandb", "logger.wandb.log_model=true"])
    train(cfg)
    import time

    (run,) = (Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*")
    run_id = run.name.rsplit("-", 1)[1]
    wanted = f"model-{run_id}".encode()  # Lightning's name for the model artifact
    deadline = time.time() + 60  # W&B's service writes the run file after finish returns
    while wanted not in next(run.glob("run-*.wandb")).read_bytes() and time.time() < deadline:
        time.sleep(0.5)
    assert wanted in next(run.glob("run-*.wandb")).read_bytes()


def test_the_resolved_config_prints_with_the_default_logger(capsys):
    """`python train.py --cfg job --resolve` failed on the W&B tags (a resolver's list cannot
    be resolved in place)."""
    from tests.harness import train_py

    assert train_py("--cfg", "job", "--resolve", "tags=[baseline]") == 0
    out = capsys.readouterr().out
    assert "    tags:\n    - padding\n    - baseline\n" in out


def test_run_names_keep_what_the_job_is_and_leave_out_how_it_runs(tmp_path, text_file):
    """A GPT run's name lost `model=gpt-nano` past the 128-character cut, behind
    alphabetically earlier callback keys, and carried torch_threads, launcher and logger."""
    from tests.harness import compose_cfg, tiny_gpt_overrides

    cfg = compose_cfg(
        tmp_path,
        [
            *tiny_gpt_overrides(text_file),
            "logger=wandb",
            "torch_threads=1",
            "launcher=joblib",
            "seed=3",
        ],
    )
    name = cfg.logger.wandb.name
    assert name.startswith("experiment=gpt,model=gpt-nano,") and "seed=3" in name
    assert not any(k in name for k in ("torch_threads", "launcher", "logger"))
    assert len(name) <= 128


def test_watch_records_the_models_gradients_when_asked(tiny_cfg, monkeypatch):
    """logger.wandb.watch=gradients calls W&B's watch on the model, every watch_log_freq
    steps; off by default; a value W&B does not know is refused before any work."""
    from dl2.config.preflight import check_values
    from dl2.errors import ConfigValueError
    from dl2.run.job import train

    calls = []
    monkeypatch.setattr(
        WandbLogger,
        "watch",
        lambda self, model, log, log_freq: calls.append((type(model).__name__, log, log_freq)),
    )
    train(tiny_cfg(["logger=wandb"]))
    assert calls == []
    train(
        tiny_cfg(["logger=wandb", "logger.wandb.watch=gradients", "logger.wandb.watch_log_freq=5"])
    )
    assert calls == [("ImageClassifier", "gradients", 5)]
    with pytest.raises(ConfigValueError, match="logger.wandb.watch"):
        check_values(tiny_cfg(["logger=wandb", "logger.wandb.watch=weights"]))


@pytest.mark.parametrize("missing", ["key", "server"])
def test_online_without_a_key_or_a_server_is_one_line(tmp_path, capsys, monkeypatch, missing):
    """WANDB_MODE=online with no API key was a 39-line traceback; with no server, about 100 s
    of waiting, then one. Now one line, naming what is missing and how to go offline, within
    the stated timeout (WANDB_INIT_TIMEOUT, short here)."""
    import wandb

    from tests.harness import TINY_BOXES, train_py

    wandb.teardown()  # W&B's process-wide settings, read from the environment set below
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))  # no stored key
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))  # nor a .netrc one
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    if missing == "server":
        monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
        monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens
        monkeypatch.setenv("WANDB_INIT_TIMEOUT", "1")
    code = train_py(*TINY_BOXES, "logger=wandb", f"hydra.run.dir={tmp_path / 'run'}")
    wandb.teardown()
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    shown = "has no usable API key" if missing == "key" else "its server did not answer within 1 s"
    assert f"W&B is online and {shown}" in err and "WANDB_MODE=offline" in err


def test_a_group_is_the_setting_whatever_the_data_flags(tmp_path):
    """data.download/verify/num_workers split one setting into several W&B groups across
    machines: a group holds what the jobs compute, not where their data comes from."""
    from tests.harness import compose_cfg

    base = ["experiment=rotation", "logger=wandb", "data.augment=rotation"]
    flags = ["data.download=false", "data.verify=false", "data.num_workers=0", "seed=4"]
    plain = compose_cfg(tmp_path, base, job="plain").logger.wandb.group
    flagged = compose_cfg(tmp_path, [*base, *flags], job="flagged").logger.wandb.group
    assert plain == flagged == "rotation/experiment=rotation,data.augment=rotation"


def test_the_run_keeps_its_code_and_the_best_validation_in_its_summary(tiny_cfg):
    (logger,) = build_loggers(tiny_cfg(["logger=wandb"]))
    assert wandb_init_args(logger)["save_code"] is True

    class Run:  # what W&B's run is asked
        defined: list = []

        def define_metric(self, name, **kw):
            self.defined.append((name, kw["summary"]))

    logger._experiment = Run()
    logger.define_summaries({"val/loss": "minimize", "val/acc": "maximize"})
    assert Run.defined == [("val/loss", "min"), ("val/acc", "max")]
