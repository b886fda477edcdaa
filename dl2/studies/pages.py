"""Generated blocks of hand-written Markdown pages: a block sits between
`<!-- study:<name> -->` and `<!-- /study:<name> -->`, and only it is rewritten (the README's
studies table, a results page's study, docs/speed.md's measurements)."""

from __future__ import annotations

from pathlib import Path

from dl2.files import atomic_write_text


def fill_block(page: Path, name: str, block: str, required: bool = False) -> bool:
    """Put `block` between `<!-- study:<name> -->` and `<!-- /study:<name> -->` in the
    Markdown file `page` (the prose around stays); False when it has no such markers, or with
    `required` a ValueError naming the page and the markers."""
    text = page.read_text() if page.is_file() else ""
    start, end = f"<!-- study:{name} -->", f"<!-- /study:{name} -->"
    if start not in text or end not in text:
        if required:
            raise ValueError(f"{page} has no {start} ... {end} markers")
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{block}{end}{tail}"
    if new != text:
        atomic_write_text(page, new)
    return True
