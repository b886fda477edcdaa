"""MkDocs hooks: the site shows reports/ beside the pages (reports/<study>/report.md as a page,
its figures and tables as files), where the results pages' generated blocks link to them, so
the stored reports are published without copies in docs/; a results page or a study's report
that mkdocs.yml's nav does not list is added under Results (a new study needs no nav line);
and the config guide's table of every option is built from conf/ (a new option needs no edit
of the page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("report.md", ".png", ".csv")
OPTIONS_MARKER = "<!-- conf:options -->"


def on_config(config: Any) -> Any:
    config["nav"] = with_unlisted_results(config["nav"], ROOT)
    return config


def with_unlisted_results(nav: list, root: Path) -> list:
    """`nav` with each results page (docs/results/*.md) and each study's report
    (reports/<study>/report.md) it does not list added at the end of its Results section,
    titled by the page's heading."""
    listed = set(_nav_paths(nav))
    unlisted = [
        {_heading(page): f"results/{page.name}"}
        for page in sorted((root / "docs" / "results").glob("*.md"))
        if f"results/{page.name}" not in listed
    ] + [
        {f"{_heading(report)}: every job": report.relative_to(root).as_posix()}
        for report in sorted((root / "reports").glob("*/report.md"))
        if report.relative_to(root).as_posix() not in listed
    ]
    if not unlisted:
        return nav
    nav = list(nav)
    for i, item in enumerate(nav):
        if isinstance(item, dict) and "Results" in item:
            nav[i] = {"Results": [*item["Results"], *unlisted]}
            return nav
    return [*nav, {"Results": unlisted}]


def _nav_paths(nav: Any) -> list[str]:
    """Every page path a nav (or a part of it) lists."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_paths(value)]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_paths(item)]
    return []


def _heading(page: Path) -> str:
    """A Markdown page's first `# ` heading, else its file name."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem


def on_files(files: Files, config: Any) -> Files:
    for path in sorted((ROOT / "reports").rglob("*")):
        if path.is_file() and path.name.endswith(PUBLISHED):
            files.append(
                File(
                    str(path.relative_to(ROOT)),
                    src_dir=str(ROOT),
                    dest_dir=config["site_dir"],
                    use_directory_urls=config["use_directory_urls"],
                )
            )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if OPTIONS_MARKER not in markdown:  # the config guide's alone: conf/ read for it only
        return markdown
    return markdown.replace(OPTIONS_MARKER, options_table(ROOT / "conf"))


def options_table(conf: Path) -> str:
    """A Markdown table of every option of every group under `conf`: group, option, and the
    first sentence of the comment its file opens with."""
    rows = ["| group | option | what it is |", "|---|---|---|"]
    for group in sorted(p for p in conf.iterdir() if p.is_dir()):
        for path in sorted(group.glob("*.yaml")):
            rows.append(f"| `{group.name}` | `{path.stem}` | {first_sentence(path)} |")
    return "\n".join(rows)


def first_sentence(path: Path) -> str:
    """The first sentence of the comment a config file opens with, on one line (`# @package`
    lines left out; an indented line, a command example, ends it); empty without one."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or line.startswith("#  ") or not line.strip("# "):
            break
        if not line.startswith("# @package"):
            words.append(line.lstrip("#").strip())
    text = " ".join(words).removesuffix(":")
    end = re.search(r"(?<!\bal)\.(\s|$)", text)  # "Veličković et al. GAT" goes on
    text = text[: end.start() + 1] if end else text
    return text.replace("|", "\\|").replace("<", "&lt;")
