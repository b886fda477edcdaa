"""Every command in the README's and the documentation's code blocks runs as written.

`python train.py` / `python eval.py` / `python -m dl2.generate` lines are composed with the real
config (a sweep's first value per swept key) and pass the checks before training; those on
generated data or a given text also train, with tiny sizes appended (in the quick suite the
first of them per kind of data); eval and generate lines run on the checkpoints those runs
leave; `python sweep.py` lines run with --dry-run."""

from __future__ import annotations

import functools
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from dl2 import generate
from dl2.config.preflight import check_values, preflight
from dl2.errors import ConfigValueError
from dl2.paths import CONF
from dl2.run.job import evaluate, train
from dl2.studies import cli as sweep_cli
from dl2.studies.spec import study_names
from dl2.studies.store import Store
from tests.harness import ROOT, TINY_BOXES, compose_cfg, train_py

SCRIPTS = re.compile(
    r"^(?:WANDB_MODE=\w+ )?python (train\.py|eval\.py|sweep\.py|-m dl2\.generate)"
    r"(?: (.*))?$"
)
TEXT = (
    "There was once a wolf. Hansel said to the wolf: the wolf said to Hansel, there was "
    "once a house in the wood. "
) * 40
# appended to the commands that train, by the data they use
TINY = {
    "dl2.data.boxes.BoxDataModule": TINY_BOXES,
    "dl2.data.graphs.SyntheticGraphDataModule": ["trainer.max_epochs=2"],
    "dl2.data.text.CharDataModule": [
        "data.block_size=16",
        "data.batch_size=8",
        "trainer.max_steps=10",
        "trainer.val_check_interval=5",
        "callbacks.text_samples.every_n_steps=5",
        "callbacks.text_samples.length=8",
    ],
}


# the worked example's commands and files are for the copy of the project that
# tests/test_walkthrough.py makes (its experiment is not dl2's): they are run there
WALKTHROUGH = ROOT / "docs" / "extending-example.md"
DOCUMENTS = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").rglob("*.md") if p != WALKTHROUGH),
]


def code_lines() -> list[str]:
    """The lines of the code blocks of the README and the documentation pages (continued
    lines joined, comments cut)."""
    out = []
    for document in DOCUMENTS:
        in_block = False
        text = document.read_text().replace("\\\n", " ")  # continued lines joined
        for line in text.splitlines():
            if line.startswith("```"):
                in_block = not in_block
            elif in_block:
                out.append(line.split("  #", 1)[0].strip())
    return out


def test_the_readme_is_a_first_page():
    """Read in five minutes: at most ~200 lines, one generated block (the studies table,
    which each study's run rebuilds), and every file it links to exists."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert re.findall(r"<!-- study:([\w-]+) -->", text) == ["studies"]
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert (
        links
        and [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
        == []
    )


def readme_commands() -> list[tuple[str, list[str]]]:
    """(script, arguments) of every command line in the README's code blocks."""
    commands = []
    for line in code_lines():
        match = SCRIPTS.match(line)
        if match:
            args = shlex.split(match.group(2) or "")
            if args != ["..."]:
                commands.append((match.group(1), args))
    return commands


COMMANDS = readme_commands()


def lines(script: str) -> list[list[str]]:
    """The arguments of the command lines of one script, each distinct line once (the
    README repeats the guide's first commands)."""
    distinct = dict.fromkeys(tuple(args) for name, args in COMMANDS if name == script)
    return [list(args) for args in distinct]


def first_job(args: list[str]) -> list[str]:
    """A multirun's first job: `-m` dropped, each swept key at its first value."""
    args = [a for a in args if a not in ("-m", "--multirun")]
    out = []
    for override in OverridesParser.create().parse_overrides(args):
        if override.is_sweep_override():
            prefix = override.get_key_element()
            out.append(f"{prefix}={next(override.sweep_string_iterator())}")
        else:
            out.append(override.input_line)
    return out


def filled(args: list[str], places: dict[str, str]) -> list[str]:
    """Placeholders (`<run>`, `...`, `/path/to/...`) replaced by files the test made."""
    out = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key in places and ("<" in value or "..." in value or "/path/to/" in value):
            arg = f"{key}={places[key]}"
        out.append(arg)
    return out


def test_every_python_command_of_the_readme_is_checked():
    """No line of a code block that runs dl2 (`python <a project file>`, `python -m dl2...`)
    escapes the tests below: each is one of the four entry points in a form they parse, and
    the README shows every entry point."""
    ours = []
    for line in code_lines():
        match = re.match(r"^(?:\w+=\S+ )*python3? (-m dl2\S*|\S+)", line)
        target = (ROOT / match.group(1)).resolve() if match else None
        if match and (
            match.group(1).startswith("-m dl2") or (target.is_file() and ROOT in target.parents)
        ):
            ours.append(line)
    unchecked = [line for line in ours if not SCRIPTS.match(line)]
    assert unchecked == [], "README commands no test runs"
    # pasted into bash as written: `seed=range(10)` unquoted is a syntax error there
    rejected = [
        line
        for line in ours
        if subprocess.run(["bash", "-n", "-c", line], capture_output=True).returncode
    ]
    assert rejected == [], "README commands bash rejects"
    assert {script for script, _ in COMMANDS} == {
        "train.py",
        "eval.py",
        "sweep.py",
        "-m dl2.generate",
    }


