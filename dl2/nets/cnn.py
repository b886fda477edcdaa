"""Net1 and Net2 of the padding study: four 3x3 convolutions sharing one padding, then a head.

Net1 ends in a global max pool, so its output cannot depend on where a pattern sits except
through what padding lets the convolutions see of the border. Net2 flattens the feature map
into a linear layer, which sees absolute position directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dl2.errors import ConfigValueError, check_choice, check_positive
from dl2.nets.padding import relu_pad

PAD_MODES = ("zeros", "reflect", "replicate", "circular")
PAD_SIZES = (0, 1, 2)
CONV_TYPES: dict[str, tuple[str, int]] = {
    "valid": ("zeros", 0),
    "sconv": ("zeros", 1),
    "fconv": ("zeros", 2),
    "replicate": ("replicate", 2),
    "reflect": ("reflect", 2),
    "circular": ("circular", 2),
}
HEADS = ("maxpool", "flatten")
ARCHS = {"net1": "maxpool", "net2": "flatten"}


def conv_type_name(pad: str, pad_size: int) -> str:
    """The report's name for a (mode, size) pair, or `<mode>-<size>` when it has none."""
    for name, preset in CONV_TYPES.items():
        if preset == (pad, pad_size):
            return name
    return f"{pad}-{pad_size}"


def preset_pad(conv_type: str | None, what: str) -> str | int:
    """Padding mode (`what="pad"`) or size (`what="pad_size"`) of a conv type; fconv's when None."""
    if conv_type is None:
        conv_type = "fconv"
    check_choice("model.conv_type", conv_type, tuple(CONV_TYPES))
    mode, size = CONV_TYPES[conv_type]
    return mode if what == "pad" else size


def conv_output_size(size: int, stride: int, padding: int, kernel: int = 3) -> int:
    """Spatial size after one convolution."""
    return (size + 2 * padding - kernel) // stride + 1


class BoxCNN(nn.Module):
    """conv 3->32 (s1), 32->32 (s2), 32->64 (s2), 64->64 (s2), no bias, ReLU after each; all
    four share `pad` (the padding mode) and `pad_size`. `arch="net1"` pools globally (max) into
    Linear(64, classes); `arch="net2"` flattens into Linear(64*s*s, 64) -> Linear(64, classes)
    with no non-linearity between.

    `conv_type`, when given, must agree with `pad` and `pad_size` (the config derives them from
    it); it exists so that a contradicting override fails instead of being ignored.

    Speed without changing the numbers: `channels_last` keeps weights and activations in
    NHWC (faster per step on a CPU), and `fused_pad` runs reflect / replicate / circular
    padding through `relu_pad` (ReLU and the border in one pass, the backward a plain add)
    instead of nn.Conv2d's explicit F.pad, which made those modes much slower than zero
    padding (docs/speed.md). The modules and their state_dict are nn.Conv2d's either way.
    """

    def __init__(
        self,
        arch: str = "net1",
        pad: str = "zeros",
        pad_size: int = 2,
        conv_type: str | None = None,
        in_channels: int = 3,
        num_classes: int = 2,
        image_size: int = 32,
        width: int = 32,
        channels_last: bool = True,
        fused_pad: bool = True,
    ) -> None:
        super().__init__()
        check_choice("arch", arch, tuple(ARCHS))
        check_choice("pad", pad, PAD_MODES)
        check_choice("pad_size", pad_size, PAD_SIZES)
        for key, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("image_size", image_size),
            ("width", width),
        ):
            check_positive(key, value)
        if conv_type is not None:
            check_choice("conv_type", conv_type, tuple(CONV_TYPES))
            if CONV_TYPES[conv_type] != (pad, pad_size):
                mode, size = CONV_TYPES[conv_type]
                raise ConfigValueError(
                    "conv_type",
                    conv_type,
                    f"it means pad={mode} pad_size={size}, but pad={pad} pad_size={pad_size}"
                    " was given; set either conv_type or pad/pad_size",
                )
        self.arch, self.pad, self.pad_size = arch, pad, pad_size
        channels = [in_channels, width, width, 2 * width, 2 * width]
        strides = [1, 2, 2, 2]
        layers: list[nn.Module] = []
        size = image_size
        for c_in, c_out, stride in zip(channels[:-1], channels[1:], strides, strict=True):
            layers += [
                nn.Conv2d(
                    c_in, c_out, 3, stride=stride, padding=pad_size, padding_mode=pad, bias=False
                ),
                nn.ReLU(),
            ]
            size = conv_output_size(size, stride, pad_size)
            if size < 1:
                raise ConfigValueError(
                    "image_size", image_size, "too small for four 3x3 convolutions at this padding"
                )
        self.features = nn.Sequential(*layers)
        self.feature_size = size
        c = channels[-1]
        if ARCHS[arch] == "maxpool":
            self.head = nn.Sequential(
                nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)
            )
        else:
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(c * size * size, c), nn.Linear(c, num_classes)
            )
        self.channels_last = channels_last
        self.fused_pad = fused_pad and pad != "zeros" and pad_size > 0
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, num_classes)."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.fused_pad:
            return self.head(self.features(x))
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        x = relu_pad(x, self.pad_size, self.pad, relu=False)
        for k, conv in enumerate(convs):
            x = F.conv2d(x, conv.weight, None, conv.stride)
            x = relu_pad(x, self.pad_size, self.pad) if k + 1 < len(convs) else torch.relu(x)
        return self.head(x)


class SmallCNN(nn.Module):
    """The rotation study's CNN: three (3x3 conv, pad 1 -> ReLU -> 2x2 max pool) stages with
    32, 64, 64 channels, then flatten -> Linear(64) -> ReLU -> Linear(num_classes)."""

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, hidden: int = 64
    ) -> None:
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("num_classes", num_classes),
            ("image_size", image_size),
            ("hidden", hidden),
        ):
            check_positive(key, value)
        if image_size % 8:
            raise ConfigValueError(
                "image_size", image_size, "must be divisible by 8 (three 2x2 poolings)"
            )
        stages: list[nn.Module] = []
        for c_in, c_out in ((in_channels, 32), (32, 64), (64, 64)):
            stages += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*stages)
        side = image_size // 8
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * side * side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, num_classes)."""
        return self.head(self.features(x))
