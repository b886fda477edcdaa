"""A GPT decoder (RoPE or learned positions, RMSNorm, fused qkv, sdpa or manual attention) and
the transformer block it is built from, which also serves non-causal models (the ViT).

Reads top to bottom: RMSNorm, rotary embeddings, attention (with a key/value cache for
generation), MLP, Block, GPT.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dl2.errors import ConfigValueError, check_choice, check_positive

POS_EMBS = ("rope", "absolute", "none")
ATTNS = ("sdpa", "manual")


class RMSNorm(nn.RMSNorm):
    """x / sqrt(mean(x^2) + eps) * weight over the last dimension: torch's fused RMSNorm (the
    same numbers as writing it out in fp32, and no slower), eps 1e-6."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__(dim, eps=eps)


class RotaryEmbedding(nn.Module):
    """Rotates each (even, odd) pair of a head's features by an angle pos * base^(-2i/d), so
    that q·k depends on positions only through their difference. The pair (x1, x2) as the
    complex number x1 + i·x2 times e^(i·angle) is the rotation (x1 cos - x2 sin,
    x1 sin + x2 cos) in one kernel: the same numbers, faster than writing it out."""

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ConfigValueError("head_dim", head_dim, "RoPE needs an even head dimension")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
        self.register_buffer(
            "rotation", torch.complex(angles.cos(), angles.sin()), persistent=False
        )

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (batch, heads, time, head_dim), positions start..start+time-1."""
        t = x.shape[-2]
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        rotated = torch.view_as_real(pairs * self.rotation[start : start + t])
        return rotated.flatten(-2).type_as(x)


class KVCache:
    """Keys and values of every layer for the tokens seen so far (generation only)."""

    def __init__(self, n_layer: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def seen(self, layer: int = 0) -> int:
        """How many tokens `layer` holds keys for."""
        keys = self.keys[layer]
        return 0 if keys is None else keys.shape[-2]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class Attention(nn.Module):
    """Multi-head self-attention: one fused qkv Linear (with bias), an output projection,
    attention and residual dropout, scale 1/sqrt(head_dim). `causal=False` for encoders."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.1,
        causal: bool = True,
        attn: str = "sdpa",
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ConfigValueError("n_embd", n_embd, f"must be divisible by n_head={n_head}")
        check_choice("attn", attn, ATTNS)
        self.n_head, self.head_dim = n_head, n_embd // n_head
        self.causal, self.attn, self.rope, self.dropout = causal, attn, rope, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        start = cache.seen(layer) if cache is not None else 0
        if self.rope is not None:
            q, k = self.rope(q, start), self.rope(k, start)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        mask = self._mask(t, k.shape[-2], x.device)
        if self.attn == "sdpa":
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                dropout_p=self.dropout if self.training else 0.0,
                is_causal=self.causal and mask is None and t > 1,
            )
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            if self.causal and t > 1:
                full = (
                    mask
                    if mask is not None
                    else torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
                )
                scores = scores.masked_fill(~full, float("-inf"))
            y = self.attn_drop(scores.softmax(dim=-1)) @ v
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))

    def _mask(self, t: int, total: int, device: torch.device) -> torch.Tensor | None:
        """Causal mask for `t` new queries after `total - t` cached keys (None when the plain
        lower-triangular mask, or no mask, does)."""
        if not self.causal or t == 1 or t == total:
            return None
        return torch.ones(t, total, dtype=torch.bool, device=device).tril(total - t)


class MLP(nn.Module):
    """Linear(4n) -> GELU (tanh) -> Linear(n) -> dropout."""

    def __init__(self, n_embd: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x), approximate="tanh")))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(RMSNorm(x)), then x + mlp(RMSNorm(x))."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.1,
        causal: bool = True,
        attn: str = "sdpa",
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = RMSNorm(n_embd)
        self.attn = Attention(n_embd, n_head, dropout, causal, attn, rope)
        self.norm2 = RMSNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cache, layer)
        return x + self.mlp(self.norm2(x))


@dataclass
class GPTConfig:
    """Everything needed to rebuild a GPT; stored in its checkpoints."""

    vocab_size: int
    block_size: int = 128
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.1
    pos_emb: str = "rope"
    attn: str = "sdpa"
    rope_base: float = 10000.0


def init_weights(model: nn.Module, n_layer: int) -> None:
    """normal(0, 0.02) for Linear and Embedding weights, zero biases, and residual output
    projections (`*.proj` into the residual stream) normal(0, 0.02/sqrt(2*n_layer))."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            std = (
                0.02 / math.sqrt(2 * n_layer) if name.endswith(("attn.proj", "mlp.proj")) else 0.02
            )
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)


class GPT(nn.Module):
    """Decoder-only transformer over tokens: embeddings, n_layer causal blocks, RMSNorm, head."""

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 128,
        n_layer: int = 6,
        n_head: int = 6,
        n_embd: int = 384,
        dropout: float = 0.1,
        pos_emb: str = "rope",
        attn: str = "sdpa",
        rope_base: float = 10000.0,
    ) -> None:
        super().__init__()
        for key, value in (
            ("vocab_size", vocab_size),
            ("block_size", block_size),
            ("n_layer", n_layer),
            ("n_head", n_head),
            ("n_embd", n_embd),
        ):
            check_positive(key, value)
        if n_embd % n_head:
            raise ConfigValueError("n_embd", n_embd, f"must be divisible by n_head={n_head}")
        check_choice("pos_emb", pos_emb, POS_EMBS[:2])
        check_choice("attn", attn, ATTNS)
        if not 0.0 <= dropout < 1.0:
            raise ConfigValueError("dropout", dropout, "must be in [0, 1)")
        self.config = GPTConfig(
            vocab_size, block_size, n_layer, n_head, n_embd, dropout, pos_emb, attn, rope_base
        )
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd) if pos_emb == "absolute" else None
        rope = (
            RotaryEmbedding(n_embd // n_head, block_size, rope_base) if pos_emb == "rope" else None
        )
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(n_embd, n_head, dropout, True, attn, rope) for _ in range(n_layer)
        )
        self.norm = RMSNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        init_weights(self, n_layer)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (batch, time, vocab) for token ids (batch, time); with `cache`, `idx` holds
        only the new tokens and the cache the keys/values of the earlier ones."""
        start = cache.seen() if cache is not None else 0
        t = idx.shape[1]
        if start + t > self.config.block_size:
            raise ValueError(
                f"sequence of {start + t} tokens exceeds block_size={self.config.block_size}"
            )
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start, start + t, device=idx.device))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        return self.head(self.norm(x))

    def config_dict(self) -> dict:
        return asdict(self.config)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: weight decay on Linear weights only (not biases, norms or
    embeddings). Every parameter lands in exactly one group."""
    decay, no_decay = [], []
    linear_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    for param in model.parameters():
        if param.requires_grad:
            (decay if id(param) in linear_weights else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
