"""sdpa vs manual attention on this machine: time and peak memory of one causal self-attention
layer's forward + backward as the sequence grows (the report's claim: flash attention turns
the quadratic memory of the T x T score matrix into linear). Each point runs in a fresh
process and its peak is that process's maximum resident memory above what it held before the
step, so points do not see each other's allocations.

    python benchmarks/attention_memory.py [--lengths 128,256,512,1024,2048,4096]
        [--width 128] [--heads 4] [--plot reports/bench/attention_memory.png]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_point(length: int, attn: str, width: int, heads: int, repeats: int) -> dict:
    """Seconds per forward + backward and the peak memory it added, in this process."""
    import torch

    from dl2.nets.transformer import Attention

    torch.manual_seed(0)
    layer = Attention(width, heads, dropout=0.0, attn=attn)
    x = torch.randn(1, length, width, requires_grad=True)
    before = peak_rss_mb()
    layer(x).sum().backward()  # the first step sets the peak
    peak = peak_rss_mb() - before
    start = time.perf_counter()
    for _ in range(repeats):
        layer(x).sum().backward()
    return {
        "length": length,
        "attn": attn,
        "seconds": (time.perf_counter() - start) / repeats,
        "peak_mb": peak,
    }


def measure(lengths: list[int], width: int, heads: int, repeats: int) -> list[dict]:
    """Every (length, attention) point, each in its own process."""
    rows = []
    for length in lengths:
        for attn in ("sdpa", "manual"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    str(length),
                    attn,
                    "--width",
                    str(width),
                    "--heads",
                    str(heads),
                    "--repeats",
                    str(repeats),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def plot(rows: list[dict], path: Path, width: int, heads: int) -> None:
    """Memory and time against the sequence length, one panel each, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dl2.files import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for attn, marker in (("sdpa", "o"), ("manual", "s")):
        pts = [r for r in rows if r["attn"] == attn]
        lengths = [r["length"] for r in pts]
        axes[0].plot(lengths, [r["peak_mb"] for r in pts], marker=marker, label=attn)
        axes[1].plot(lengths, [1000 * r["seconds"] for r in pts], marker=marker, label=attn)
    titles = ("peak memory added by one step", "time of one step")
    labels = ("peak memory added (MiB)", "forward + backward (ms)")
    for ax, title, label in zip(axes, titles, labels, strict=True):
        ax.set_title(title)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(
        f"sdpa vs manual attention: one causal self-attention layer's forward + backward "
        f"(width {width}, {heads} heads, batch 1, CPU)"
    )
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="128,256,512,1024,2048,4096")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plot", default=str(ROOT / "reports" / "bench" / "attention_memory.png"))
    parser.add_argument("--one", nargs=2, metavar=("LENGTH", "ATTN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(
            json.dumps(
                one_point(int(args.one[0]), args.one[1], args.width, args.heads, args.repeats)
            )
        )
        return
    rows = measure([int(n) for n in args.lengths.split(",")], args.width, args.heads, args.repeats)
    print(
        f"one causal self-attention layer, width {args.width}, {args.heads} heads, batch 1, "
        "forward + backward"
    )
    print("| length | sdpa ms | manual ms | sdpa peak MiB | manual peak MiB |")
    print("|---:|---:|---:|---:|---:|")
    for length in sorted({r["length"] for r in rows}):
        s, m = (
            next(r for r in rows if r["length"] == length and r["attn"] == a)
            for a in ("sdpa", "manual")
        )
        print(
            f"| {length} | {1000 * s['seconds']:.1f} | {1000 * m['seconds']:.1f} | "
            f"{s['peak_mb']:.1f} | {m['peak_mb']:.1f} |"
        )
    if args.plot:
        plot(rows, Path(args.plot), args.width, args.heads)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
