"""One rotation-study job against its arithmetic on this machine: the SmallCNN's training steps
(45k images, batch 64, Adam), validation (5k) and the 13 rotated test sets (10k each) on
tensors already in memory, vs the same job through train.py (data loading, the random
rotation of every training image, the test rotations, checkpoints, logging).

    python benchmarks/rotation_speed.py --data-dir data/cifar-local [--augment rotation]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dl2.nets.cnn import SmallCNN

ROOT = Path(__file__).resolve().parents[1]


def arithmetic(
    n_train: int = 45000, n_val: int = 5000, n_test: int = 10000, angles: int = 13, batch: int = 64
) -> float:
    """Seconds of the job's steps and forwards alone, on random tensors of the real shapes."""
    torch.manual_seed(0)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    start = time.perf_counter()
    net.train()
    for _ in range(-(-n_train // batch)):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        for _ in range(-(-n_val // batch) + angles * -(-n_test // batch)):
            net(x).argmax(1)
    return time.perf_counter() - start


def job(data_dir: str, augment: str) -> tuple[float, float]:
    """(whole process, inside the job) seconds of one epoch through train.py."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(ROOT / "train.py"),
            "experiment=rotation",
            "model=cnn",
            f"data.augment={augment}",
            f"data.data_dir={data_dir}",
            "data.download=false",
            "data.verify=false",
            "trainer.max_epochs=1",
            "logger=csv",
            f"paths.log_dir={tmp}",
            "trainer.enable_progress_bar=false",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
        total = time.perf_counter() - start
        results = json.loads(next(Path(tmp).rglob("results.json")).read_text())
        return total, results["wall_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a folder holding cifar-10-batches-py/")
    parser.add_argument("--augment", default="rotation", choices=["none", "rotation"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    alone = arithmetic()
    print(f"arithmetic alone : {alone:6.1f} s")
    total, inside = job(args.data_dir, args.augment)
    print(f"train.py         : {total:6.1f} s whole process, {inside:.1f} s in the job")
    print(
        f"ratio            : {inside / alone:.2f} (job / arithmetic), "
        f"{total / alone:.2f} (process / arithmetic)"
    )


if __name__ == "__main__":
    main()
