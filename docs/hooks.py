"""MkDocs hooks: the site shows reports/ beside the pages (reports/<study>/report.md as a page,
its figures and tables as files), where the results pages' generated blocks link to them, so
the stored reports are published without copies in docs/; and the config guide's table of
every option is built from conf/ (a new option needs no edit of the page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("report.md", ".png", ".csv")
OPTIONS_MARKER = "<!-- conf:options -->"


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
