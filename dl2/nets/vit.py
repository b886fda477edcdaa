"""A ViT-style classifier built from the GPT's transformer block (non-causal here): patch
embedding, optional learned position embedding, class token or mean pooling, linear head."""

from __future__ import annotations

import torch
from torch import nn

from dl2.errors import ConfigValueError, check_choice, check_positive
from dl2.nets.transformer import Block, RMSNorm, init_weights

POOLS = ("cls", "mean")
VIT_POS_EMBS = ("learned", "none")


class ViT(nn.Module):
    """Images (B, C, H, W) -> patches of `patch_size` -> n_layer pre-norm blocks -> logits."""

    def __init__(
        self,
        image_size: int = 32,
        patch_size: int = 4,
        in_channels: int = 3,
        num_classes: int = 10,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        dropout: float = 0.1,
        pos_emb: str = "learned",
        pool: str = "cls",
        attn: str = "sdpa",
    ) -> None:
        super().__init__()
        for key, value in (
            ("image_size", image_size),
            ("patch_size", patch_size),
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("n_layer", n_layer),
            ("n_head", n_head),
            ("n_embd", n_embd),
        ):
            check_positive(key, value)
        if image_size % patch_size:
            raise ConfigValueError("patch_size", patch_size, f"must divide image_size={image_size}")
        if n_embd % n_head:
            raise ConfigValueError("n_embd", n_embd, f"must be divisible by n_head={n_head}")
        check_choice("pos_emb", pos_emb, VIT_POS_EMBS)
        check_choice("pool", pool, POOLS)
        self.pool = pool
        n_patches = (image_size // patch_size) ** 2
        n_tokens = n_patches + (pool == "cls")
        self.patch = nn.Conv2d(in_channels, n_embd, patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, n_embd)) if pool == "cls" else None
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, n_embd)) if pos_emb == "learned" else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(n_embd, n_head, dropout, causal=False, attn=attn) for _ in range(n_layer)
        )
        self.norm = RMSNorm(n_embd)
        self.head = nn.Linear(n_embd, num_classes)
        init_weights(self, n_layer)
        for param in (self.cls, self.pos):
            if param is not None:
                nn.init.normal_(param, 0.0, 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (B, patches, n_embd)
        if self.cls is not None:
            tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)
        if self.pos is not None:
            tokens = tokens + self.pos
        h = self.drop(tokens)
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        return self.head(h[:, 0] if self.pool == "cls" else h.mean(dim=1))
