"""The documentation agrees with the code: every `make` line names a target that runs, every
YAML snippet of a study or a config loads through the real schema, every option the studies
guide offers is one a study accepts, and the README's layout is the checkout's.

(The `python ...` lines of the README and of docs/ are run by tests/test_readme.py.)"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from dl2.config.preflight import check_values
from dl2.errors import ConfigValueError
from dl2.paths import CONF
from dl2.studies.spec import STUDY_DIR, load_study, study_names
from tests.harness import ROOT, compose_cfg
from tests.test_readme import DOCUMENTS, code_lines


def code_blocks(language: str) -> list[tuple[str, str]]:
    """(document, text) of each fenced block of `language` in the README and docs/."""
    fence = re.compile(rf"^```{language}\n(.*?)^```", flags=re.M | re.S)
    return [
        (str(doc.relative_to(ROOT)), block)
        for doc in DOCUMENTS
        for block in fence.findall(doc.read_text())
    ]


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


MAKE_LINES = sorted({line for line in code_lines() if re.match(r"^make( |$)", line)})


def test_the_docs_have_make_lines():
    assert len(MAKE_LINES) >= 5, MAKE_LINES


@pytest.mark.parametrize("line", MAKE_LINES)
def test_every_make_line_names_a_target_that_runs(line):
    """Each `make ...` line of a code block: its targets are the Makefile's, and make accepts
    the line as written (`make -n`: the commands printed, none run)."""
    words = shlex.split(line)[1:]
    targets = [w for w in words if "=" not in w and not w.startswith("-")]
    assert targets and set(targets) <= make_targets(), f"{line}: no such target"
    done = subprocess.run(["make", "-n", *words], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"{line}\n{done.stderr}"


YAML_BLOCKS = code_blocks("yaml")


def test_the_docs_have_yaml_snippets():
    assert {doc for doc, _ in YAML_BLOCKS} >= {"docs/guide/studies.md", "docs/guide/slurm.md"}


def study_with(name: str, tmp_path: Path, **keys) -> Path:
    """A copy of the study `name` with `keys` replaced, as a file a study is loaded from."""
    data = yaml.safe_load((STUDY_DIR / f"{name}.yaml").read_text())
    data.update(keys)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def studies_accepting(tmp_path: Path, **keys) -> tuple[list[str], list[str]]:
    """The studies that load with `keys` in place of their own, and the others' refusals."""
    accepted, refusals = [], []
    for name in study_names():
        try:
            load_study(study_with(name, tmp_path, **keys))
            accepted.append(name)
        except ConfigValueError as err:
            refusals.append(f"{name}: {err}")
    return accepted, refusals


def check_study_snippet(snippet: dict, tmp_path: Path) -> None:
    """A whole study (it names its experiment) loads as it is; a part of one (`claims:`)
    loads in some study, item by item."""
    if "experiment" in snippet:
        path = tmp_path / "snippet.yaml"
        path.write_text(yaml.safe_dump(snippet))
        load_study(path)
        return
    for key, value in snippet.items():
        for item in value if isinstance(value, list) else [value]:
            accepted, refusals = studies_accepting(
                tmp_path, **{key: [item] if isinstance(value, list) else item}
            )
            assert accepted, f"{key}: {item} loads in no study: {refusals}"


def check_config_snippet(text: str, tmp_path: Path, monkeypatch) -> None:
    """A config file (`# conf/<group>/<name>.yaml`) composed in its place in a copy of conf/,
    with every group it configures chosen, and checked as a job's values are."""
    where = re.search(r"^# conf/([\w/-]+\.yaml)$", text, flags=re.M)
    assert where, "a config snippet says where it goes (# conf/<group>/<name>.yaml)"
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf, ignore=shutil.ignore_patterns("local"))
    (conf / where.group(1)).parent.mkdir(parents=True, exist_ok=True)
    (conf / where.group(1)).write_text(text)
    monkeypatch.setenv("USER", "someone")  # ${oc.env:USER} in the guide's data_dir
    groups = [f"launcher={p.stem}" for p in (conf / "launcher").glob("*.yaml")]
    for choice in [None, *groups]:
        cfg = compose_cfg(tmp_path, [choice] if choice else [], conf=conf)
        assert OmegaConf.merge(cfg, OmegaConf.create(text)) == cfg, f"{where.group(1)} unused"
        OmegaConf.resolve(cfg)
        check_values(cfg)
    GlobalHydra.instance().clear()


@pytest.mark.parametrize(
    "doc,text", YAML_BLOCKS, ids=[f"{d}-{i}" for i, (d, _) in enumerate(YAML_BLOCKS)]
)
def test_every_yaml_snippet_loads_through_the_schema(doc, text, tmp_path, monkeypatch):
    """A study snippet through load_study (the study schema and its checks), a config
    snippet through Hydra's composition and dl2's checks before training."""
    snippet = yaml.safe_load(text)
    assert isinstance(snippet, dict), f"{doc}: a YAML snippet is a mapping"
    if "@package" in text or re.search(r"^# conf/", text, flags=re.M):
        check_config_snippet(text, tmp_path, monkeypatch)
    else:
        check_study_snippet(snippet, tmp_path)


