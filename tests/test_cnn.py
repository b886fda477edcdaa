"""Net1/Net2 over the six conv types: shapes, flatten sizes, padding modes, bad values."""

import pytest
import torch
from torch import nn

from dl2.errors import ConfigValueError
from dl2.nets.cnn import CONV_TYPES, BoxCNN, conv_type_name, preset_pad


@pytest.mark.parametrize("arch", ["net1", "net2"])
@pytest.mark.parametrize("conv_type", list(CONV_TYPES))
def test_output_shape_and_padding(arch, conv_type):
    pad, pad_size = CONV_TYPES[conv_type]
    net = BoxCNN(arch, pad, pad_size, conv_type=conv_type)
    out = net(torch.randn(5, 3, 32, 32))
    assert out.shape == (5, 2)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (3, 32, 1),
        (32, 32, 2),
        (32, 64, 2),
        (64, 64, 2),
    ]
    assert all(
        c.bias is None and c.padding == (pad_size, pad_size) and c.padding_mode == pad
        for c in convs
    )


@pytest.mark.parametrize(("pad_size", "side"), [(0, 2), (1, 4), (2, 6)])
def test_net2_flatten_size(pad_size, side):
    net = BoxCNN("net2", "zeros", pad_size)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64 * side * side, 64), (64, 2)]
    assert net.features(torch.zeros(1, 3, 32, 32)).shape == (1, 64, side, side)


def test_net1_head_is_global_max_pool():
    net = BoxCNN("net1", "zeros", 2)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 2)]
    assert any(isinstance(m, nn.AdaptiveMaxPool2d) for m in net.modules())


def test_names_and_presets_round_trip():
    for name, (pad, size) in CONV_TYPES.items():
        assert conv_type_name(pad, size) == name
        assert preset_pad(name, "pad") == pad and preset_pad(name, "pad_size") == size
    assert conv_type_name("reflect", 1) == "reflect-1"
    assert preset_pad(None, "pad") == "zeros" and preset_pad(None, "pad_size") == 2


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"arch": "net3"}, "arch"),
        ({"pad": "mirror"}, "pad"),
        ({"pad_size": 3}, "pad_size"),
        ({"pad_size": -1}, "pad_size"),
        ({"conv_type": "same"}, "conv_type"),
        ({"conv_type": "valid", "pad": "zeros", "pad_size": 2}, "conv_type"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigValueError) as info:
        BoxCNN(**kwargs)
    assert info.value.key == key
