"""Reflect / replicate / circular padding at the cost of zero padding.

A zero-padded convolution pads inside the conv kernel for free. The other modes go through an
explicit pad (`F.pad`) whose forward and, above all, backward make an epoch of the padding
study's nets far slower than zero padding on a CPU (docs/speed.md). `relu_pad` writes ReLU's
output straight into the padded buffer, fills the border with slice copies, and in the backward
adds each border gradient back onto the element it was copied from (a plain add of thin strips)
under ReLU's mask. One full-size pass each way, as ReLU alone takes; the forward is
bit-identical to `F.pad(F.relu(x), mode=...)` and the gradient equal up to the order of the
additions.
"""

from __future__ import annotations

from functools import cache

import torch

MODES = ("reflect", "replicate", "circular")


@cache
def border_sources(n: int, p: int, mode: str) -> tuple[tuple[int, int], ...]:
    """For a dimension of size `n` padded by `p` on each side: (padded position, source index
    in 0..n-1) of each of the 2p border positions."""
    if mode not in MODES:
        raise ValueError(f"padding mode {mode!r}: allowed {MODES}")
    if mode == "reflect" and p >= n:
        raise ValueError(f"reflect padding {p} needs a size above {p}, got {n}")

    def source(c: int) -> int:
        if mode == "circular":
            return c % n
        if mode == "replicate":
            return min(max(c, 0), n - 1)
        return -c if c < 0 else (2 * (n - 1) - c if c >= n else c)

    left = [(i, source(i - p)) for i in range(p)]
    right = [(n + p + j, source(n + j)) for j in range(p)]
    return tuple(left + right)


def _layout(x: torch.Tensor) -> torch.memory_format:
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


class _ReluPad(torch.autograd.Function):
    """(ReLU if `relu`, then) pad the last two dims of an NCHW tensor by `p` in `mode`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: int, mode: str, relu: bool) -> torch.Tensor:  # noqa: ANN001
        n, c, h, w = x.shape
        layout = _layout(x)
        out = torch.empty(
            (n, c, h + 2 * p, w + 2 * p), dtype=x.dtype, device=x.device, memory_format=layout
        )
        inner = out[:, :, p : p + h, p : p + w]
        if relu:
            torch.clamp_min(x, 0, out=inner)
        else:
            inner.copy_(x)
        rows = out[:, :, p : p + h]
        for i, s in border_sources(w, p, mode):
            rows[..., i] = rows[..., p + s]
        for i, s in border_sources(h, p, mode):
            out[:, :, i] = out[:, :, p + s]
        ctx.p, ctx.mode, ctx.relu, ctx.layout = p, mode, relu, layout
        if relu:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:  # noqa: ANN001
        p, mode = ctx.p, ctx.mode
        h, w = grad.shape[-2] - 2 * p, grad.shape[-1] - 2 * p
        if ctx.relu:
            (out,) = ctx.saved_tensors
            kept = out[:, :, p : p + h, p : p + w]

            def masked(g: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
                return torch.ops.aten.threshold_backward(g, where, 0)
        else:
            kept = None

            def masked(g: torch.Tensor, where: torch.Tensor | None) -> torch.Tensor:
                return g

        inner = grad[:, :, p : p + h, p : p + w]
        gx = masked(inner, kept)
        if gx is inner or not gx.is_contiguous(memory_format=ctx.layout):
            gx = gx.clone(memory_format=ctx.layout)
        cols, rows = border_sources(w, p, mode), border_sources(h, p, mode)
        for i, s in cols:
            gx[..., s] += masked(grad[:, :, p : p + h, i], None if kept is None else kept[..., s])
        for i, s in rows:
            gx[:, :, s] += masked(grad[:, :, i, p : p + w], None if kept is None else kept[:, :, s])
            for j, t in cols:
                gx[:, :, s, t] += masked(
                    grad[:, :, i, j], None if kept is None else kept[:, :, s, t]
                )
        return gx, None, None, None


def relu_pad(x: torch.Tensor, p: int, mode: str, relu: bool = True) -> torch.Tensor:
    """`F.pad(F.relu(x) if relu else x, (p, p, p, p), mode=mode)` for an NCHW tensor, in one
    pass each way; keeps x's memory format (channels_last stays channels_last)."""
    if x.dim() != 4:
        raise ValueError(f"relu_pad takes NCHW tensors, got shape {tuple(x.shape)}")
    if p == 0:
        return torch.relu(x) if relu else x
    border_sources(x.shape[-1], p, mode)  # fails early on a bad mode or size
    border_sources(x.shape[-2], p, mode)
    return _ReluPad.apply(x, p, mode, relu)
