"""Training and generation speed of the GPT on this machine: tokens/s of a training step for
sdpa vs manual attention (and bf16 / torch.compile on a GPU), and characters/s of generation
with and without the key/value cache.

    python benchmarks/gpt_speed.py [--model gpt-micro] [--batch 32] [--steps 20] [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch

from dl2.nets.sampling import generate
from dl2.nets.transformer import GPT, decay_groups

PRESETS = {
    "gpt-nano": (3, 3, 48),
    "gpt-micro": (4, 4, 128),
    "gpt-mini": (6, 6, 384),
    "gopher-44m": (8, 16, 512),
    "gpt2": (12, 12, 768),
}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def train_speed(
    model: torch.nn.Module,
    batch: int,
    block: int,
    steps: int,
    device: str,
    dtype: torch.dtype | None,
) -> float:
    """Tokens per second of forward + backward + AdamW step (after 3 warm-up steps)."""
    opt = torch.optim.AdamW(decay_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    x = torch.randint(0, 80, (batch, block), device=device)
    y = torch.randint(0, 80, (batch, block), device=device)

    def step() -> None:
        with torch.autocast(device, dtype=dtype, enabled=dtype is not None):
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * block * steps / (time.perf_counter() - start)


def generation_speed(model: GPT, length: int, use_cache: bool, device: str) -> float:
    idx = torch.zeros(1, 1, dtype=torch.long, device=device)
    generate(model, idx, 5, greedy=True, use_cache=use_cache)
    sync(device)
    start = time.perf_counter()
    generate(model, idx, length, greedy=True, use_cache=use_cache)
    sync(device)
    return length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt-micro", choices=list(PRESETS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--gen-length",
        type=int,
        default=500,
        help="new characters per generation (the generation model's context "
        "holds them all, so the cache is used throughout)",
    )
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = (
        torch.cuda.get_device_name(0)
        if device == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"{args.model}, batch {args.batch}, block {args.block}, on {name}, "
        f"torch {torch.__version__}"
    )
    n_layer, n_head, n_embd = PRESETS[args.model]
    dtypes = [None, torch.bfloat16] if device == "cuda" else [None]
    for attn in ("sdpa", "manual"):
        for dtype in dtypes:
            torch.manual_seed(0)
            model = GPT(80, args.block, n_layer, n_head, n_embd, dropout=0.1, attn=attn).to(device)
            runner = torch.compile(model) if args.compile else model
            speed = train_speed(runner, args.batch, args.block, args.steps, device, dtype)
            label = f"{attn:6s} {'bf16' if dtype else 'fp32'}{' compiled' if args.compile else ''}"
            print(f"train  {label:22s} {speed:10.0f} tokens/s")
    block = max(args.block, args.gen_length + 1)
    model = GPT(80, block, n_layer, n_head, n_embd, dropout=0.0).to(device).eval()
    for use_cache in (True, False):
        speed = generation_speed(model, args.gen_length, use_cache, device)
        print(
            f"generate {'with' if use_cache else 'without'} cache {speed:10.0f} chars/s "
            f"({args.gen_length} characters, greedy, context {block})"
        )


if __name__ == "__main__":
    main()
