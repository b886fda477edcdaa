"""Study files (dl2/studies/spec.py) that extend another: what a child keeps, replaces and
must say, and the declared studies written that way."""

from __future__ import annotations

import dataclasses

import pytest

from dl2.errors import ConfigValueError
from dl2.studies.spec import load_study

CHILD = """
extends: {parent}
name: child
overrides: [data.name=CiteSeer]
seeds: [3]
"""


def test_a_study_keeps_what_it_does_not_set_of_the_study_it_extends(tmp_path):
    (tmp_path / "child.yaml").write_text(CHILD.format(parent="gnn-models"))
    child, parent = load_study(tmp_path / "child.yaml"), load_study("gnn-models")
    assert (child.name, child.overrides, child.seeds) == ("child", ["data.name=CiteSeer"], [3])
    assert child.axes == parent.axes and child.claims == parent.claims, "kept"
    assert child.title == parent.title and child.page == parent.page
    (tmp_path / "grandchild.yaml").write_text("extends: child.yaml\nname: grandchild\n")
    grandchild = load_study(tmp_path / "grandchild.yaml")
    assert grandchild.seeds == [3] and grandchild.axes == parent.axes, "a path, two levels"


@pytest.mark.parametrize(
    ("text", "key", "shown"),
    [
        ("extends: nosuch\nname: c\n", "study c.yaml: extends", "choose one of gnn-models"),
        ("extends: c.yaml\nname: c\n", "study c.yaml: extends", "extends itself"),
        ("extends: gnn-models\ntitle: t\n", "study c.yaml: name", "names itself"),
        ("extends: [gnn-models]\nname: c\n", "study c.yaml: extends", "name a study"),
    ],
)
def test_a_bad_extends_is_one_line(tmp_path, text, key, shown):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigValueError) as info:
        load_study(tmp_path / "c.yaml")
    assert info.value.key == key and shown in str(info.value)


def test_a_loop_of_two_studies_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(ConfigValueError, match="a loop of extends"):
        load_study(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    ("child", "parent", "differs"),
    [
        (
            "padding-independent",
            "padding-reference",
            {"name", "title", "overrides", "page", "claims"},
        ),
        (
            "gnn-models-citeseer",
            "gnn-models",
            {"name", "title", "overrides", "page", "reference", "claims"},
        ),
        ("gnn-noise-citeseer", "gnn-noise", {"name", "title", "overrides", "page", "claims"}),
    ],
)
def test_the_declared_pairs_differ_only_where_their_files_say(child, parent, differs):
    one, other = dataclasses.asdict(load_study(child)), dataclasses.asdict(load_study(parent))
    assert {k for k in one if one[k] != other[k]} == differs
