"""Log text generated from fixed prompts every N training steps (a W&B table, a CSV file)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info

from dl2.data.base import TextDataModule
from dl2.errors import ConfigValueError, check_positive
from dl2.files import write_csv
from dl2.nets.sampling import check_sampling, generate


class TextSamples(L.Callback):
    """Every `every_n_steps` (and at the end of training) continue each prompt by `length`
    characters and log (step, prompt, text): to W&B as a table, and to `samples.csv` in the
    job's output folder. Sampling uses its own seeded generator, so it does not change the
    training run's random stream."""

    def __init__(
        self,
        prompts: list[str] | None,
        every_n_steps: int = 500,
        length: int = 200,
        greedy: bool = False,
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = 0.9,
        seed: int = 0,
        output_dir: str | None = None,
    ) -> None:
        check_positive("every_n_steps", every_n_steps)
        check_sampling(temperature, top_k, top_p, length)
        if prompts is not None and not prompts:
            raise ConfigValueError(
                "prompts",
                prompts,
                "give at least one prompt, or null for prompts from the validation text",
            )
        self.prompts = None if prompts is None else list(prompts)
        self.every, self.length = every_n_steps, length
        self.sampling = {
            "greedy": greedy,
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
        }
        self.seed, self.output_dir = seed, output_dir
        self.rows: list[list] = []
        self._last_step = -1

    def results_entries(self) -> dict:
        """The last sampling step's texts, for results.json: [[prompt, text], ...]."""
        if not self.rows:
            return {}
        last = max(row[0] for row in self.rows)
        return {"samples": {"step": last, "texts": [[p, t] for s, p, t in self.rows if s == last]}}

    def state_dict(self) -> dict:
        """The samples so far, so that a resumed run's samples.csv is the whole run's."""
        return {"rows": [list(row) for row in self.rows], "last_step": self._last_step}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = [list(row) for row in state_dict.get("rows", [])]
        self._last_step = int(state_dict.get("last_step", -1))

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not isinstance(trainer.datamodule, TextDataModule):
            raise ConfigValueError(
                "callbacks.text_samples",
                type(trainer.datamodule).__name__,
                "needs text data (a TextDataModule, as experiment=gpt has): "
                "leave it out of this experiment's callbacks",
            )
        if self.prompts is None:  # the data's own (a text without the Grimm prompts' letters)
            self.prompts = trainer.datamodule.sample_prompts()
            rank_zero_info(
                "text samples: prompts from the validation text: "
                + ", ".join(map(repr, self.prompts))
            )
        tokenizer = trainer.datamodule.tokenizer
        for prompt in self.prompts:  # fail now, naming the characters, not after training
            missing = tokenizer.unknown(prompt)
            if missing:
                raise ConfigValueError(
                    "callbacks.text_samples.prompts",
                    prompt,
                    "has characters outside the training text's vocabulary: "
                    + ", ".join(map(repr, missing)),
                )

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        step = trainer.global_step
        if step % self.every == 0 and step != self._last_step:
            self._sample(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step != self._last_step:
            self._sample(trainer, pl_module)

    def _sample(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_step = step = trainer.global_step
        tokenizer = trainer.datamodule.tokenizer
        gen = torch.Generator(device=pl_module.device).manual_seed(self.seed)
        for prompt in self.prompts:
            idx = torch.tensor([tokenizer.encode(prompt)], device=pl_module.device)
            out = generate(pl_module.net, idx, self.length, generator=gen, **self.sampling)
            text = tokenizer.decode(out[0, idx.shape[1] :].tolist())
            self.rows.append([step, prompt, text])
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_text(
                    "samples", columns=["step", "prompt", "text"], data=self.rows, step=step
                )
        if self.output_dir and trainer.is_global_zero:
            path = Path(self.output_dir) / "samples.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_csv(path, ["step", "prompt", "text"], self.rows)
