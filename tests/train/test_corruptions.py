"""t06 corruptions: each does what it says; validation draws are fixed per image."""

import numpy as np
import pytest
import torch
from PIL import Image

from vlmbias.shards.dataset import ShardImageDataset, records_for
from vlmbias.train import corruptions as C


def noisy_image(seed=0, size=(48, 40)):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def flat_image(value=128):
    return Image.new("RGB", (40, 40), (value, value, value))


def test_none_and_errors():
    assert C.build(None) is None and C.build({}) is None
    with pytest.raises(C.CorruptionError, match="unknown corruption"):
        C.build({"type": "jpeg"})
    with pytest.raises(C.CorruptionError, match="std"):
        C.build({"type": "gaussian_noise", "sigma": 0.2})


def test_gaussian_noise_std_on_unit_scale():
    torch.manual_seed(0)
    out = np.asarray(C.build({"type": "gaussian_noise", "std": 0.2})(flat_image(128))) / 255.0
    assert abs(out.std() - 0.2) < 0.02 and abs(out.mean() - 128 / 255) < 0.02


def test_blur_smooths_and_lowres_resizes():
    img = noisy_image()
    blurred = np.asarray(C.build({"type": "gaussian_blur", "radius": 3})(img)).astype(float)
    assert blurred.std() < 0.3 * np.asarray(img).astype(float).std()
    small = C.build({"type": "low_resolution", "size": 16})(img)
    assert small.size == (16, 16)


def test_color_jitter_changes_colours():
    torch.manual_seed(0)
    img = Image.new("RGB", (8, 8), (180, 60, 40))
    outs = {C.build({"type": "color_jitter", "strength": 1.0})(img).getpixel((0, 0)) for _ in range(5)}
    assert len(outs) > 1


def _jitter_factors(spec, n=400):
    """The brightness factors a colour jitter draws (on a mid-grey image, where brightness alone
    moves the pixel: contrast and saturation keep a flat grey image as it is)."""
    torch.manual_seed(0)
    fn = C.build(spec)
    return np.array([fn(flat_image(100)).getpixel((0, 0))[0] / 100 for _ in range(n)])


def test_color_jitter_forms():
    """simclr (the default): factors in [1 - 0.8 s, 1 + 0.8 s] and a hue shift, so 1.0 never
    comes near 0 and 2.0 does; scalar: [max(0, 1 - s), 1 + s], both reaching 0 (2.0 less often)."""
    assert C.build({"type": "color_jitter", "strength": 1.0}).hue == (-0.2, 0.2)
    assert C.build({"type": "color_jitter", "strength": 1.0, "form": "scalar"}).hue is None
    sim1 = _jitter_factors({"type": "color_jitter", "strength": 1.0, "form": "simclr"})
    sim2 = _jitter_factors({"type": "color_jitter", "strength": 2.0, "form": "simclr"})
    sc1 = _jitter_factors({"type": "color_jitter", "strength": 1.0, "form": "scalar"})
    sc2 = _jitter_factors({"type": "color_jitter", "strength": 2.0, "form": "scalar"})
    assert sim1.min() > 0.18 and sim1.max() < 1.82
    assert (sim2 < 0.1).mean() > 0.02 and sim2.max() > 2.4
    assert (sc1 < 0.1).mean() > 0.02 and (sc2 < 0.1).mean() > 0.02
    assert (sc2 < 0.2).mean() < (sc1 < 0.2).mean()


def test_color_jitter_form_errors():
    with pytest.raises(C.CorruptionError, match="form 'alexnet' unknown"):
        C.build({"type": "color_jitter", "strength": 1.0, "form": "alexnet"})
    with pytest.raises(C.CorruptionError, match="at most 2.5"):
        C.build({"type": "color_jitter", "strength": 3.0})
    C.build({"type": "color_jitter", "strength": 3.0, "form": "scalar"})
    with pytest.raises(C.CorruptionError, match="optionally 'form'"):
        C.build({"type": "color_jitter", "strength": 1.0, "hue": 0.1})
    with pytest.raises(C.CorruptionError, match="exactly one parameter 'std', got"):
        C.build({"type": "gaussian_noise", "std": 0.2, "form": "simclr"})


def test_fixed_draw_per_index_leaves_global_rng_alone(tiny_samples):
    """Validation images (``pre_transform_seed``): the same draw for the same index every time,
    another for another index (here: the same image twice), and the global RNG untouched."""
    rec = records_for([{"dataset": "yfcc", "part": None, "parts": None}], tiny_samples, "val")[0]
    ds = ShardImageDataset([rec, rec], None, pre_transform=C.build({"type": "gaussian_noise", "std": 0.3}),
                           pre_transform_seed=7)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = ds[0][0], ds[0][0], ds[1][0]
    assert torch.equal(torch.get_rng_state(), before)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_dataset_applies_corruption_before_transform(tiny_samples):
    recs = records_for([{"dataset": "yfcc", "part": None, "parts": None}], tiny_samples, "val")[:3]
    noise = C.build({"type": "gaussian_noise", "std": 0.3})
    fixed = ShardImageDataset(recs, None, pre_transform=noise, pre_transform_seed=0)
    fresh = ShardImageDataset(recs, None, pre_transform=noise)
    assert np.array_equal(np.asarray(fixed[0][0]), np.asarray(fixed[0][0]))
    assert not np.array_equal(np.asarray(fresh[0][0]), np.asarray(fresh[0][0]))
    clean = ShardImageDataset(recs, None)
    assert not np.array_equal(np.asarray(clean[0][0]), np.asarray(fixed[0][0]))
