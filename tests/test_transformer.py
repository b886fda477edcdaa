"""The GPT's parts: causality, RoPE, sdpa = manual, RMSNorm, init, decay groups, KV cache."""

import math

import pytest
import torch
from torch import nn

from dl2.errors import ConfigValueError
from dl2.nets.transformer import (
    GPT,
    Attention,
    Block,
    KVCache,
    RMSNorm,
    RotaryEmbedding,
    decay_groups,
)


def tiny_gpt(**kw):
    torch.manual_seed(0)
    args = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    args.update(kw)
    return GPT(**args).eval()


@pytest.mark.parametrize("pos_emb", ["rope", "absolute"])
@pytest.mark.parametrize("attn", ["sdpa", "manual"])
def test_changing_token_t_never_changes_earlier_outputs(pos_emb, attn):
    model = tiny_gpt(pos_emb=pos_emb, attn=attn)
    idx = torch.randint(0, 11, (2, 12))
    base = model(idx)
    for t in (0, 5, 11):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] + 1) % 11
        out = model(changed)
        torch.testing.assert_close(out[:, :t], base[:, :t])
        assert not torch.allclose(out[:, t], base[:, t])


def test_rope_keeps_norms_and_scores_depend_on_relative_position():
    rope = RotaryEmbedding(head_dim=8, max_len=64)
    torch.manual_seed(0)
    q, k = torch.randn(8), torch.randn(8)
    x = torch.randn(1, 2, 40, 8)
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))

    def score(m, n):
        qm = rope(q.expand(1, 1, 64, 8))[0, 0, m]
        kn = rope(k.expand(1, 1, 64, 8))[0, 0, n]
        return qm @ kn

    for m, n, shift in [(5, 2, 10), (30, 1, 7), (3, 3, 50)]:
        torch.testing.assert_close(score(m, n), score(m + shift, n + shift), atol=1e-4, rtol=1e-4)
    assert not math.isclose(score(5, 2).item(), score(5, 3).item(), abs_tol=1e-4)
    # an offset start equals slicing the full rotation
    torch.testing.assert_close(rope(x[:, :, 10:20], start=10), rope(x)[:, :, 10:20])


def test_rope_rotates_even_odd_pairs_as_written_out():
    """The complex-number rotation is the (even, odd) pair rotation the checkpoints were
    trained with: same outputs and gradients, also on a permuted (non-contiguous) q."""
    torch.manual_seed(0)
    rope = RotaryEmbedding(head_dim=8, max_len=16, base=100.0)
    qkv = torch.randn(2, 16, 3, 2, 8, dtype=torch.float32, requires_grad=True)
    q = qkv.permute(2, 0, 3, 1, 4)[0]
    angle = torch.arange(16.0)[:, None] * 100.0 ** (-torch.arange(0, 8, 2) / 8)
    x1, x2 = q[..., 0::2], q[..., 1::2]
    written = torch.stack(
        (x1 * angle.cos() - x2 * angle.sin(), x1 * angle.sin() + x2 * angle.cos()), dim=-1
    ).flatten(-2)
    grad = torch.randn_like(written)
    (g_written,) = torch.autograd.grad(written, qkv, grad)
    out = rope(q)
    (g_rope,) = torch.autograd.grad(out, qkv, grad)
    torch.testing.assert_close(out, written)
    torch.testing.assert_close(g_rope, g_written)


@pytest.mark.parametrize("causal", [True, False])
def test_sdpa_equals_manual(causal):
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 32)
    sdpa = Attention(32, 4, dropout=0.0, causal=causal, attn="sdpa", rope=rope)
    manual = Attention(32, 4, dropout=0.0, causal=causal, attn="manual", rope=rope)
    manual.load_state_dict(sdpa.state_dict())
    x = torch.randn(3, 20, 32)
    torch.testing.assert_close(sdpa(x), manual(x), atol=1e-5, rtol=1e-5)
    a, b = tiny_gpt(attn="sdpa"), tiny_gpt(attn="manual")
    idx = torch.randint(0, 11, (2, 16))
    torch.testing.assert_close(a(idx), b(idx), atol=1e-5, rtol=1e-5)


def test_non_causal_block_sees_the_future():
    torch.manual_seed(0)
    block = Block(16, 2, dropout=0.0, causal=False).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[:, -1] += 1.0
    assert not torch.allclose(block(x)[:, 0], block(changed)[:, 0])


def test_rmsnorm_matches_formula():
    torch.manual_seed(0)
    norm = RMSNorm(10, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(10))
    x = torch.randn(4, 7, 10)
    expected = x / torch.sqrt((x**2).mean(-1, keepdim=True) + 1e-6) * norm.weight
    torch.testing.assert_close(norm(x), expected)


def test_init_scales():
    model = GPT(vocab_size=50, block_size=64, n_layer=8, n_head=4, n_embd=256)
    stds = {name: p.std().item() for name, p in model.named_parameters()}
    assert abs(stds["blocks.0.attn.qkv.weight"] - 0.02) < 0.002
    assert abs(stds["blocks.0.mlp.fc.weight"] - 0.02) < 0.002
    assert abs(stds["tok_emb.weight"] - 0.02) < 0.002
    resid = 0.02 / math.sqrt(2 * 8)
    assert abs(stds["blocks.3.attn.proj.weight"] - resid) < 0.001
    assert abs(stds["blocks.3.mlp.proj.weight"] - resid) < 0.001
    assert model.blocks[0].attn.qkv.bias.abs().sum() == 0
    assert model.head.bias is None


@pytest.mark.parametrize("pos_emb", ["rope", "absolute"])
def test_decay_groups_cover_every_parameter_once(pos_emb):
    model = tiny_gpt(pos_emb=pos_emb)
    groups = decay_groups(model, 0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    decayed = {id(p) for p in groups[0]["params"]}
    for name, p in model.named_parameters():
        is_linear_weight = name.endswith("weight") and p.dim() == 2 and "emb" not in name
        assert (id(p) in decayed) == is_linear_weight, name
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0


@pytest.mark.parametrize("pos_emb", ["rope", "absolute"])
def test_cached_forward_equals_full_forward(pos_emb):
    model = tiny_gpt(pos_emb=pos_emb)
    idx = torch.randint(0, 11, (2, 10))
    full = model(idx)
    cache = KVCache(len(model.blocks))
    first = model(idx[:, :6], cache)
    steps = [model(idx[:, t : t + 1], cache) for t in range(6, 10)]
    torch.testing.assert_close(torch.cat([first, *steps], dim=1), full, atol=1e-5, rtol=1e-5)
    # a multi-token chunk after a cached prefix (needs the offset causal mask)
    cache = KVCache(len(model.blocks))
    model(idx[:, :4], cache)
    torch.testing.assert_close(model(idx[:, 4:10], cache), full[:, 4:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"pos_emb": "alibi"}, "pos_emb"),
        ({"attn": "flash3"}, "attn"),
        ({"n_embd": 15}, "n_embd"),
        ({"n_layer": 0}, "n_layer"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_bad_values(kwargs, key):
    args = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)
    args.update(kwargs)
    with pytest.raises(ConfigValueError) as info:
        GPT(**args)
    assert info.value.key == key


def test_too_long_input_fails():
    with pytest.raises(ValueError, match="block_size"):
        tiny_gpt()(torch.zeros(1, 17, dtype=torch.long))


def test_linear_count():
    model = tiny_gpt()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2 * 4 + 1  # qkv, proj, fc, proj per block, plus the head
