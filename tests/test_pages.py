"""Generated blocks of hand-written pages (dl2/studies/pages.py)."""

from __future__ import annotations

import pytest

from dl2.studies.pages import fill_block


def test_a_block_replaces_only_what_is_between_its_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- study:x -->\nold\n<!-- /study:x -->\noutro\n")
    assert fill_block(page, "x", "new\n")
    assert page.read_text() == "intro\n<!-- study:x -->\nnew\n<!-- /study:x -->\noutro\n"
    before = page.stat().st_mtime_ns
    assert fill_block(page, "x", "new\n") and page.stat().st_mtime_ns == before, "unchanged"


def test_a_page_without_the_markers_is_left_alone_or_named(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- study:y -->\n<!-- /study:y -->\n")
    assert not fill_block(page, "x", "new\n")
    assert not fill_block(tmp_path / "missing.md", "x", "new\n")
    assert page.read_text() == "<!-- study:y -->\n<!-- /study:y -->\n"
    with pytest.raises(ValueError, match=r"page\.md has no <!-- study:x --> \.\.\."):
        fill_block(page, "x", "new\n", required=True)
