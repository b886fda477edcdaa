"""MkDocs hook: the site shows reports/ beside the pages (reports/<study>/report.md as a page,
its figures and tables as files), where the results pages' generated blocks link to them, so
the stored reports are published without copies in docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("report.md", ".png", ".csv")


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
