"""Character-level text data: the Project Gutenberg download, header/licence stripping, a
character tokenizer, and a LightningDataModule of (block_size + 1)-character windows."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from dl2.data.base import TextDataModule, TrainOrder
from dl2.data.samplers import ResumableRandomSampler
from dl2.data.workers import worker_context
from dl2.errors import ConfigValueError, check_positive

GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/{id}/pg{id}.txt"
START_MARK = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
END_MARK = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)


def download_gutenberg(ebook_id: int, data_dir: Path | str) -> Path:
    """Fetch Project Gutenberg ebook `ebook_id` as UTF-8 text into `data_dir` (once; cached)."""
    path = Path(data_dir) / "gutenberg" / f"pg{ebook_id}.txt"
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    url = GUTENBERG_URL.format(id=ebook_id)
    tmp = path.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
            f.write(response.read())
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"could not download {url} ({err}); without a network, point "
            f"data.path at a local copy of the text"
        ) from err
    tmp.rename(path)
    return path


def strip_gutenberg(text: str) -> str:
    """The book between the `*** START OF` and `*** END OF` marker lines, trimmed; a text
    without the markers comes back unchanged."""
    start, end = START_MARK.search(text), END_MARK.search(text)
    if not start and not end:
        return text
    begin = start.end() if start else 0
    stop = end.start() if end and end.start() > begin else len(text)
    return text[begin:stop].strip() + "\n"


def read_text(path: Path | str, strip: bool = True) -> str:
    """Read a UTF-8 text file (a BOM is dropped); fail clearly on a missing or empty file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigValueError("path", str(path), "must be an existing UTF-8 text file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigValueError("path", str(path), f"must be UTF-8 text ({err})") from None
    if strip:
        text = strip_gutenberg(text)
    if not text.strip():
        raise ConfigValueError("path", str(path), "must hold some text (it is empty)")
    return text


class CharTokenizer:
    """Maps each character of a fixed vocabulary (the sorted set of a text's characters) to
    its index."""

    def __init__(self, chars: list[str] | str) -> None:
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            raise ConfigValueError(
                "prompt",
                text,
                "has characters outside the vocabulary: " + ", ".join(repr(c) for c in missing),
            )
        return [self.index[c] for c in text]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def state_dict(self) -> dict:
        return {"chars": self.chars}

    @classmethod
    def from_state_dict(cls, state: dict) -> CharTokenizer:
        return cls(state["chars"])


class Windows(Dataset):
    """Windows of `block_size + 1` tokens starting at the given offsets: x = the first
    block_size, y = the same shifted by one. A plain map-style dataset, so that Lightning can
    rebuild its loaders (`overfit_batches`, distributed samplers)."""

    def __init__(self, tokens: torch.Tensor, block_size: int, stride: int = 1) -> None:
        self.tokens, self.block_size = tokens, block_size
        self.starts = torch.arange(0, len(tokens) - block_size, stride)
        self.offsets = torch.arange(block_size + 1)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.tokens[self.starts[index] + self.offsets]
        return row[:-1], row[1:]


class CharDataModule(TextDataModule):
    """A text split into train (the first 1 - val_fraction) and validation (the rest).

    Training draws random windows (one epoch = every start position once); validation reads
    non-overlapping windows of the held-out tail. The text comes from `path` when given,
    otherwise from Project Gutenberg ebook `gutenberg_id`, downloaded into `data_dir`.
    """

    def __init__(
        self,
        data_dir: str = "data",
        path: str | None = None,
        gutenberg_id: int = 2591,
        strip_header: bool = True,
        block_size: int = 128,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_positive("block_size", block_size)
        check_positive("batch_size", batch_size)
        if not 0.0 < val_fraction < 1.0:
            raise ConfigValueError("val_fraction", val_fraction, "must be in (0, 1)")
        if path is not None and not Path(path).is_file():
            raise ConfigValueError("path", path, "must be an existing UTF-8 text file")
        self.save_hyperparameters(logger=False)  # the pipeline logs the whole config once
        self._tokenizer: CharTokenizer | None = None
        self.train_set: Windows | None = None
        self.val_set: Windows | None = None

    def text_path(self) -> Path:
        hp = self.hparams
        return Path(hp.path) if hp.path else download_gutenberg(hp.gutenberg_id, hp.data_dir)

    def prepare_data(self) -> None:
        self.text_path()

    def setup(self, stage: str | None = None) -> None:
        """Read, tokenize and split the text (idempotent)."""
        if self._tokenizer is not None:
            return
        hp = self.hparams
        text = read_text(self.text_path(), strip=hp.strip_header)
        if len(set(text)) < 2:  # nothing to predict: the loss would fall to 0 at once
            raise ConfigValueError(
                "path",
                str(self.text_path()),
                f"must hold at least 2 distinct characters (it holds only {text[0]!r})",
            )
        self._tokenizer = CharTokenizer.from_text(text)
        tokens = torch.tensor(self.tokenizer.encode(text), dtype=torch.long)
        n_val = int(len(tokens) * hp.val_fraction)
        train, val = tokens[:-n_val] if n_val else tokens, tokens[len(tokens) - n_val :]
        for name, part in (("training", train), ("validation", val)):
            if len(part) < hp.block_size + 1:
                raise ConfigValueError(
                    "block_size",
                    hp.block_size,
                    f"must be shorter than the {name} text ({len(part)} characters; the text "
                    f"has {len(tokens)}, val_fraction={hp.val_fraction})",
                )
        self.train_set = Windows(train, hp.block_size)
        self.val_set = Windows(val, hp.block_size, stride=hp.block_size)

    def sample_prompts(self, count: int = 4, length: int = 16) -> list[str]:
        """Prompts that fit this text's vocabulary: the first `length` characters of `count`
        evenly spaced passages of the validation text."""
        self.setup()
        val = self.val_set.tokens
        starts = [i * max(len(val) - length, 0) // max(count - 1, 1) for i in range(count)]
        return [self.tokenizer.decode(val[s : s + length].tolist()) for s in starts]

    def model_kwargs(self) -> dict[str, int]:
        """What the net must know of the data: its vocabulary size."""
        self.prepare_data()
        self.setup()
        return {"vocab_size": self.tokenizer.vocab_size}

    def planned_model_kwargs(self) -> dict[str, int]:
        """A stand-in vocabulary size: the text is not read to plan a study."""
        return {"vocab_size": 2}

    @property
    def tokenizer(self) -> CharTokenizer | None:
        """The text's characters as ids (None before setup)."""
        return self._tokenizer

    def state_dict(self) -> dict[str, Any]:
        """The tokenizer, in every checkpoint: generation needs no text to decode."""
        return {"tokenizer": self._tokenizer.state_dict()} if self._tokenizer else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed run reads its text again: it must give the checkpoint's characters, or
        the ids would mean other characters than they were trained on."""
        saved = state_dict.get("tokenizer")
        if saved is None:
            return
        self.setup()
        if saved != self._tokenizer.state_dict():
            raise ConfigValueError(
                "data.path",
                self.hparams.path,
                "must be the text the checkpoint was trained on (its characters differ)",
            )

    def train_dataloader(self) -> DataLoader:
        sampler = self.keep_train_order(
            TrainOrder(ResumableRandomSampler(self.train_set), self.hparams.batch_size)
        )
        return DataLoader(
            self.train_set,
            batch_size=self.hparams.batch_size,
            drop_last=True,
            sampler=sampler,
            num_workers=self.hparams.num_workers,
            multiprocessing_context=worker_context(self.hparams.num_workers),
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)
