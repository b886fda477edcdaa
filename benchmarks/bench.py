"""`make bench`: every study job against a plain PyTorch loop of the same arithmetic and against
what this machine can do, measured in one run.

For each row: wall time of the plain loop and of the dl2 job (inside the job, from its
results.json), the FLOPs of the arithmetic (matmuls and convolutions counted once with
torch.utils.flop_counter), the achieved GFLOP/s of each, and their share of this run's
ceiling (a large fp32 matmul). Rows: the padding job (Net1, fconv and circular), GCN on Cora,
the GPT (gpt-micro), and with --cifar-dir the rotation job.

    python benchmarks/bench.py [--quick] [--cifar-dir data/cifar-local] [--data-dir data]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    name: str
    flops: float  # counted FLOPs of the whole job's arithmetic
    plain_s: float
    dl2_s: float


def ceiling_gflops(n: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of an n x n matmul on this machine, now."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def counted(fn: Callable[[], None]) -> float:
    """FLOPs that one call of `fn` performs (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def dl2_job(overrides: list[str]) -> float:
    """Seconds inside one train.py job (results.json's wall time)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            str(ROOT / "train.py"),
            *overrides,
            "logger=csv",
            f"paths.log_dir={tmp}",
            "trainer.enable_progress_bar=false",
        ]
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
        results = json.loads(next(Path(tmp).rglob("results.json")).read_text())
        return results["wall_time_s"]


def padding_row(conv_type: str, epochs: int) -> Row:
    """Net1 on the reference protocol for `epochs` epochs (no early stop), then test."""
    from dl2.data.boxes import generate_boxes, split_seeds
    from dl2.nets.cnn import CONV_TYPES, BoxCNN

    seeds = split_seeds("reference", 42)
    xtr, ytr = map(torch.from_numpy, generate_boxes(2000, seeds["train"]))
    xva, yva = map(torch.from_numpy, generate_boxes(1000, seeds["val"]))
    pad, size = CONV_TYPES[conv_type]
    torch.manual_seed(0)
    plain = BoxCNN("net1", pad, size, channels_last=False, fused_pad=False)
    opt = torch.optim.Adadelta(plain.parameters(), lr=1.0, rho=0.9, eps=1e-6, weight_decay=5e-5)

    def step(i: int) -> None:
        opt.zero_grad()
        F.cross_entropy(plain(xtr[i : i + 200]), ytr[i : i + 200]).backward()
        opt.step()

    evals = 2 * len(xva) // 200 * epochs + 2 * 2 * len(xva) // 200  # val each epoch, + test
    flops = 10 * epochs * counted(lambda: step(0))
    with torch.no_grad():
        flops += evals * counted(lambda: plain(xva[:200]))
    start = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(xtr), 200):
            step(i)
        with torch.no_grad():
            for i in range(0, len(xva), 200):
                plain(xva[i : i + 200])
    plain_s = time.perf_counter() - start
    dl2_s = dl2_job(
        [
            f"model.conv_type={conv_type}",
            "data.protocol=reference",
            f"trainer.max_epochs={epochs}",
            "callbacks.early_stopping.patience=1000",
        ]
    )
    return Row(f"padding, Net1 {conv_type}, {epochs} epochs", flops, plain_s, dl2_s)


def gcn_plain(data_dir: str, epochs: int, seed: int = 0) -> tuple[float, float]:
    """(FLOPs, seconds) of GCN on Cora in a plain PyG loop: full batch, `epochs` epochs with
    a validation pass each."""
    from dl2.data.graphs import PlanetoidDataModule
    from dl2.nets.gnn import GCN

    graph = PlanetoidDataModule(data_dir=data_dir).load()
    torch.manual_seed(seed)
    net = GCN(graph.num_features, int(graph.y.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)

    def step() -> None:
        net.train()
        opt.zero_grad()
        out = net(graph.x, graph.edge_index)
        F.cross_entropy(out[graph.train_mask], graph.y[graph.train_mask]).backward()
        opt.step()

    def evaluate() -> None:
        net.eval()
        with torch.no_grad():
            net(graph.x, graph.edge_index).argmax(-1)

    flops = epochs * (counted(step) + counted(evaluate))
    start = time.perf_counter()
    for _ in range(epochs):
        step()
        evaluate()
    return flops, time.perf_counter() - start


def gcn_row(data_dir: str, epochs: int) -> Row:
    """GCN on Cora (seed 0): the plain loop against one dl2 job."""
    flops, plain_s = gcn_plain(data_dir, epochs, 0)
    overrides = [
        "experiment=gnn",
        f"paths.data_dir={Path(data_dir).resolve()}",
        f"trainer.max_epochs={epochs}",
    ]
    return Row(f"GCN on Cora, {epochs} epochs", flops, plain_s, dl2_job(overrides))


def gpt_row(steps: int, batch: int = 32, block: int = 128) -> Row:
    """gpt-micro (4 layers, 4 heads, 128 wide, dropout 0.1), AdamW, `steps` steps on random
    windows (plain loop) vs the Grimm text through train.py (plus its one validation and test
    pass of 2 batches each, and reading the text)."""
    from dl2.nets.transformer import GPT, decay_groups

    torch.manual_seed(0)
    model = GPT(80, block, 4, 4, 128, dropout=0.1)
    opt = torch.optim.AdamW(decay_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    x = torch.randint(0, 80, (batch, block))
    y = torch.randint(0, 80, (batch, block))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        F.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    flops = steps * counted(step)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    plain_s = time.perf_counter() - start
    dl2_s = dl2_job(
        [
            "experiment=gpt",
            "model=gpt-micro",
            f"trainer.max_steps={steps}",
            f"trainer.val_check_interval={steps}",
            "+trainer.limit_val_batches=2",
            "+trainer.limit_test_batches=2",
            "data.batch_size=32",
            "data.block_size=128",
            "callbacks.text_samples.every_n_steps=1000000",
        ]
    )
    return Row(f"GPT gpt-micro, {steps} steps of 32 x 128", flops, plain_s, dl2_s)


def rotation_row(cifar_dir: str) -> Row:
    """One rotation-CNN epoch (RandomRotation(360)), validation and 13 test angles."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from rotation_speed import arithmetic

    from dl2.nets.cnn import SmallCNN

    net = SmallCNN()
    x, y = torch.rand(64, 3, 32, 32), torch.randint(0, 10, (64,))

    def step() -> None:
        F.cross_entropy(net(x), y).backward()

    with torch.no_grad():
        forward = counted(lambda: net(x))
    flops = 704 * counted(step) + (79 + 13 * 157) * forward
    plain_s = arithmetic()
    dl2_s = dl2_job(
        [
            "experiment=rotation",
            "model=cnn",
            "data.augment=rotation",
            f"data.data_dir={Path(cifar_dir).resolve()}",
            "data.download=false",
            "data.verify=false",
            "trainer.max_epochs=1",
        ]
    )
    return Row("rotation CNN, 1 epoch + 13 test angles", flops, plain_s, dl2_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and steps")
    parser.add_argument(
        "--data-dir",
        default=str(ROOT / "data"),
        help="holds planetoid/Cora/raw (and gutenberg/ for the GPT)",
    )
    parser.add_argument("--cifar-dir", help="holds cifar-10-batches-py/ (adds the rotation row)")
    args = parser.parse_args()
    epochs, gcn_epochs, steps = (2, 20, 10) if args.quick else (10, 200, 100)
    ceiling = ceiling_gflops()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; ceiling "
        f"(2048x2048 fp32 matmul): {ceiling:.1f} GFLOP/s",
        flush=True,
    )
    print(
        "| job | GFLOP | plain loop | dl2 job | dl2 / plain | plain GFLOP/s | dl2 GFLOP/s "
        "| dl2 / ceiling |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    jobs = [
        lambda: padding_row("fconv", epochs),
        lambda: padding_row("circular", epochs),
        lambda: gcn_row(args.data_dir, gcn_epochs),
        lambda: gpt_row(steps),
    ]
    if args.cifar_dir:
        jobs.append(lambda: rotation_row(args.cifar_dir))
    for job in jobs:  # each row as soon as it is measured
        r = job()
        plain_rate = r.flops / r.plain_s / 1e9
        rate = r.flops / r.dl2_s / 1e9
        print(
            f"| {r.name} | {r.flops / 1e9:.1f} | {r.plain_s:.1f} s | {r.dl2_s:.1f} s | "
            f"{r.dl2_s / r.plain_s:.2f} | {plain_rate:.1f} | {rate:.1f} | "
            f"{rate / ceiling:.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
