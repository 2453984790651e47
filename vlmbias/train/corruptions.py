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
- color_jitter(strength s, form): the paper does not say what "strength" scales. Two forms:
  ``simclr``: SimCLR's colour-distortion strength (Chen et al. 2020, App. A), torchvision
  ColorJitter(brightness=0.8s, contrast=0.8s, saturation=0.8s, hue=0.2s) (s <= 2.5, where the
  hue shift reaches its limit; SimCLR's random grey-scaling and p=0.8 left out);
  ``scalar``: timm's scalar colour-jitter factor, ColorJitter(s, s, s), no hue. Under ``scalar``
  every factor is drawn from [max(0, 1 - s), 1 + s]: from s = 1 on the range already reaches 0
  (black, grey, colourless images), so 2.0 adds only brightening and puts LESS of its mass near
  0 than 1.0 does; on seven toy worlds 2.0 came out level with 1.0 or above it in six. Under
  ``simclr`` 1.0 keeps every factor >= 0.2 and 2.0 reaches 0 and shifts hue twice as far: the
  stronger setting is the stronger corruption, as the paper's 81.1 > 80.2 says. Default
  ``simclr``.
- gaussian_noise(std): additive N(0, std^2) on pixels scaled to [0, 1], clipped, re-quantised.
- gaussian_blur(radius): PIL GaussianBlur(radius), radius being the Gaussian's sigma.
- low_resolution(size): the whole image resized to size x size (bicubic); the recipe's
  transforms then bring it back up to the input size.
"""

from __future__ import annotations

from typing import Callable

from PIL import Image, ImageFilter

KINDS = ("color_jitter", "gaussian_noise", "gaussian_blur", "low_resolution")


class CorruptionError(ValueError):
    pass


COLOR_JITTER_FORMS = ("simclr", "scalar")


def _check_color_jitter(strength: float, form: str = "simclr") -> None:
    if form not in COLOR_JITTER_FORMS:
        raise CorruptionError(f"color_jitter form {form!r} unknown (known: {', '.join(COLOR_JITTER_FORMS)})")
    if form == "simclr" and strength > 2.5:
        raise CorruptionError(f"color_jitter strength {strength} with form simclr: at most 2.5 (hue 0.2 x strength "
                              "reaches torchvision's limit of 0.5 there)")


def _color_jitter(strength: float, form: str = "simclr"):
    from torchvision.transforms import ColorJitter

    if form == "scalar":
        return ColorJitter(brightness=strength, contrast=strength, saturation=strength)
    s = 0.8 * strength
    return ColorJitter(brightness=s, contrast=s, saturation=s, hue=0.2 * strength)


def _gaussian_noise(std: float):
    import torch
    from torchvision.transforms.functional import pil_to_tensor, to_pil_image

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
_OPTIONS = {"color_jitter": ("form",)}   # optional keyword parameters besides the one required
_CHECKS = {"color_jitter": _check_color_jitter}


def _options(spec: dict) -> dict:
    return {k: spec[k] for k in _OPTIONS.get(spec["type"], ()) if k in spec}


def check(spec: dict | None) -> None:
    """Raise CorruptionError if ``spec`` is not a corruption ``build`` can make (without importing
    torch: the workflow checks every t06 corruption when it plans the DAG)."""
    if not spec:
        return
    kind = spec.get("type")
    if kind not in _BUILDERS:
        raise CorruptionError(f"unknown corruption type {kind!r} (known: {', '.join(KINDS)})")
    param = _BUILDERS[kind][1]
    options = _OPTIONS.get(kind, ())
    extra = set(spec) - {"type", param, *options}
    if param not in spec or extra:
        also = f" (and optionally {', '.join(map(repr, options))})" if options else ""
        raise CorruptionError(f"corruption {kind} takes exactly one parameter {param!r}{also}, got {spec}")
    if kind in _CHECKS:
        _CHECKS[kind](spec[param], **_options(spec))


def build(spec: dict | None) -> Callable[[Image.Image], Image.Image] | None:
    """A PIL -> PIL callable from ``{type: <kind>, <param>: value}``; None for no corruption."""
    if not spec:
        return None
    check(spec)
    fn, param = _BUILDERS[spec["type"]]
    return fn(spec[param], **_options(spec))
