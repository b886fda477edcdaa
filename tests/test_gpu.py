"""GPU checks (skipped without CUDA): the padding job on a GPU, in fp32 and bf16-mixed."""

import pytest

from dl2.pipeline import train


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_padding_job_on_gpu(tiny_cfg, precision):
    metrics = train(tiny_cfg(["trainer=gpu", f"trainer.precision={precision}"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0
