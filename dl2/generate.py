"""Sample text from a GPT checkpoint, in train.py's key=value style:

    python -m dl2.generate ckpt_path=path/to/last.ckpt prompt="Hansel said to" top_k=10
    python -m dl2.generate ckpt_path=... greedy=true length=200
    python -m dl2.generate ckpt_path=... num_samples=3 temperature=1.0 top_p=0.95 seed=1

The checkpoint alone is enough: it holds the net's config and the tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from dl2.callbacks.experiment import KEY as EXPERIMENT_KEY
from dl2.config.identity import describe_experiment
from dl2.data.text import CharDataModule, CharTokenizer
from dl2.errors import ConfigValueError
from dl2.files import read_checkpoint
from dl2.nets.sampling import check_sampling, generate
from dl2.nets.transformer import GPT


def load_gpt(ckpt_path: str | Path, device: str = "cpu") -> tuple[GPT, CharTokenizer]:
    """The GPT and tokenizer stored in a dl2 language-model checkpoint, loaded with
    `weights_only=True` (no code from the file runs)."""
    checkpoint = read_checkpoint(ckpt_path, map_location=device)
    meta = checkpoint.get("dl2", {})
    # the datamodule's own state (checkpoints written before it carried the tokenizer: dl2's)
    tokenizer = checkpoint.get(CharDataModule.__qualname__, {}).get(
        "tokenizer", meta.get("tokenizer")
    )
    if "net_config" not in meta or tokenizer is None:
        record = checkpoint.get(EXPERIMENT_KEY)
        what = (
            f"it is a checkpoint of {describe_experiment(record)}"
            if isinstance(record, dict)
            else "it has no stored model config and tokenizer"
        )
        raise ConfigValueError(
            "ckpt_path",
            str(ckpt_path),
            f"must be a checkpoint of `train.py experiment=gpt` ({what})",
        )
    model = GPT(**meta["net_config"])
    state = {
        k.removeprefix("net."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    model.load_state_dict(state)
    return model.to(device).eval(), CharTokenizer.from_state_dict(tokenizer)


def sample_texts(
    model: GPT,
    tokenizer: CharTokenizer,
    prompt: str,
    length: int,
    num_samples: int = 1,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    use_cache: bool = True,
) -> list[str]:
    """`num_samples` continuations of `prompt` (the prompt included). A prompt longer than
    block_size conditions on its last block_size characters."""
    check_sampling(temperature, top_k, top_p, length)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigValueError("num_samples", num_samples, "must be a positive integer")
    if not prompt:
        raise ConfigValueError("prompt", prompt, "must not be empty")
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer.encode(prompt)] * num_samples, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    out = generate(
        model,
        ids,
        length,
        greedy=greedy,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        use_cache=use_cache,
        generator=gen,
    )
    start = min(ids.shape[1], model.config.block_size)
    return [prompt + tokenizer.decode(row[start:].tolist()) for row in out]


def check_device(device: str) -> str:
    """The torch device for `device` (auto: CUDA when there is one), refused when this machine
    does not have it (a checkpoint read onto a missing GPU fails far from the cause)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind, _, index = str(device).partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise ConfigValueError("device", device, "choose auto, cpu, cuda, cuda:N or mps")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigValueError(
            "device",
            device,
            "CUDA is not available on this machine "
            f"(torch {torch.__version__}); use device=cpu or device=auto",
        )
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise ConfigValueError(
            "device", device, f"this machine has {torch.cuda.device_count()} CUDA devices"
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigValueError(
            "device", device, "MPS is not available on this machine; use device=cpu or device=auto"
        )
    return str(device)


def run(cfg: DictConfig) -> list[str]:
    """The texts that `python -m dl2.generate` prints, for a composed conf/generate.yaml."""
    device = check_device(cfg.device)
    # every value is checked before the checkpoint is read (types by the schema, ranges here)
    check_sampling(cfg.temperature, cfg.top_k, cfg.top_p, cfg.length)
    model, tokenizer = load_gpt(cfg.ckpt_path, device)
    return sample_texts(
        model,
        tokenizer,
        str(cfg.prompt),
        cfg.length,
        cfg.num_samples,
        cfg.greedy,
        cfg.temperature,
        cfg.top_k,
        cfg.top_p,
        cfg.seed,
        cfg.use_cache,
    )


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    texts = run(cfg)
    for i, text in enumerate(texts):
        if len(texts) > 1:
            print(f"--- sample {i + 1}")
        print(text)


if __name__ == "__main__":
    main()
