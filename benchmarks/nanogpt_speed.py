"""dl2's GPT against nanoGPT's on this machine: the same sizes, batch, dropout, AdamW and gradient
clipping (1.0, as both train.py's), the same plain training loop, wall time per step over many
steps; then dl2's model trained through Lightning (its LanguageModel task and Trainer, the
throughput it logs as `train/tokens_per_s`). The rows alternate in rounds, so a drifting CPU
clock hits all alike. Variants of dl2's model say where a difference comes from (positions:
RoPE vs learned), and `--profile` prints the operators each one spends its step in.

nanoGPT is not part of dl2: point the script at a checkout's model.py
(`git clone https://github.com/karpathy/nanoGPT`).

    python benchmarks/nanogpt_speed.py --nanogpt ../nanoGPT/model.py [--steps 30] [--rounds 4]
        [--profile]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from dl2.nets.transformer import GPT, decay_groups

VOCAB = 65  # nanoGPT's shakespeare_char vocabulary; dl2's Grimm text has about 80
LIGHTNING = "dl2 (RoPE, RMSNorm) through Lightning: LanguageModel + Trainer"


def load_nanogpt(path: Path):
    """nanoGPT's model module from its model.py."""
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stepper(
    model: torch.nn.Module, params: list, loss_of: Callable, batch: int, block: int
) -> Callable[[], None]:
    """One training step (forward, loss, backward, AdamW) on fixed random tokens."""
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, VOCAB, (batch, block), generator=gen)
    y = torch.randint(0, VOCAB, (batch, block), generator=gen)
    model.train()

    def step() -> None:
        loss = loss_of(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def lightning_round(args: argparse.Namespace) -> Callable[[], float]:
    """A function that trains dl2's GPT (RoPE) for `args.steps` steps through LanguageModel and
    a Lightning Trainer on the same fixed batch, and returns the seconds per step it logged."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from dl2.tasks.language_model import LanguageModel

    torch.manual_seed(0)
    net = GPT(VOCAB, args.block, args.n_layer, args.n_head, args.n_embd, dropout=0.1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, VOCAB, (args.batch, args.block), generator=gen)
    y = torch.randint(0, VOCAB, (args.batch, args.block), generator=gen)
    data = TensorDataset(x.repeat(args.steps + 3, 1), y.repeat(args.steps + 3, 1))
    task = LanguageModel(net, lambda params: torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95)))

    def one_round() -> float:
        trainer = L.Trainer(
            max_steps=args.steps + 3,
            gradient_clip_val=1.0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            accelerator="cpu",
            devices=1,
        )
        task._tokens, task._seconds, task._last_batch_end = 0, 0.0, None
        trainer.fit(task, DataLoader(data, batch_size=args.batch))
        tokens_per_s = float(trainer.callback_metrics["train/tokens_per_s"])
        return args.batch * args.block / tokens_per_s

    return one_round


def models(nanogpt, args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    """name -> training step, for nanoGPT and the dl2 variants."""
    size = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd)
    torch.manual_seed(0)
    nano = nanogpt.GPT(
        nanogpt.GPTConfig(block_size=args.block, vocab_size=VOCAB, dropout=0.1, bias=True, **size)
    )
    nano_params = nano.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu").param_groups
    out = {
        "nanoGPT (learned positions, LayerNorm)": stepper(
            nano, nano_params, lambda m, x, y: m(x, y)[1], args.batch, args.block
        )
    }

    def dl2_loss(m, x, y):
        return F.cross_entropy(m(x).flatten(0, 1), y.flatten())

    for name, pos in (
        ("dl2 (RoPE, RMSNorm)", "rope"),
        ("dl2 (learned positions, RMSNorm)", "absolute"),
    ):
        torch.manual_seed(0)
        model = GPT(VOCAB, args.block, dropout=0.1, pos_emb=pos, **size)
        out[name] = stepper(model, decay_groups(model, 0.1), dl2_loss, args.batch, args.block)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="nanoGPT's model.py")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument(
        "--profile", action="store_true", help="also print each model's top operators (10 steps)"
    )
    args = parser.parse_args()
    steps = models(load_nanogpt(args.nanogpt), args)
    for step in steps.values():  # warm-up
        for _ in range(3):
            step()
    lightning = lightning_round(args)
    times: dict[str, list[float]] = {name: [] for name in steps}
    times[LIGHTNING] = []
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - start) / args.steps)
        times[LIGHTNING].append(lightning())
    base = statistics.median(times[next(iter(steps))])
    tokens = args.batch * args.block
    print(
        f"{args.n_layer} layers, {args.n_head} heads, {args.n_embd} wide, batch {args.batch}"
        f" x {args.block}, dropout 0.1, AdamW, clip 1.0; {args.rounds} rounds of {args.steps} "
        "steps, "
        f"{torch.get_num_threads()} threads; median round per model (range of rounds)"
    )
    print("| model | ms per step | tokens/s | speed vs nanoGPT |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        mid = statistics.median(ts)
        print(
            f"| {name} | {mid * 1e3:.1f} ({min(ts) * 1e3:.0f}-{max(ts) * 1e3:.0f}) | "
            f"{tokens / mid:.0f} | {base / mid:.3f}x |"
        )
    if args.profile:
        from torch.profiler import profile

        for name, step in steps.items():
            with profile() as prof:
                for _ in range(10):
                    step()
            print(f"\n{name}: top operators over 10 steps (self CPU time)")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))


if __name__ == "__main__":
    main()