@pytest.mark.parametrize("every", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_every_train_eval_and_generate_command_runs(tmp_path, every):
    """Each line composes and passes the checks before training; the first line on each
    kind of cheap data trains (every such line with `-m slow`)."""
    text = tmp_path / "any_utf8.txt"
    text.write_text(TEXT, encoding="utf-8")
    cifar = tmp_path / "cifar"
    places = {"data.path": str(text), "data.data_dir": str(cifar)}
    trained: dict[str, str] = {}  # a checkpoint per data module, for eval and generate lines
    jobs = iter(range(1000))
    for args in lines("train.py"):
        if any(a.startswith("--") for a in args):  # Hydra's own flags: the command as it is
            assert train_py(*args) == 0, f"python train.py {' '.join(args)}"
            continue
        overrides = filled(first_job(args), places)
        cfg = compose_cfg(tmp_path, overrides, job=f"job{next(jobs)}")
        if cfg.trainer.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
            check_values(cfg)  # the values hold; the machine check says there is no GPU
            with pytest.raises(ConfigValueError, match="trainer.accelerator"):
                preflight(cfg)
            continue
        preflight(cfg)
        target = cfg.data._target_
        on_cpu = cfg.trainer.accelerator in ("auto", "cpu") and cfg.trainer.devices == 1
        # generated data, or a text the command names (no download here)
        own_data = target != "dl2.data.text.CharDataModule" or "data.path" in str(args)
        first = target not in trained
        if (
            target in TINY
            and own_data
            and on_cpu
            and "launcher" not in str(args)
            and (every or first)
        ):
            logger = [] if any(a.startswith("logger=") for a in args) else ["logger=none"]
            cfg = compose_cfg(
                tmp_path, [*overrides, *TINY[target], *logger], job=f"job{next(jobs)}"
            )
            metrics = train(cfg)
            assert metrics, f"python train.py {' '.join(args)}"
            trained.setdefault(
                target, str(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
            )
    assert set(trained) == set(TINY), "the README trains on every kind of cheap data"
    GlobalHydra.instance().clear()
    for args in lines("eval.py"):
        places["ckpt_path"] = trained["dl2.data.boxes.BoxDataModule"]
        cfg = compose_cfg(tmp_path, ["logger=none", *filled(args, places)], job=f"job{next(jobs)}")
        accuracy = evaluate(cfg)["test/acc"]
        assert 0.0 <= accuracy <= 1.0, accuracy
        record = json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())
        assert (record["mode"], record["checkpoint"]) == ("eval", places["ckpt_path"])
    GlobalHydra.instance().clear()
    places["ckpt_path"] = trained["dl2.data.text.CharDataModule"]
    for args in lines("-m dl2.generate"):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("generate", [*filled(args, places), "length=5"])
        GlobalHydra.instance().clear()
        texts = generate.run(cfg)
        assert len(texts) == cfg.num_samples and texts[0].startswith(cfg.prompt)


@functools.cache
def committed_hashes() -> frozenset[str]:
    """Config hashes of every job stored in reports/."""
    return frozenset(h for name in study_names() for h in Store.of(name).completed())


@pytest.mark.parametrize(
    "args",
    [a for a in lines("sweep.py") if a[0] not in ("report", "verify")],
    ids=lambda a: " ".join(a)[:60],
)
def test_every_sweep_command_runs_dry(args, tmp_path, capsys):
    """Each `sweep.py` line as a dry run, its results and job folders read from an empty
    folder of the test's: a job is listed as done exactly when reports/ holds its result (and
    no --force asks to rerun it), and
    each study lists as many jobs as its header counts."""
    dry = args if "--dry-run" in args else [*args, "--dry-run"]
    if "--out" not in dry and dry[0] != "list":
        dry = [*dry, "--out", str(tmp_path / "out"), "--log-dir", str(tmp_path / "logs")]
    assert sweep_cli.main(dry) == 0
    out = capsys.readouterr().out
    headers = re.findall(r"^([\w-]+): (\d+)/(\d+) jobs done$", out, flags=re.M)
    assert headers, out
    jobs = re.findall(r"^  (done|to run|resume) +([0-9a-f]{16})  ", out, flags=re.M)
    assert len(jobs) == sum(int(total) for _, _, total in headers)
    assert sum(state == "done" for state, _ in jobs) == sum(int(d) for _, d, _ in headers)
    for state, config_hash in jobs:  # --force reruns what is stored
        stored = config_hash in committed_hashes() and "--force" not in args
        assert (state == "done") == stored, (state, config_hash)
    assert not list(tmp_path.rglob("*.json*")), "a dry run writes nothing"


@pytest.mark.parametrize(
    "args", [a for a in lines("sweep.py") if a[0] == "verify"], ids=lambda a: " ".join(a)[:60]
)
def test_every_verify_command_chooses_stored_jobs(args, capsys):
    """Each `sweep.py verify` line as a dry run: it names stored jobs of the study to rerun,
    as many as it asks for."""
    assert sweep_cli.main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    chosen = re.findall(r"^  verify  ([0-9a-f]{16})  ", out, flags=re.M)
    sample = int(args[args.index("--sample") + 1]) if "--sample" in args else 1
    assert len(chosen) == sample and set(chosen) <= committed_hashes(), out


def test_make_help_lists_every_target():
    """`make help` is how the README says to find the chores: every target is in it."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert targets and targets == {line.split()[0] for line in shown.splitlines() if line}


def test_the_docs_site_wraps_long_code_lines():
    """At 1280 px the site cut code blocks at the right edge (comments ended mid-word): its
    stylesheet, listed in mkdocs.yml, wraps them."""
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text().split("\nnav:")[0])
    sheets = [ROOT / "docs" / name for name in site.get("extra_css", [])]
    css = " ".join(" ".join(p.read_text().split()) for p in sheets if p.is_file())
    assert sheets and all(p.is_file() for p in sheets)
    assert re.search(r"\.md-typeset pre > code \{[^}]*white-space: pre-wrap", css)
