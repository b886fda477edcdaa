"""scripts/mutation_summary.py: the per-module table of a mutmut run, read from mutmut's
listing (a module's score is killed over the mutants its tests ran against)."""

from __future__ import annotations

import importlib.util

from tests.harness import ROOT

spec = importlib.util.spec_from_file_location(
    "mutation_summary", ROOT / "scripts" / "mutation_summary.py"
)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

LISTING = """\
    dl2.config.identity.x_override_key__mutmut_1: survived
    dl2.config.identity.x_override_key__mutmut_2: killed
    dl2.config.identity.x_digest__mutmut_1: killed
    dl2.config.identity.x_digest__mutmut_2: timeout
    dl2.studies.store.xǁStoreǁadd__mutmut_3: killed
    dl2.studies.store.xǁStoreǁadd__mutmut_4: no tests
    dl2.studies.store.x_record__mutmut_1: not checked
"""


def test_each_module_is_counted_and_scored_on_the_mutants_its_tests_ran():
    rows = [line.split(" | ") for line in summary.table(LISTING).splitlines()[2:]]
    assert [r[0].strip("| ") for r in rows] == ["dl2.config.identity", "dl2.studies.store"]
    # identity: 4 mutants, a timeout counts as killed (the tests stopped it), one survivor
    assert [c.strip(" |") for c in rows[0][1:]] == ["4", "3", "1", "0", "75.0 %"]
    # store: a class method's mutant belongs to its module; two never ran against a test
    assert [c.strip(" |") for c in rows[1][1:]] == ["3", "1", "0", "2", "100.0 %"]
    assert summary.survivors(LISTING) == {
        "dl2.config.identity": ["dl2.config.identity.x_override_key__mutmut_1"]
    }
