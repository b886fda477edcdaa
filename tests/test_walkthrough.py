"""docs/extending-example.md, walked through: its files written into a copy of the project
exactly as the page shows them, then every command of its last section run there as a user
would (real processes). The new experiment trains, its test passes, its study runs and
reports, the site builds with it, and the only files written by hand are the page's seven."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import ROOT

PAGE = ROOT / "docs" / "extending-example.md"
# what the commands generate (outputs, caches) rather than a person writes
GENERATED = re.compile(
    r"^(logs|site|reports/stripes)/|(^|/)(__pycache__|\.pytest_cache|\.hypothesis)/"
)
# files that hold generated blocks: only the text between their markers may change
BLOCKS = ("README.md", "docs/results/index.md")
# the quick tests that read every study, config option, page and generated table
READING_EVERYTHING = (
    "tests/test_sweep.py",
    "tests/test_readme.py",
    "tests/test_docs.py",
    "tests/test_claims.py",
    "tests/test_study_files.py",
    "tests/test_train.py",
)


def page_files() -> dict[str, str]:
    """{path: text} of the page's code blocks titled with a file's path."""
    fence = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```', flags=re.M | re.S)
    return dict(fence.findall(PAGE.read_text()))


def page_commands() -> list[str]:
    """The command lines of the page's `bash` blocks (comments cut)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", PAGE.read_text(), flags=re.M | re.S)
    return [
        line.split("  #", 1)[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip()
    ]


def snapshot(root: Path) -> dict[str, str]:
    """{relative path: content hash} of every file under `root` (its .git/ left out)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
    }


def outside_blocks(text: str) -> str:
    """A page with the text between its generated blocks' markers cut out."""
    return re.sub(r"(<!-- study:[\w-]+ -->).*?(<!-- /study:)", r"\1\2", text, flags=re.S)


def project_copy(target: Path) -> Path:
    """The checkout's files (tracked and not ignored) copied to `target`, times kept (make's
    venv stamp stays newer than pyproject.toml), and known to a git repository of its own (a
    test reads the checkout's files from git)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    for git in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *git], cwd=target, check=True, capture_output=True)
    return target


def test_the_page_shows_seven_files_and_the_commands_that_use_them():
    """What the walk-through writes and runs (checked without running it: quick)."""
    files = page_files()
    assert sorted(files) == [
        "conf/data/stripes.yaml",
        "conf/experiment/stripes.yaml",
        "conf/model/mlp.yaml",
        "dl2/data/stripes.py",
        "dl2/nets/mlp.py",
        "studies/stripes.yaml",
        "tests/test_stripes.py",
    ]
    assert not any((ROOT / name).exists() for name in files), "the example is not part of dl2"
    assert [c.split()[:2] for c in page_commands()] == [
        ["python", "train.py"],
        ["python", "-m"],
        ["python", "sweep.py"],
        ["python", "sweep.py"],
        ["make", "docs"],
    ]


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a dozen processes and three pytest runs: minutes on a slow machine
def test_the_worked_example_runs_as_the_page_says(tmp_path):
    project = project_copy(tmp_path / "dl2")
    before = snapshot(project)
    files = page_files()
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    venv = Path(sys.prefix)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project),  # the copy's dl2, not the checkout's
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
    }
    # the copy's own conf/ and root; no coverage of the copy's modules (they are not dl2's)
    for name in [n for n in env if n.startswith(("DL2_ROOT", "DL2_CONFIG_DIR", "COV_CORE_"))]:
        del env[name]
    # the files written, nothing run yet: the tests that read every study, config and page
    # still pass (a declared study with no results is in no generated table yet)
    pytest_in(project, env, "-m", "not slow", "-n", "2", *READING_EVERYTHING)
    outputs = []
    for command in page_commands():
        args = shlex.split(command)
        if args[0] == "python":
            args[0] = sys.executable
        if args[0] == "make":  # this interpreter's venv, taken as installed
            stamp = venv / ".installed"
            args += [f"VENV={venv}", "-o", str(stamp)]
        proc = subprocess.run(
            args, cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        outputs.append(proc.stdout + proc.stderr)
    train_out, test_out, dry, run, docs = outputs
    assert "stripes: 0/8 jobs done" in dry and dry.count("  to run ") == 8
    assert "[stripes] 8/8 done after" in run, run[-2000:]
    assert "2 passed" in test_out
    report = (project / "reports" / "stripes" / "report.md").read_text()
    assert "8 completed jobs" in report and "| hidden units |" in report
    assert (project / "site" / "reports" / "stripes" / "report" / "index.html").is_file()
    # the files the user wrote are the page's seven; the rest changed are generated
    after = snapshot(project)
    changed = {p for p in after if before.get(p) != after[p] and not GENERATED.search(p)}
    assert changed - set(BLOCKS) == set(files), sorted(changed - set(BLOCKS) - set(files))
    for name in BLOCKS:
        assert outside_blocks((project / name).read_text()) == outside_blocks(
            (ROOT / name).read_text()
        ), f"{name} changed outside its generated blocks"
    assert "stripes" in (project / "README.md").read_text(), "the studies table has its row"
    # the suite's generic tests cover the new files, read from conf/ and studies/: data=stripes,
    # model=mlp, experiment=stripes composed and built, fdr and overfit on it
    out = pytest_in(
        project, env, "-k", "stripes or mlp", "tests/test_configs.py", "tests/test_debug.py"
    )
    assert re.search(r"\b5 passed", out), out[-3000:]
    # and the generated tables agree with the study's stored results
    pytest_in(project, env, "-k", "cost_section or readme_studies", "tests/test_sweep.py")


def pytest_in(project: Path, env: dict[str, str], *args: str) -> str:
    """pytest run in the copy; its output (it must pass)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, f"pytest {' '.join(args)}\n{proc.stdout[-4000:]}"
    return proc.stdout
