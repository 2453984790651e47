import torch
from torch import nn

from vlmbias.core.device import channels_last


def test_channels_last_batches_and_modules():
    x = torch.randn(2, 3, 5, 5)
    y = channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y)
    tokens = torch.randn(2, 7, 4)
    assert channels_last(tokens) is tokens  # not a 4-D batch: as it is
    conv = channels_last(nn.Conv2d(3, 4, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    ref = nn.Conv2d(3, 4, 3)
    ref.load_state_dict(conv.state_dict())  # a channels_last state dict loads into a plain model
    assert torch.allclose(ref(x), conv(y), atol=1e-6)
