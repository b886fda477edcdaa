"""The fused padding path computes what nn.Conv2d(padding_mode=...) computes."""

import pytest
import torch
import torch.nn.functional as F

from dl2.nets.cnn import BoxCNN
from dl2.nets.padding import border_sources, relu_pad


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
def test_relu_pad_equals_f_pad(mode, p, relu, channels_last):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 7, 6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    ours = relu_pad(x, p, mode, relu=relu)
    ref = F.pad(F.relu(x) if relu else x, (p, p, p, p), mode=mode)
    assert torch.equal(ours, ref)
    assert ours.is_contiguous(memory_format=torch.channels_last) == channels_last
    weight = torch.randn_like(ref)
    (g_ours,) = torch.autograd.grad((ours * weight).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * weight).sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-12)
    assert g_ours.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_border_sources_and_bad_input():
    assert border_sources(4, 2, "circular") == ((0, 2), (1, 3), (6, 0), (7, 1))
    assert border_sources(4, 2, "reflect") == ((0, 2), (1, 1), (6, 2), (7, 1))
    assert border_sources(4, 2, "replicate") == ((0, 0), (1, 0), (6, 3), (7, 3))
    with pytest.raises(ValueError, match="mirror"):
        border_sources(4, 1, "mirror")
    with pytest.raises(ValueError, match="reflect padding 2"):
        relu_pad(torch.zeros(1, 1, 2, 2), 2, "reflect")


@pytest.mark.parametrize("arch", ["net1", "net2"])
@pytest.mark.parametrize(
    ("pad", "pad_size"),
    [
        ("reflect", 2),
        ("replicate", 2),
        ("circular", 2),
        ("circular", 1),
        ("zeros", 2),
        ("zeros", 0),
    ],
)
def test_fast_boxcnn_matches_conv2d_padding_mode(arch, pad, pad_size):
    """Same init, same logits, same gradients as the plain nn.Conv2d(padding_mode=...) net."""
    torch.manual_seed(3)
    fast = BoxCNN(arch, pad, pad_size).double()
    torch.manual_seed(3)
    plain = BoxCNN(arch, pad, pad_size, channels_last=False, fused_pad=False).double()
    for (name, a), b in zip(fast.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    x = torch.rand(8, 3, 32, 32, dtype=torch.float64)
    y = torch.randint(0, 2, (8,))
    out_fast, out_plain = fast(x), plain(x)
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-10, atol=1e-12)
    F.cross_entropy(out_fast, y).backward()
    F.cross_entropy(out_plain, y).backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=name)
