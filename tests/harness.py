"""Run dl2's entry points the way a user does, in the test process.

`compose_cfg` composes the real conf/train.yaml (schema checks included) for `train(cfg)`;
`run_main` calls an entry point's Hydra main with a command line, as its script's
`__main__` does, and returns the exit status; `inprocess_multirun` is the study runner's
launcher with the jobs trained here instead of in a `train.py -m` process. Imports are then paid
once per pytest run; `run_script` starts a real process, for the tests whose subject is one.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from hydra import compose, initialize_config_dir
from hydra._internal import utils as hydra_utils
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import dl2  # noqa: F401  (registers resolvers)
from dl2.config.identity import override_key
from dl2.paths import CONF

ROOT = Path(__file__).resolve().parents[1]
TINY_BOXES = [
    "data.n_train=40",
    "data.n_val=20",
    "data.n_test=20",
    "data.batch_size=20",
    "trainer.max_epochs=2",
]
TEXT = "the cat sat on the mat. the dog sat on the log. " * 40
CIFAR_PER_CLASS = 2


def examples(quick: int) -> int:
    """How many inputs a property draws: `quick` in `make test`, five times as many under the
    hypothesis profile `thorough` (`make test-all`), for properties whose examples are costly."""
    from hypothesis import settings

    return quick * settings.default.max_examples // settings.get_profile("default").max_examples


def tiny_gpt_overrides(text_file: Path, steps: int = 150) -> list[str]:
    """A nano GPT on `text_file` (TEXT): blocks of 16 characters, `steps` steps."""
    return [
        "experiment=gpt",
        "model=gpt-nano",
        f"data.path={text_file}",
        "data.block_size=16",
        "data.batch_size=16",
        "data.val_fraction=0.1",
        "model.dropout=0.0",
        "model.task.optimizer.lr=3e-3",
        f"trainer.max_steps={steps}",
        "trainer.val_check_interval=50",
        "callbacks.text_samples.every_n_steps=100",
        "callbacks.text_samples.length=20",
        'callbacks.text_samples.prompts=["the cat","a dog"]',
        "logger=csv",
    ]


def tiny_cifar_overrides(cifar_root: Path) -> list[str]:
    """The rotation experiment on the tiny CIFAR folder (`cifar_root` fixture): 80 training,
    20 validation images, batches of 16, two test angles, no DataLoader worker processes (the
    tests of workers ask for them)."""
    return [
        "experiment=rotation",
        f"data.data_dir={cifar_root}",
        "data.download=false",
        "data.verify=false",
        "data.val_size=20",
        "data.batch_size=16",
        "data.angles=[0,90]",
        "data.num_workers=0",
    ]


class CodeRunner:
    """Pickled, it tells the unpickler to call `touch <marker>`: what a crafted data file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (subprocess.call, (["touch", str(self.marker)],))


def write_crafted_pickle(
    path: Path, marker: Path, wrap: Callable[[Any], Any] = lambda x: x
) -> None:
    """Overwrite `path` with a pickle that creates `marker` when loaded by `pickle.load`."""
    import pickle

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(wrap(CodeRunner(marker))))


def write_planetoid(root: Path, name: str = "Cora", n_features: int = 6) -> Path:
    """Raw `ind.<name>.*` files in Planetoid's pickle format under `root/planetoid/<name>/raw`:
    20 labelled nodes, the 500 validation nodes the public split takes after them, 30 test
    nodes (CiteSeer's with 3 isolated ones: ids without a row in tx), 3 classes."""
    import pickle
    from collections import defaultdict

    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    raw = root / "planetoid" / name / "raw"
    raw.mkdir(parents=True)
    n_all, n_labelled, n_test = 540, 20, 30
    test_ids = np.arange(n_all, n_all + n_test)
    if name == "CiteSeer":
        test_ids = np.delete(test_ids, [4, 11, 20])
    rng.shuffle(test_ids)

    def features(n: int) -> sp.csr_matrix:
        return sp.csr_matrix((rng.random((n, n_features)) < 0.3).astype(np.float32))

    def onehot(n: int) -> np.ndarray:
        return np.eye(3, dtype=np.int32)[rng.integers(0, 3, n)]

    allx, ally = features(n_all), onehot(n_all)
    parts = {
        "x": allx[:n_labelled],
        "y": ally[:n_labelled],
        "allx": allx,
        "ally": ally,
        "tx": features(len(test_ids)),
        "ty": onehot(len(test_ids)),
        "graph": defaultdict(list),
    }
    for node in range(n_all + n_test):
        parts["graph"][node] = [int(v) for v in rng.integers(0, n_all + n_test, 3)]
    for part, obj in parts.items():
        (raw / f"ind.{name.lower()}.{part}").write_bytes(pickle.dumps(obj, protocol=2))
    (raw / f"ind.{name.lower()}.test.index").write_text("\n".join(map(str, test_ids)) + "\n")
    return raw


def write_cifar(root: Path) -> Path:
    """A cifar-10-batches-py folder in the real pickle format: 5 train batches and a test batch
    of CIFAR_PER_CLASS images per class each."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = [c for c in range(10) for _ in range(CIFAR_PER_CLASS)]
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump(
                {
                    "batch_label": name,
                    "labels": labels,
                    "data": data,
                    "filenames": [f"{i}.png" for i in range(len(labels))],
                },
                f,
            )
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_vis": 3072,
            },
            f,
        )
    return folder


def compose_cfg(
    tmp_path: Path, overrides: list[str], job: str = "job", conf: Path = CONF
) -> DictConfig:
    """The real conf/train.yaml (or `conf`'s) with `overrides`, output in `tmp_path/job`,
    Hydra state set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"paths.log_dir={tmp_path}", *overrides], return_hydra_config=True
        )
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / job)
        del cfg.hydra  # a job's config has no hydra node; HydraConfig keeps its own copy
    return cfg