def offered(text: str, key: str) -> list[str]:
    """The literal choices a page offers for `key`, written "`key`: `a` | `b` | an axis"."""
    match = re.search(
        rf"`{re.escape(key)}`: ((?:`[\w.-]+`|[\w ]+)(?: \| (?:`[\w.-]+`|[\w ]+))*)", text
    )
    assert match, f"the page lists the choices of {key}"
    return re.findall(r"`([\w.-]+)`", match.group(1))


def test_every_table_layout_the_studies_guide_offers_loads(tmp_path):
    """`columns: seed` was offered and raised KeyError in the aggregator: each literal value
    the guide lists for `columns` loads in a real study."""
    guide = (ROOT / "docs/guide/studies.md").read_text()
    choices = offered(" ".join(guide.split()), "columns")
    assert choices
    for choice in choices:
        table = dict(yaml.safe_load((STUDY_DIR / "padding-reference.yaml").read_text())["table"])
        table["columns"] = choice
        load_study(study_with("padding-reference", tmp_path, table=table))


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Layout\n+```\n(.*?)^```", readme, flags=re.M | re.S)
    assert match, "the README has a layout block"
    return match.group(1)


def test_the_readme_layout_is_the_checkout():
    """Each path the README's layout names exists (a folder named in a description lies under
    the entry it describes), and each top-level folder of the project is named."""
    named, parent = set(), ROOT
    for line in layout_block().splitlines():
        entry, _, description = line.partition("   ")
        if entry.strip():  # an entry line: the paths at its start
            paths = [p for p in entry.split() if "/" in p or p.endswith(".py")]
            for p in paths:
                assert (ROOT / p).exists(), f"the README's layout names {p}, which is not here"
                named.add(p.split("/")[0])
            parent = ROOT / paths[0] if paths and paths[0].endswith("/") else ROOT
        for sub in re.findall(r"(?<![\w./])([a-z][\w-]*/)(?=[\s,)]|$)", description):
            assert (parent / sub).is_dir(), f"the README's layout names {parent.name}/{sub}"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = {p.split("/")[0] for p in tracked if "/" in p and not p.startswith(".")}
    assert folders - named == set(), "top-level folders the README's layout leaves out"


def docs_hooks():
    """docs/hooks.py, the MkDocs hooks, as a module."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_config_guides_table_of_options_is_built_from_conf(tmp_path):
    """docs/guide/config.md holds the marker the site's build replaces with a row per option
    of every group, each described by the comment its file opens with: a new option is
    listed, described, without an edit of the page."""
    hooks = docs_hooks()
    page = (ROOT / "docs" / "guide" / "config.md").read_text()
    assert page.count(hooks.OPTIONS_MARKER) == 1
    table = hooks.on_page_markdown(page, None, None, None)
    for path in sorted(CONF.glob("*/*.yaml")):
        row = f"| `{path.parent.name}` | `{path.stem}` | "
        assert row in table, row
        assert hooks.first_sentence(path), f"{path} opens without a comment saying what it is"
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mlp.yaml").write_text(
        "# @package _global_\n# A two-layer MLP (et al. style): hidden 64, ReLU. Adam.\n"
        "#   python train.py model=mlp\nname: mlp\n"
    )
    (tmp_path / "model" / "bare.yaml").write_text("name: bare\n")
    assert hooks.options_table(tmp_path).splitlines()[2:] == [
        "| `model` | `bare` |  |",
        "| `model` | `mlp` | A two-layer MLP (et al. style): hidden 64, ReLU. |",
    ]


def test_a_results_page_or_report_the_nav_does_not_list_is_added_under_results(tmp_path):
    """A new study's report (and a results page written for it) reaches the site's nav
    without a line in mkdocs.yml: `make docs` is strict, and an unlisted page fails it."""
    hooks = docs_hooks()
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "reports" / "digits").mkdir(parents=True)
    (tmp_path / "reports" / "listed").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "digits.md").write_text("# Digits: an MLP\n")
    (tmp_path / "reports" / "digits" / "report.md").write_text("x\n# Digits study\n")
    (tmp_path / "reports" / "listed" / "report.md").write_text("# Listed\n")
    nav = [{"Home": "index.md"}, {"Results": ["results/index.md", "reports/listed/report.md"]}]
    assert hooks.with_unlisted_results(nav, tmp_path) == [
        {"Home": "index.md"},
        {
            "Results": [
                "results/index.md",
                "reports/listed/report.md",
                {"Digits: an MLP": "results/digits.md"},
                {"Digits study: every job": "reports/digits/report.md"},
            ]
        },
    ]
    assert hooks.with_unlisted_results(nav[:1], tmp_path)[1]["Results"][0] == {
        "Digits: an MLP": "results/digits.md"
    }, "no Results section: one is made"
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text().split("\nnav:")[0] + "\n")
    assert site["validation"]["nav"]["omitted_files"] == "warn" and site["strict"] is True
