"""Where dl2's folders and files are, named once: the project root (the checkout dl2 runs
from, or DL2_ROOT), its config, logs and stored reports, and the file names every job and study
writes."""

from __future__ import annotations

import os
from pathlib import Path

# the checkout: dl2/ sits in it (an editable install, as `make install` makes)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# where runs write logs/ and read data/ (conf/paths: `paths.root_dir`); DL2_ROOT moves them
ROOT = Path(os.environ.get("DL2_ROOT") or PACKAGE_ROOT)
# the config folder train.py, eval.py and the studies compose from; DL2_CONFIG_DIR points them
# at another (the test suite's copy, which leaves out the machine's conf/local/)
CONF = Path(os.environ.get("DL2_CONFIG_DIR") or PACKAGE_ROOT / "conf")
# the user's own variables (W&B's key, entity, project); DL2_ENV_FILE names another file
ENV_FILE = Path(os.environ.get("DL2_ENV_FILE") or ROOT / ".env")
# the declared studies, one YAML file each (kept out of conf/: no group of train.py)
STUDY_DIR = PACKAGE_ROOT / "studies"
REPORTS = PACKAGE_ROOT / "reports"
# the documentation site's results pages, one per study (their generated blocks: sweep.py)
RESULTS_PAGES = PACKAGE_ROOT / "docs" / "results"
README = PACKAGE_ROOT / "README.md"  # its studies table is generated (dl2/studies/overview.py)
LOGS = ROOT / "logs"
# what every job writes into its output folder, and all that reports read
RESULTS_FILE = "results.json"
# a study's stored results, one record per line (reports/<study>/jobs.jsonl)
STORE_FILE = "jobs.jsonl"
