"""Tests of the ImageNet-W and WTM Aug watermark transforms (vlmbias.lle.watermark)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from imagenet_w import AddWatermark
from PIL import Image
from torchvision import transforms as T

from vlmbias.lle import watermark as wmk


def _photo(size: int = 64, seed: int = 0) -> Image.Image:
    """A dark textured image: a white watermark on it shows."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 120, (size, size, 3)).astype(np.uint8), "RGB")


def test_imagenet_w_is_add_watermark_at_the_input_size_and_deterministic():
    img = _photo()
    t = wmk.ImageNetW(64)
    assert t.font_size == wmk.imagenet_w_font_size(64) == int(64 / 6.22) == 10
    assert [wmk.imagenet_w_font_size(s) for s in (32, 224, 384)] == [5, 36, 62]
    a, b = np.asarray(t(img)), np.asarray(t(img))
    assert np.array_equal(a, b)
    assert np.array_equal(a, np.asarray(AddWatermark(image_size=64)(img)))  # the package's transform, as is
    diff = a.astype(int) - np.asarray(img).astype(int)
    assert (diff >= 0).all() and (diff.max(axis=2) > 20).sum() > 20  # white text, over the image
    rows = np.nonzero(diff.max(axis=2) > 20)[0]
    assert rows.min() >= int(0.4 * 64) - 2  # placed at y = 0.4 H
    x = T.ToTensor()(img)
    assert torch.equal(t(x), t(x)) and t(x).shape == x.shape and not torch.equal(t(x), x)
    with pytest.raises(ValueError):
        wmk.ImageNetW(4)


def test_random_watermark_changes_pixels_with_cjk_text():
    img = _photo()
    t = wmk.RandomWatermark(64, generator=torch.Generator().manual_seed(0))
    assert t.font_sizes == (9, 10, 11, 13, 14, 15)
    assert wmk.scaled_font_sizes(224) == (32, 36, 40, 44, 48, 52)
    for _ in range(20):
        p = t.sample_params()
        assert len(p["text"]) == 8 and all(0x4E00 <= ord(ch) <= 0x9FFF for ch in p["text"])
        assert p["opacity"] in wmk.WTM_OPACITIES and p["y_pos"] in wmk.WTM_Y_POSITIONS and p["x_pos"] == 0.0
        assert p["color"] == (255, 255, 255) and 0 <= p["font"] < 6
    changed = 0
    for _ in range(10):
        out = np.asarray(t(img)).astype(int) - np.asarray(img).astype(int)
        assert (out >= 0).all()
        changed += int((out > 0).any())
    assert changed == 10
    # tensors in, tensors out; a seeded generator gives the same draws
    x = T.ToTensor()(img)
    y1 = wmk.RandomWatermark(64, generator=torch.Generator().manual_seed(5))(x)
    y2 = wmk.RandomWatermark(64, generator=torch.Generator().manual_seed(5))(x)
    assert torch.equal(y1, y2) and y1.shape == x.shape and not torch.equal(y1, x)


def test_random_watermark_probability():
    img = _photo()
    never = wmk.RandomWatermark(32, p=0.0, generator=torch.Generator().manual_seed(0))
    assert never(img) is img
    half = wmk.RandomWatermark(32, p=0.5, generator=torch.Generator().manual_seed(0))
    marked = sum(half(img) is not img for _ in range(200))
    assert 70 < marked < 130
    with pytest.raises(ValueError):
        wmk.RandomWatermark(32, p=1.5)


def test_watermarked_goes_after_crop_before_tensor():
    base = T.Compose([T.Resize(73), T.CenterCrop(64), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)])
    mark = wmk.ImageNetW(64)
    tf = wmk.watermarked(base, mark)
    assert [type(s).__name__ for s in tf.transforms] == ["Resize", "CenterCrop", "ImageNetW", "ToTensor", "Normalize"]
    img = _photo(80).resize((92, 69))
    assert torch.equal(tf(img), tf(img)) and not torch.equal(tf(img), base(img))
    assert [type(s).__name__ for s in wmk.watermarked(T.Compose([T.CenterCrop(8)]), mark).transforms] == [
        "CenterCrop", "ImageNetW"]
