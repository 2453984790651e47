"""Watermark transforms of Whac-A-Mole's ImageNet protocol (Li et al., CVPR 2023), at the toy's
input size, on top of the ``imagenet-w`` package (its ``AddWatermark``, font and compositing).

* ``ImageNetW`` -- ImageNet-W: ``imagenet_w.AddWatermark`` used as is (text "捷径捷径捷径",
  Source Han Serif SC ExtraLight, white, opacity 0.5, top-left of the text at (0.01 W, 0.4 H)),
  built for the model's input size: its font-size map is {224: 36, 384: 62, 512: 82, 518: 84}
  and ``int(size / 6.22)`` for any other size, so the text keeps its share of the crop (six
  characters span about 0.96 of the width). The toy models' input sizes give: 32 -> 5 px,
  48 -> 7 px, 64 -> 10 px (the toy world's ``image_size``, the usual input of its ImageNet
  models), 224 -> 36 px. As in the paper it goes after resize and centre crop and before
  ToTensor / Normalize (``watermarked``), on the clean val images: IN-W is a transform of
  the IN-1k stand-in, not a split of its own.
* ``RandomWatermark`` -- "WTM Aug" (``model/transforms.py::WatermarkAug`` of the official code):
  8 random CJK Unified Ideographs (U+4E00-U+9FFF), the same font, size uniform over
  {32, 36, ..., 52} at a 224 crop, scaled by input_size / 224 (rounded, at least 1: 64 px ->
  9, 10, 11, 13, 14, 15), opacity uniform over {0.1, ..., 0.9}, white, x = 0, y uniform over
  {0.1, ..., 0.9}; applied with probability ``p`` (1 in LLE, 0.5 for the single-augmentation
  "WTM Aug" baseline). Draws come from torch's generator (a DataLoader seeds it per worker) or
  the one given.
* ``watermarked(transform, op)`` -- a torchvision ``Compose`` with ``op`` inserted before its
  first ToTensor / Normalize step (after resize and crop).

The font is the .otf shipped in the ``imagenet-w`` package (``imagenet_w.watermark_transform.FONT_DIR``).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import torch
from imagenet_w import AddWatermark
from imagenet_w.watermark_transform import FONT_DIR, _add_watermark
from PIL import ImageFont
from torchvision import transforms as T

FONT_PATH = os.path.join(FONT_DIR, "SourceHanSerifSC-ExtraLight.otf")
IMAGENET_W_TEXT = "捷径捷径捷径"
REFERENCE_SIZE = 224                     # the crop the official sizes are given for
WTM_FONT_SIZES = (32, 36, 40, 44, 48, 52)
WTM_OPACITIES = tuple(round(0.1 * i, 1) for i in range(1, 10))
WTM_Y_POSITIONS = tuple(round(0.1 * i, 1) for i in range(1, 10))
CJK_RANGE = (0x4E00, 0x9FFF)             # inclusive, as random.randint in the official code


def imagenet_w_font_size(input_size: int) -> int:
    """The font size ``imagenet_w.AddWatermark`` uses at ``input_size`` (its map, else int(size / 6.22))."""
    return {224: 36, 384: 62, 512: 82, 518: 84}.get(int(input_size), int(int(input_size) / 6.22))


class ImageNetW:
    """ImageNet-W's watermark at ``input_size``: ``imagenet_w.AddWatermark(image_size=input_size)``
    as is (deterministic). Takes and returns a PIL image or a tensor, as AddWatermark does."""

    def __init__(self, input_size: int):
        self.input_size = int(input_size)
        if imagenet_w_font_size(self.input_size) < 1:
            raise ValueError(f"input size {input_size} is too small for the ImageNet-W watermark (font size 0)")
        self.add = AddWatermark(image_size=self.input_size)
        self.font_size = self.add.font.size

    def __call__(self, image):
        return self.add(image)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, font_size={self.font_size})"


def scaled_font_sizes(input_size: int, sizes: Sequence[int] = WTM_FONT_SIZES,
                      reference: int = REFERENCE_SIZE) -> tuple[int, ...]:
    """WTM Aug's font sizes (given for a 224 crop) at ``input_size``: round(s * input_size / 224), >= 1."""
    return tuple(max(1, int(round(s * int(input_size) / reference))) for s in sizes)


class RandomWatermark:
    """WTM Aug's random watermark (see the module doc) as a torchvision-style transform."""

    def __init__(self, input_size: int, p: float = 1.0, n_chars: int = 8,
                 font_sizes: Sequence[int] = WTM_FONT_SIZES, opacities: Sequence[float] = WTM_OPACITIES,
                 x_positions: Sequence[float] = (0.0,), y_positions: Sequence[float] = WTM_Y_POSITIONS,
                 colors: Sequence[tuple[int, int, int]] = ((255, 255, 255),), font_path: str = FONT_PATH,
                 generator: torch.Generator | None = None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if n_chars < 1 or not (font_sizes and opacities and x_positions and y_positions and colors):
            raise ValueError("n_chars >= 1 and non-empty font sizes, opacities, positions and colours are needed")
        self.input_size, self.p, self.n_chars = int(input_size), float(p), int(n_chars)
        self.font_sizes = scaled_font_sizes(self.input_size, font_sizes)
        self.fonts = [ImageFont.truetype(font_path, s) for s in self.font_sizes]
        self.opacities, self.colors = tuple(opacities), tuple(tuple(c) for c in colors)
        self.x_positions, self.y_positions = tuple(x_positions), tuple(y_positions)
        self.generator = generator

    def _pick(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator))

    def sample_params(self) -> dict:
        """One draw: text, font index, opacity, colour and position."""
        lo, hi = CJK_RANGE
        codes = torch.randint(lo, hi + 1, (self.n_chars,), generator=self.generator).tolist()
        return {"text": "".join(chr(c) for c in codes), "font": self._pick(len(self.fonts)),
                "opacity": self.opacities[self._pick(len(self.opacities))],
                "color": self.colors[self._pick(len(self.colors))],
                "x_pos": self.x_positions[self._pick(len(self.x_positions))],
                "y_pos": self.y_positions[self._pick(len(self.y_positions))]}

    def apply(self, image, text: str, font: int, opacity: float, color, x_pos: float, y_pos: float):
        """The watermark of the given parameters (``sample_params``) on a PIL image or a tensor."""
        return _add_watermark(image, text=text, font=self.fonts[font], opacity=opacity, color=tuple(color),
                              x_pos=x_pos, y_pos=y_pos)

    def __call__(self, image):
        if self.p < 1.0 and float(torch.rand(1, generator=self.generator)) >= self.p:
            return image
        return self.apply(image, **self.sample_params())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_size={self.input_size}, p={self.p}, n_chars={self.n_chars}, "
                f"font_sizes={self.font_sizes})")


_TENSOR_STEPS = ("ToTensor", "MaybeToTensor", "PILToTensor", "ToImage", "ToDtype", "ConvertImageDtype",
                 "Normalize", "MaybePILToTensor")


def watermarked(transform: Callable, op: Callable) -> T.Compose:
    """``transform`` (a torchvision ``Compose``, e.g. the recipe's eval or train transform) with
    ``op`` inserted before its first tensor-conversion or Normalize step, i.e. after resize and
    crop on the PIL image (ImageNet-W's and WTM Aug's place); appended where there is none."""
    steps = list(getattr(transform, "transforms", None) or [transform])
    at = next((i for i, t in enumerate(steps) if type(t).__name__ in _TENSOR_STEPS), len(steps))
    return T.Compose(steps[:at] + [op] + steps[at:])