def script(name: str) -> ModuleType:
    """One of the project's Hydra scripts (train.py, eval.py) imported as a module."""
    module = sys.modules.get(f"dl2_script_{name}")
    if module is None:
        spec = importlib.util.spec_from_file_location(f"dl2_script_{name}", ROOT / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


@contextmanager
def logging_restored() -> Iterator[None]:
    """Put every logger back as it was: Hydra configures logging for each job (handlers on the
    captured stdout and on the job's train.log), which must not outlive the call."""

    def every_logger() -> list[logging.Logger]:
        return [
            logging.getLogger(),
            *(
                v
                for v in list(logging.Logger.manager.loggerDict.values())
                if isinstance(v, logging.Logger)
            ),
        ]

    saved = {
        id(lg): (list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in every_logger()
    }
    try:
        yield
    finally:
        for lg in every_logger():  # loggers made meanwhile go back to the defaults
            handlers, level, propagate, disabled = saved.get(
                id(lg), ([], logging.NOTSET, True, False)
            )
            for handler in lg.handlers:
                if handler not in handlers:
                    handler.close()
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


def run_main(main: Callable[[], Any], argv: list[str]) -> int:
    """Call an entry point with `argv` as its command line (argv[0] the script) in this
    process; the exit status it would end with (0, or the SystemExit code). Errors are
    reported as the script reports them, one line for a bad value, whatever tracer (coverage)
    runs: Hydra raises instead when it believes a debugger is attached."""
    saved_argv, saved_check = sys.argv, hydra_utils.is_under_debugger
    saved_module = os.environ.get("HYDRA_MAIN_MODULE")
    sys.argv = list(argv)
    hydra_utils.is_under_debugger = lambda: False
    # Hydra finds conf/ beside the script's file, as for `python train.py`, rather than as a
    # package named after the module it was imported as
    os.environ["HYDRA_MAIN_MODULE"] = "__main__"
    GlobalHydra.instance().clear()
    try:
        with logging_restored():
            main()
        return 0
    except SystemExit as done:
        code = done.code
        if isinstance(code, str):  # sys.exit("message") prints it, exit status 1
            print(code, file=sys.stderr)
            return 1
        return int(code or 0)
    finally:
        sys.argv, hydra_utils.is_under_debugger = saved_argv, saved_check
        if saved_module is None:
            os.environ.pop("HYDRA_MAIN_MODULE", None)
        else:
            os.environ["HYDRA_MAIN_MODULE"] = saved_module
        GlobalHydra.instance().clear()
        sys.stdout.flush()
        sys.stderr.flush()


def train_py(*args: str) -> int:
    """`python train.py <args>` in this process: its exit status."""
    return run_main(script("train").cli, ["train.py", *args])


def eval_py(*args: str) -> int:
    """`python eval.py <args>` in this process (the training run's overrides applied)."""
    return run_main(script("eval").cli, ["eval.py", *args])


def generate_py(*args: str) -> int:
    """`python -m dl2.generate <args>` in this process."""
    from dl2 import generate

    return run_main(generate.main, ["generate.py", *args])


def sweep_py(*args: str, launch: Callable[..., int] | None = None) -> int:
    """`python sweep.py <args>` in this process, its multiruns trained here too
    (`inprocess_multirun`) unless `launch` says otherwise."""
    from dl2.studies import cli

    return run_main(
        lambda: sys.exit(cli.main(list(args), launch=launch or inprocess_multirun)),
        ["sweep.py", *args],
    )


def inprocess_multirun(
    overrides: list[str], sweep_folder: Path, progress: Callable[[int], None] | None = None
) -> int:
    """The study runner's launcher for tests: the same `train.py -m` command line, its jobs
    trained one after another in this process by Hydra's basic launcher (a launcher the
    runner chose for parallel jobs is left out); `progress` hears the count at the end."""
    kept = [
        o
        for o in overrides
        if override_key(o) != "launcher" and not o.startswith("hydra.launcher.")
    ]
    print("+ train.py -m " + " ".join(kept), flush=True)
    code = train_py("-m", *kept, "launcher=local", f"hydra.sweep.dir={sweep_folder}")
    if progress is not None:
        progress(sum(1 for _ in sweep_folder.rglob("results.json")))
    return code


def multirun_jobs(overrides: list[str]) -> list[tuple[str, ...]]:
    """The jobs a multirun's overrides make: Hydra's product of their comma lists."""
    swept = []
    for override in overrides:
        key, _, values = override.partition("=")
        swept.append([f"{key}={value}" for value in values.split(",")])
    return list(itertools.product(*swept))


def run_script(
    *args: str,
    cwd: Path = ROOT,
    check: bool = True,
    timeout: int = 600,
    env: dict[str, str | None] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess:
    """Run a project script (train.py, sweep.py, ...) in a new process with this interpreter,
    as a user would: for the tests whose subject is the process (its exit code, its output,
    signals, launchers). A None in `env` leaves that variable out."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    env = {k: v for k, v in env.items() if v is not None}
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc
