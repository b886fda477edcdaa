"""Top-k / top-p filtering, sampling checks, and cached generation = uncached generation."""

import pytest
import torch

from dl2.errors import ConfigValueError
from dl2.nets.sampling import check_sampling, filter_top_k, filter_top_p, generate, next_token
from dl2.nets.transformer import GPT


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[1.0, 5.0, 3.0, -2.0, 4.0]])
    kept = torch.isfinite(filter_top_k(logits, 2))
    assert kept.tolist() == [[False, True, False, False, True]]
    assert torch.isfinite(filter_top_k(logits, 10)).all()


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.1, 0.5, 0.25, 0.15]])
    logits = probs.log()
    keep = lambda p: torch.isfinite(filter_top_p(logits, p)).tolist()[0]  # noqa: E731
    assert keep(0.5) == [False, True, False, False]  # 0.5 alone reaches 0.5
    assert keep(0.6) == [False, True, True, False]  # 0.5 + 0.25
    assert keep(0.8) == [False, True, True, True]  # + 0.15 = 0.9
    assert keep(1.0) == [True, True, True, True]
    assert keep(0.01) == [False, True, False, False]  # the top token always stays


def test_sampling_respects_the_filter():
    logits = torch.tensor([[0.0, 3.0, 2.9, -5.0]]).expand(500, 4)
    gen = torch.Generator().manual_seed(0)
    tokens = next_token(logits, top_k=2, generator=gen)
    assert set(tokens.tolist()) == {1, 2}
    assert next_token(logits, greedy=True).unique().tolist() == [1]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"top_k": 5, "top_p": 0.9}, "top_k"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"length": 0}, "length"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_bad_sampling_settings(kwargs, key):
    args = {"temperature": 1.0, "top_k": None, "top_p": None, "length": 10, **kwargs}
    with pytest.raises(ConfigValueError) as info:
        check_sampling(**args)
    assert info.value.key == key


@pytest.mark.parametrize("pos_emb", ["rope", "absolute"])
def test_cached_greedy_equals_uncached_past_block_size(pos_emb):
    torch.manual_seed(0)
    model = GPT(
        vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16, dropout=0.0, pos_emb=pos_emb
    )
    prompt = torch.randint(0, 13, (2, 5))
    cached = generate(model, prompt, 20, greedy=True, use_cache=True)
    plain = generate(model, prompt, 20, greedy=True, use_cache=False)
    assert cached.shape == (2, 25)
    assert torch.equal(cached, plain)


def test_cached_sampling_equals_uncached_with_the_same_seed():
    torch.manual_seed(1)
    model = GPT(vocab_size=13, block_size=32, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    prompt = torch.randint(0, 13, (3, 4))
    runs = [
        generate(
            model,
            prompt,
            15,
            temperature=0.9,
            top_p=0.9,
            use_cache=c,
            generator=torch.Generator().manual_seed(7),
        )
        for c in (True, False)
    ]
    assert torch.equal(*runs)


def test_long_prompt_keeps_its_last_block_size_tokens():
    torch.manual_seed(0)
    model = GPT(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    prompt = torch.randint(0, 13, (1, 20))
    out = generate(model, prompt, 3, greedy=True)
    assert torch.equal(out[:, :8], prompt[:, -8:])
    assert torch.equal(out, generate(model, prompt[:, -8:], 3, greedy=True))
