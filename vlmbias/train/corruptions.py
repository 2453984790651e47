"""Corruptions applied to training AND validation images (Liu & He, Table 5).

The paper applies one corruption at a time to both splits, then trains and evaluates on the
corrupted data (this is not augmentation: it destroys low-level signatures). Where each sits:
after the sampled image is decoded (shorter side <= max_side, 500 in the paper), BEFORE the
recipe's transforms — RandomResizedCrop / RandAugment / Mixup for training, resize + centre
crop for evaluation. Randomness: a training image gets a fresh draw at every access (the loop
reseeds torch per epoch, so runs stay reproducible); a validation image gets the same draw
every time (``ShardImageDataset``'s ``pre_transform_seed``: seeded by its index), so the
corrupted validation set is a fixed set.

Interpretations of the paper's parameters (it gives only the numbers):
- color_jitter(strength s): torchvision ColorJitter(brightness=s, contrast=s, saturation=s),
  no hue: timm's scalar colour-jitter factor, the reading closest to the paper's timm code.
- gaussian_noise(std): additive N(0, std^2) on pixels scaled to [0, 1], clipped, re-quantised.
- gaussian_blur(radius): PIL GaussianBlur(radius), radius being the Gaussian's sigma.
- low_resolution(size): the whole image resized to size x size (bicubic); the recipe's
  transforms then bring it back up to the input size.
"""

from __future__ import annotations

from typing import Callable

import torch
from PIL import Image, ImageFilter
from torchvision.transforms import ColorJitter
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

KINDS = ("color_jitter", "gaussian_noise", "gaussian_blur", "low_resolution")


class CorruptionError(ValueError):
    pass


def _color_jitter(strength: float):
    return ColorJitter(brightness=strength, contrast=strength, saturation=strength)


def _gaussian_noise(std: float):
    def apply(img: Image.Image) -> Image.Image:
        x = pil_to_tensor(img).float() / 255.0
        x = (x + std * torch.randn(x.shape)).clamp(0, 1)
        return to_pil_image((x * 255).round().to(torch.uint8))

    return apply


def _gaussian_blur(radius: float):
    flt = ImageFilter.GaussianBlur(radius=radius)
    return lambda img: img.filter(flt)


def _low_resolution(size: int):
    return lambda img: img.resize((int(size), int(size)), Image.Resampling.BICUBIC)


_BUILDERS = {"color_jitter": (_color_jitter, "strength"), "gaussian_noise": (_gaussian_noise, "std"),
             "gaussian_blur": (_gaussian_blur, "radius"), "low_resolution": (_low_resolution, "size")}


def build(spec: dict | None) -> Callable[[Image.Image], Image.Image] | None:
    """A PIL -> PIL callable from ``{type: <kind>, <param>: value}``; None for no corruption."""
    if not spec:
        return None
    kind = spec.get("type")
    if kind not in _BUILDERS:
        raise CorruptionError(f"unknown corruption type {kind!r} (known: {', '.join(KINDS)})")
    fn, param = _BUILDERS[kind]
    extra = set(spec) - {"type", param}
    if param not in spec or extra:
        raise CorruptionError(f"corruption {kind} takes exactly one parameter {param!r}, got {spec}")
    return fn(spec[param])
