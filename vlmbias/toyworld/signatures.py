"""Low-level signatures: a source's look (palette, brightness, contrast, saturation, noise,
blur, JPEG quality), applied to every image after it is drawn, and its fine texture (grain,
mottling, sharpening), applied after the look when the world asks for it (``apply_texture``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Signature:
    """A source's low-level look, applied after drawing.

    brightness/contrast/saturation are multiplicative (1 = unchanged); ``warmth`` > 0 lifts
    red and lowers blue; ``vignette`` darkens corners; ``noise`` is the luminance noise sigma
    (0-255 scale) and ``chroma_noise`` the per-channel part; ``blur`` a Gaussian radius in
    pixels; ``jitter`` the per-image log-sd of brightness; ``jpeg_quality`` an inclusive
    range (ignored for PNG sources).

    Fine texture, applied by ``apply_texture`` only (scaled by the world's ``texture_strength``,
    not by ``scaled``): ``grain`` is a luminance grain sigma (0-255) drawn in blocks of
    ``grain_size`` pixels, ``mottle`` a smooth luminance mottling (sigma at the points of a grid
    ``mottle_size`` pixels apart, bilinear in between), ``sharpen`` an unsharp mask's percent
    (radius 1 px). Blur removes the finest of these, low resolution each one finer than its
    pixels; colour jitter leaves them all, unlike the look above.
    """

    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    warmth: float = 0.0
    vignette: float = 0.0
    noise: float = 0.0
    chroma_noise: float = 0.0
    blur: float = 0.0
    jitter: float = 0.0
    jpeg_quality: tuple[int, int] = (90, 90)
    grain: float = 0.0
    grain_size: int = 1
    mottle: float = 0.0
    mottle_size: int = 8
    sharpen: float = 0.0

    def __post_init__(self):
        sizes = (self.grain_size, self.mottle_size)
        if min(self.grain, self.mottle, self.sharpen) < 0 or any(int(v) != v or v < 1 for v in sizes):
            raise ValueError(f"texture: grain, mottle and sharpen must be >= 0 and grain_size and mottle_size "
                             f"whole numbers >= 1, got grain={self.grain}, grain_size={self.grain_size}, "
                             f"mottle={self.mottle}, mottle_size={self.mottle_size}, sharpen={self.sharpen}")


def _to_rgb(a: np.ndarray) -> Image.Image:
    """A float H x W x 3 array (0-255 scale) as an 8-bit RGB image, rounded and clipped."""
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")


def apply_signature(img: Image.Image, sig: Signature, rng: np.random.Generator) -> Image.Image:
    """Apply a signature's colour, lighting, blur and noise to an RGB image."""
    if sig.blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(sig.blur))
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape[:2]
    if sig.saturation != 1.0:
        gray = a @ np.array([0.299, 0.587, 0.114], np.float32)
        a = gray[..., None] + (a - gray[..., None]) * sig.saturation
    if sig.contrast != 1.0:
        a = (a - 128.0) * sig.contrast + 128.0
    gain = sig.brightness * (math.exp(rng.normal(0.0, sig.jitter)) if sig.jitter > 0 else 1.0)
    gains = np.array([gain * (1 + sig.warmth), gain, gain * (1 - sig.warmth)], np.float32)
    a = a * gains
    if sig.vignette > 0:
        yy = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
        xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
        a = a * (1.0 - sig.vignette * 0.5 * (xx * xx + yy * yy))[..., None]
    if sig.noise > 0 or sig.chroma_noise > 0:
        n = rng.normal(0.0, 1.0, (h, w, 1)).astype(np.float32) * sig.noise
        if sig.chroma_noise > 0:
            n = n + rng.normal(0.0, sig.chroma_noise, (h, w, 3)).astype(np.float32)
        a = a + n
    return _to_rgb(a)


def apply_texture(img: Image.Image, sig: Signature, strength: float, rng: np.random.Generator) -> Image.Image:
    """Add a signature's fine texture to an RGB image, ``strength`` times as strong as registered
    (0: the image unchanged, and ``rng`` untouched): first the unsharp mask, then the grain
    (the same value on the three channels over each ``grain_size`` x ``grain_size`` block), then
    the mottling."""
    if strength < 0:
        raise ValueError(f"texture strength must be >= 0, got {strength}")
    if strength > 0 and sig.sharpen > 0:
        img = img.filter(ImageFilter.UnsharpMask(radius=1, percent=int(round(strength * sig.sharpen)), threshold=0))
    if strength == 0 or (sig.grain == 0 and sig.mottle == 0):
        return img
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape[:2]
    if sig.grain > 0:
        g = int(sig.grain_size)
        blocks = rng.normal(0.0, strength * sig.grain, (-(-h // g), -(-w // g))).astype(np.float32)
        a = a + np.repeat(np.repeat(blocks, g, axis=0), g, axis=1)[:h, :w, None]
    if sig.mottle > 0:
        m = int(sig.mottle_size)
        gh, gw = -(-h // m) + 1, -(-w // m) + 1
        grid = Image.fromarray(rng.normal(0.0, strength * sig.mottle, (gh, gw)).astype(np.float32), "F")
        field = np.asarray(grid.resize(((gw - 1) * m, (gh - 1) * m), Image.BILINEAR), np.float32)
        a = a + field[:h, :w, None]
    return _to_rgb(a)


NEUTRAL_JPEG_QUALITY = 88


def scaled(sig: Signature, strength: float) -> Signature:
    """``sig`` moved toward the neutral look by ``strength`` (1: unchanged, 0: neutral): colour,
    lighting, vignette, blur and noise deviations scaled by it, the JPEG quality range pulled
    toward q88. The per-image brightness jitter (variation within a source) and the fine texture
    (``apply_texture``'s own strength) are kept."""
    if strength < 0:
        raise ValueError(f"signature strength must be >= 0, got {strength}")
    if strength == 1.0:
        return sig
    lo, hi = sig.jpeg_quality
    q = lambda v: int(round(NEUTRAL_JPEG_QUALITY + strength * (v - NEUTRAL_JPEG_QUALITY)))  # noqa: E731
    return replace(sig, brightness=1 + strength * (sig.brightness - 1), contrast=1 + strength * (sig.contrast - 1),
                   saturation=1 + strength * (sig.saturation - 1), warmth=strength * sig.warmth,
                   vignette=strength * sig.vignette, noise=strength * sig.noise,
                   chroma_noise=strength * sig.chroma_noise, blur=strength * sig.blur,
                   jpeg_quality=(min(100, max(1, q(lo))), min(100, max(1, q(hi)))))
