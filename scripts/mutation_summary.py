"""The last `make mutate` run, per module: how many mutants the tests killed, how many survived,
and the survivors' names (`mutmut show <name>` prints one's change). Read from mutmut's own
record (`mutmut results --all true`); `--write` puts the table in docs/guide/testing.md.

    python scripts/mutation_summary.py [--write]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from dl2.studies.pages import fill_block

ROOT = Path(__file__).resolve().parents[1]
PAGE, BLOCK = ROOT / "docs" / "guide" / "testing.md", "mutation-score"
# `    dl2.studies.store.xǁStoreǁadd__mutmut_3: survived`: the module, then the function
LINE = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+): (?P<status>.+)$")
# what the tests did to a mutant; the rest (not checked, no tests, ...) never ran against one
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def outcomes(text: str) -> dict[str, Counter]:
    """{module: Counter(status)} of mutmut's results listing."""
    out: dict[str, Counter] = defaultdict(Counter)
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            out[match["module"]][match["status"].strip()] += 1
    return out


def survivors(text: str) -> dict[str, list[str]]:
    """{module: [names of the mutants that survived]}."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        match = LINE.match(line)
        if match and match["status"].strip() == "survived":
            out[match["module"]].append(match["name"])
    return out


def table(text: str) -> str:
    """The Markdown table: module, mutants, killed, survived, not run, score (killed over the
    mutants the tests ran against)."""
    rows = [
        "| module | mutants | killed | survived | not run | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for module, counts in sorted(outcomes(text).items()):
        killed = sum(n for status, n in counts.items() if status in KILLED)
        survived = counts["survived"]
        ran = killed + survived
        total = sum(counts.values())
        score = f"{100 * killed / ran:.1f} %" if ran else "–"
        rows.append(f"| {module} | {total} | {killed} | {survived} | {total - ran} | {score} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="put the table in testing.md")
    args = parser.parse_args(argv)
    done = subprocess.run(
        [Path(sys.executable).parent / "mutmut", "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not outcomes(done.stdout):
        raise SystemExit(
            f"mutation_summary: no mutmut results here (run `make mutate`)\n{done.stderr}"
        )
    block = table(done.stdout)
    print(block)
    for module, names in sorted(survivors(done.stdout).items()):
        print(f"{module}: {len(names)} survived: {' '.join(names)}")
    if args.write:
        try:
            fill_block(PAGE, BLOCK, block, required=True)
        except ValueError as err:
            raise SystemExit(f"mutation_summary: {err}") from None
        print(f"written to {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
