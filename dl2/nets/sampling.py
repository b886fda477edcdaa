"""Choosing the next token: greedy, or sampling with temperature and top-k or top-p (nucleus)
filtering; and autoregressive generation with a key/value cache."""

from __future__ import annotations

import torch

from dl2.errors import ConfigValueError
from dl2.nets.transformer import GPT, KVCache

# the most characters one call generates (minutes of CPU with gpt-mini); a larger `length`
# is almost always a typo, and would run silently for hours
MAX_LENGTH = 100_000


def check_sampling(temperature: float, top_k: int | None, top_p: float | None, length: int) -> None:
    """Fail on settings that have no meaning, naming the key."""
    if top_k is not None and top_p is not None:
        raise ConfigValueError("top_k", top_k, f"give top_k or top_p, not both (top_p={top_p})")
    if temperature <= 0:
        raise ConfigValueError(
            "temperature", temperature, "must be > 0 (use greedy=true for argmax decoding)"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigValueError("top_k", top_k, "must be a positive integer")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ConfigValueError("top_p", top_p, "must be in (0, 1]")
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= MAX_LENGTH:
        raise ConfigValueError("length", length, f"must be an integer from 1 to {MAX_LENGTH}")


def filter_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, -inf elsewhere."""
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities sum to at least p (the
    most likely token always), -inf elsewhere."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token(
    logits: torch.Tensor,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of `logits` (batch, vocab)."""
    if greedy:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None:
        logits = filter_top_k(logits, top_k)
    if top_p is not None:
        logits = filter_top_p(logits, top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: GPT,
    idx: torch.Tensor,
    length: int,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Append `length` tokens to `idx` (batch, time); returns (batch, time + length).

    The context is the last block_size tokens. With `use_cache`, each new token costs one
    position's forward while the context fits in block_size; once it is longer, the window
    slides and is recomputed each step, exactly as without the cache.
    """
    check_sampling(temperature, top_k, top_p, length)
    block = model.config.block_size
    was_training = model.training
    model.eval()
    idx = idx[:, -block:]
    out = idx
    cache = KVCache(len(model.blocks)) if use_cache else None
    pending = idx  # tokens not yet seen by the cache
    for _ in range(length):
        context = out[:, -block:]
        if cache is not None and out.shape[1] <= block:
            logits = model(pending, cache)[:, -1]
        else:
            logits = model(context)[:, -1]
        token = next_token(logits, greedy, temperature, top_k, top_p, generator)[:, None]
        out = torch.cat([out, token], dim=1)
        pending = token
    model.train(was_training)
    return out
