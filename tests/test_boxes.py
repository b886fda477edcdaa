"""The box generator against the reference facts, and the datamodule's two protocols."""

import numpy as np
import pytest
import torch

from dl2.data.boxes import BoxDataModule, generate_boxes
from dl2.errors import ConfigValueError


def reference_boxes(n, seed=42, shifted=False):
    """The reference generator written out literally (float randint bounds, hard-coded sizes)."""
    np.random.seed(seed)
    image_size, box_size, fluctuation = 32, 4, 6
    off = image_size - box_size
    images = np.zeros((n, 3, 32, 32), dtype=np.float32)
    for i in range(n):
        if i % 2 == 0:
            row, c1, c2 = (23 if shifted else 7), 0, 1
        else:
            row, c1, c2 = (7 if shifted else 23), 1, 0
        x1 = np.random.randint(int(off / 2 - box_size))
        y1 = np.random.randint(-off / fluctuation, off / fluctuation) + row
        images[i, c1, y1 : y1 + 4, x1 : x1 + 4] = 1
        x2 = np.random.randint(x1, off)
        y2 = np.random.randint(-off / fluctuation, off / fluctuation) + row
        while abs(x1 - x2) < box_size + 1:
            x2 = np.random.randint(x1, off)
            y2 = np.random.randint(-off / fluctuation, off / fluctuation) + row
        images[i, c2, y2 : y2 + 4, x2 : x2 + 4] = 1
    return images, np.arange(n) % 2


def box_positions(image):
    """(top row, left column) of the red and the green box."""
    out = []
    for channel in (0, 1):
        rows, cols = np.nonzero(image[channel])
        out.append((rows.min(), cols.min()))
    return out


@pytest.mark.parametrize("shifted", [False, True])
def test_matches_reference_draw_for_draw(shifted):
    images, labels = generate_boxes(300, seed=7, shifted=shifted)
    ref_images, ref_labels = reference_boxes(300, seed=7, shifted=shifted)
    assert images.dtype == np.float32 and images.shape == (300, 3, 32, 32)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)


def test_class_layout_colours_and_rows():
    images, labels = generate_boxes(400)
    assert set(np.unique(images)) == {0.0, 1.0}
    assert (images[:, 2] == 0).all(), "blue channel stays black"
    for image, label in zip(images, labels, strict=True):
        assert image[0].sum() == 16 and image[1].sum() == 16  # one 4x4 box per colour
        (red_row, red_col), (green_row, green_col) = box_positions(image)
        left, right = (
            ((red_row, red_col), (green_row, green_col))
            if label == 0
            else ((green_row, green_col), (red_row, red_col))
        )
        assert left[1] <= 9, "left box starts in columns 0..9"
        assert right[1] - left[1] >= 5, "boxes at least box_size + 1 columns apart"
        base = 7 if label == 0 else 23
        assert base - 4 <= left[0] <= base + 3 and base - 4 <= right[0] <= base + 3


def test_shift_swaps_halves_keeping_colour_order():
    upright, labels = generate_boxes(200, seed=3)
    shifted, _ = generate_boxes(200, seed=3, shifted=True)
    for a, b, label in zip(upright, shifted, labels, strict=True):
        delta = 16 if label == 0 else -16
        np.testing.assert_array_equal(np.roll(a, delta, axis=1), b)


def test_same_seed_same_images_other_seed_other_images():
    a, _ = generate_boxes(50, seed=1)
    b, _ = generate_boxes(50, seed=1)
    c, _ = generate_boxes(50, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def make_splits(protocol, **kw):
    dm = BoxDataModule(protocol=protocol, n_train=40, n_val=20, n_test=20, batch_size=8, **kw)
    dm.setup("fit")
    return {name: split.tensors for name, split in dm.splits.items()}


def test_reference_protocol_reuses_training_images():
    s = make_splits("reference")
    torch.testing.assert_close(s["val"][0], s["train"][0][:20])
    torch.testing.assert_close(s["test_unshifted"][0], s["train"][0][:20])
    shifted, _ = generate_boxes(20, seed=42, shifted=True)
    torch.testing.assert_close(s["test"][0], torch.from_numpy(shifted))


def test_independent_protocol_draws_new_images():
    s = make_splits("independent")
    assert not torch.equal(s["val"][0], s["train"][0][:20])
    assert not torch.equal(s["test_unshifted"][0], s["train"][0][:20])
    # the shifted test split holds the unshifted test draws, moved
    rolled = torch.stack(
        [
            torch.roll(img, 16 if y == 0 else -16, dims=1)
            for img, y in zip(*s["test_unshifted"], strict=True)
        ]
    )
    torch.testing.assert_close(rolled, s["test"][0])


def test_loader_serves_whole_batches_in_order():
    dm = BoxDataModule(n_train=50, n_val=20, n_test=20, batch_size=16)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    torch.testing.assert_close(torch.cat([x for x, _ in batches]), dm.splits["train"].tensors[0])


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"protocol": "mixed"}, "protocol"),
        ({"n_train": 0}, "n_train"),
        ({"batch_size": -1}, "batch_size"),
        ({"offset1": 2}, "offset1"),
        ({"offset2": 28}, "offset2"),
        ({"box_size": 14}, "box_size"),
        ({"image_size": 0}, "image_size"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigValueError) as info:
        BoxDataModule(**kwargs)
    assert info.value.key == key
    assert key in str(info.value)
