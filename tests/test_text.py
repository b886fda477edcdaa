"""Text data: Gutenberg stripping, the tokenizer, windows, the split, and bad files."""

import pytest
import torch

from dl2.data.text import (
    CharDataModule,
    CharTokenizer,
    Windows,
    download_gutenberg,
    strip_gutenberg,
)
from dl2.errors import ConfigValueError

GUTENBERG = (
    "\ufeffThe Project Gutenberg eBook of Tales\n\nLicence words here.\n\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n\n"
    "Once upon a time there was a king.\nThe end.\n\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\n\nMore licence text.\n"
)


def test_strip_keeps_only_the_book():
    book = strip_gutenberg(GUTENBERG)
    assert book == "Once upon a time there was a king.\nThe end.\n"
    assert strip_gutenberg("no markers at all") == "no markers at all"


def test_tokenizer_round_trip_and_unknown_characters():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.decode(tok.encode("world hello")) == "world hello"
    with pytest.raises(ConfigValueError) as info:
        tok.encode("hex!")
    assert info.value.key == "prompt" and "'x'" in str(info.value) and "'!'" in str(info.value)
    assert CharTokenizer.from_state_dict(tok.state_dict()).chars == tok.chars


def test_windows_are_shifted_by_one():
    tokens = torch.arange(20)
    ds = Windows(tokens, block_size=5)
    assert len(ds) == 15
    x, y = ds[7]
    assert x.tolist() == [7, 8, 9, 10, 11] and y.tolist() == [8, 9, 10, 11, 12]
    assert len(Windows(tokens, 5, stride=5)) == 3


def write(tmp_path, text, name="book.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_datamodule_splits_the_tail_for_validation(tmp_path):
    text = "abcdefghij" * 50  # 500 characters
    dm = CharDataModule(
        path=write(tmp_path, text), block_size=8, batch_size=4, val_fraction=0.1, strip_header=False
    )
    assert dm.model_kwargs() == {"vocab_size": 10}
    assert len(dm.train_set.tokens) == 450 and len(dm.val_set.tokens) == 50
    assert dm.tokenizer.decode(dm.val_set.tokens) == text[450:]
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (4, 8) and torch.equal(x[:, 1:], y[:, :-1])


def test_gutenberg_file_is_stripped_by_default_and_kept_on_request(tmp_path):
    path = write(tmp_path, GUTENBERG * 1)
    dm = CharDataModule(path=path, block_size=4, val_fraction=0.2)
    dm.setup()
    assert "Licence" not in dm.tokenizer.decode(torch.cat([dm.train_set.tokens, dm.val_set.tokens]))
    kept = CharDataModule(path=path, block_size=4, val_fraction=0.2, strip_header=False)
    kept.setup()
    assert "L" in kept.tokenizer.chars


def test_bad_files_and_sizes(tmp_path):
    with pytest.raises(ConfigValueError, match="existing"):
        CharDataModule(path=str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigValueError, match="empty"):
        CharDataModule(path=write(tmp_path, "  \n", "empty.txt")).setup()
    with pytest.raises(ConfigValueError) as info:
        CharDataModule(path=write(tmp_path, "short text here"), block_size=64).setup()
    assert info.value.key == "block_size" and "shorter" in str(info.value)
    with pytest.raises(ConfigValueError):
        CharDataModule(val_fraction=1.0)


def test_download_uses_the_cache_and_reports_network_failures(tmp_path, monkeypatch):
    cached = tmp_path / "gutenberg" / "pg7.txt"
    cached.parent.mkdir()
    cached.write_text("cached")
    assert download_gutenberg(7, tmp_path) == cached

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(RuntimeError, match="data.path"):
        download_gutenberg(8, tmp_path)
    assert not (tmp_path / "gutenberg" / "pg8.txt").exists()


def test_download_writes_the_served_text(tmp_path, monkeypatch):
    import io

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    seen = []
    monkeypatch.setattr(
        "urllib.request.urlopen",
        lambda url, timeout: seen.append(url) or Response(GUTENBERG.encode()),
    )
    path = download_gutenberg(2591, tmp_path)
    assert seen == ["https://www.gutenberg.org/cache/epub/2591/pg2591.txt"]
    assert path.read_text(encoding="utf-8") == GUTENBERG
