"""Time one padding-study job two ways on this machine: a plain PyTorch loop of the protocol
(Adadelta, batch 200 unshuffled, up to 50 epochs, early stopping on val loss with patience 8,
test with the best weights) and the same job through dl2's train.py. Prints both and the ratio.

    python benchmarks/padding_speed.py [--conv-type fconv] [--arch net1] [--protocol reference]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dl2.data.boxes import generate_boxes, split_seeds
from dl2.nets.cnn import CONV_TYPES, BoxCNN

ROOT = Path(__file__).resolve().parents[1]


def plain_loop(
    arch: str, conv_type: str, protocol: str, seed: int, max_epochs: int, patience: int
) -> tuple[float, float, int]:
    """The protocol in plain PyTorch; returns (seconds, shifted test accuracy, epochs run)."""
    start = time.perf_counter()
    seeds = split_seeds(protocol, 42)
    xtr, ytr = map(torch.from_numpy, generate_boxes(2000, seeds["train"]))
    xva, yva = map(torch.from_numpy, generate_boxes(1000, seeds["val"]))
    xte, yte = map(torch.from_numpy, generate_boxes(1000, seeds["test"], shifted=True))
    torch.manual_seed(seed)
    pad, pad_size = CONV_TYPES[conv_type]
    net = BoxCNN(arch, pad, pad_size)
    opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.9, eps=1e-6, weight_decay=5e-5)
    best, best_state, bad, epoch = float("inf"), None, 0, 0
    for epoch in range(max_epochs):  # noqa: B007
        net.train()
        for i in range(0, len(xtr), 200):
            opt.zero_grad()
            F.cross_entropy(net(xtr[i : i + 200]), ytr[i : i + 200]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = sum(
                F.cross_entropy(net(xva[i : i + 200]), yva[i : i + 200]).item()
                for i in range(0, len(xva), 200)
            ) / (len(xva) // 200)
        if val < best:
            best, best_state, bad = val, copy.deepcopy(net.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    return time.perf_counter() - start, acc, epoch + 1


def dl2_run(arch: str, conv_type: str, protocol: str, seed: int) -> tuple[float, float, dict]:
    """The same job through train.py (a fresh process, as a user runs it): the process's wall
    time, the job's own wall time from results.json (no interpreter start-up) and its metrics."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(ROOT / "train.py"),
            f"model={arch}",
            f"model.conv_type={conv_type}",
            f"data.protocol={protocol}",
            f"seed={seed}",
            "logger=csv",
            f"paths.log_dir={tmp}",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        total = time.perf_counter() - start
        results = json.loads(next(Path(tmp).rglob("results.json")).read_text())
        return total, results["wall_time_s"], results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="net1")
    parser.add_argument("--conv-type", default="fconv", choices=list(CONV_TYPES))
    parser.add_argument("--protocol", default="independent")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    seconds, acc, epochs = plain_loop(args.arch, args.conv_type, args.protocol, args.seed, 50, 8)
    print(f"plain loop : {seconds:6.1f} s ({epochs} epochs, test/acc {acc:.3f})")
    total, job, results = dl2_run(args.arch, args.conv_type, args.protocol, args.seed)
    print(
        f"train.py   : {total:6.1f} s whole process, {job:.1f} s in the job "
        f"({results['epochs_run']} epochs, test/acc {results['metrics']['test/acc']:.3f})"
    )
    print(f"ratio      : {total / seconds:.2f} (process), {job / seconds:.2f} (job)")


if __name__ == "__main__":
    main()
