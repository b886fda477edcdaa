"""GPU checks (skipped without CUDA): the padding job on a GPU, in fp32 and bf16-mixed."""

import pytest

from dl2.run.job import train


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_padding_job_on_gpu(tiny_cfg, precision):
    metrics = train(tiny_cfg(["trainer=gpu", f"trainer.precision={precision}"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "16-mixed"])
def test_gpt_on_gpu(tmp_path, precision):
    import torch

    from dl2.nets.transformer import GPT
    from tests.harness import compose_cfg

    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 50)
    cfg = compose_cfg(
        tmp_path,
        [
            "experiment=gpt",
            "model=gpt-nano",
            f"data.path={text}",
            "data.block_size=16",
            "data.batch_size=16",
            "trainer=gpu",
            f"trainer.precision={precision}",
            "trainer.max_steps=20",
            "trainer.val_check_interval=10",
            "logger=csv",
            'callbacks.text_samples.prompts=["the cat"]',
            "callbacks.text_samples.every_n_steps=10",
        ],
    )
    metrics = train(cfg)
    assert metrics["val/loss"] < 3.5
    # sdpa and manual attention agree on the GPU too
    model = GPT(vocab_size=20, block_size=64, n_layer=2, n_head=4, n_embd=64, dropout=0.0).cuda()
    manual = GPT(
        vocab_size=20, block_size=64, n_layer=2, n_head=4, n_embd=64, dropout=0.0, attn="manual"
    ).cuda()
    manual.load_state_dict(model.state_dict())
    idx = torch.randint(0, 20, (4, 64), device="cuda")
    torch.testing.assert_close(model(idx), manual(idx), atol=1e-4, rtol=1e-4)
