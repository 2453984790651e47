"""Procedural "toy world": small synthetic stand-ins for real image(-text) datasets.

The toy world lets every rule of the workflow run without downloading anything. Each
*source* (a stand-in for one real dataset) is written as raw WebDataset tar shards in
the layout img2dataset produces: for every sample ``KEY.jpg`` (or ``KEY.png``), ``KEY.txt``
(the caption) and ``KEY.json`` (metadata). Sources carry *planted* biases, so the
dataset-classification experiment of Liu & He has a known answer:

* a **content mix** -- which scenes a source shows (people and clutter for ``yfcc``,
  flat cartoons for ``cc``, products on white for ``datacomp``, document pages for
  ``wit``, one centred object for ``imagenet``), and
* a **low-level signature** -- palette, brightness, contrast, saturation, noise, blur,
  JPEG quality or PNG, aspect ratio and framing.

``laion`` and ``datacomp`` draw from the same component generators, with slightly
different mixture weights and the very same signature, so that pair is hard to tell
apart (in the paper every combination holding both is the hardest) while every other
pair is easy.

The module is a set of registries so that new worlds are added by adding entries:

* ``OBJECT_DRAWERS`` -- object shapes drawn into a box (``register_object``);
* ``COMPONENTS`` -- content generators ``fn(rng, width, height) -> Content``
  (``register_component``);
* ``SOURCES`` -- ``SourceSpec`` entries: component mixture, ``Signature``, image format,
  framing, and an optional metadata hook (``register_source``).

Determinism: sample ``index`` of source ``name`` is drawn from its own generator seeded
with ``(seed, crc32(name), index)``, so a sample does not depend on how samples are split
over shards, and the same seed gives byte-identical tar files.
"""

from __future__ import annotations

import io
import json
import math
import os
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "COLORS",
    "COMPONENTS",
    "OBJECT_CLASSES",
    "OBJECT_DRAWERS",
    "SOURCES",
    "Content",
    "Signature",
    "SourceSpec",
    "apply_signature",
    "draw_object",
    "draw_photo_object",
    "new_draw",
    "generate_source",
    "register_component",
    "register_object",
    "register_source",
    "render",
    "sample_seed",
]

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]

# ---------------------------------------------------------------------------------------
# Colours and small helpers
# ---------------------------------------------------------------------------------------

COLORS: dict[str, RGB] = {
    "red": (214, 40, 40),
    "orange": (240, 130, 30),
    "yellow": (245, 205, 40),
    "green": (60, 160, 70),
    "blue": (40, 90, 210),
    "purple": (130, 60, 170),
    "pink": (235, 120, 170),
    "brown": (130, 85, 45),
    "black": (30, 30, 30),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
}
VIVID = ("red", "orange", "yellow", "green", "blue", "purple", "pink")
SKIN = ((241, 194, 160), (224, 172, 125), (198, 134, 90), (141, 85, 54), (92, 58, 38))
HAIR = ((40, 30, 25), (90, 60, 30), (200, 160, 90), (120, 50, 30), (150, 150, 150))
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")


def _choice(rng: np.random.Generator, seq: Sequence):
    return seq[int(rng.integers(len(seq)))]


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _jit(rgb: Sequence[float], rng: np.random.Generator, amount: float = 12.0) -> RGB:
    """A colour with a little random variation (each channel +- amount)."""
    return tuple(int(min(255, max(0, c + rng.uniform(-amount, amount)))) for c in rgb)


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _darker(rgb: Sequence[float], f: float = 0.6) -> RGB:
    return tuple(int(c * f) for c in rgb)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _a(word: str) -> str:
    return f"{_article(word)} {word}"


def _people_phrase(n: int) -> str:
    if n == 1:
        return "a person"
    if n <= 3:
        return f"{NUMBER_WORDS[n]} people"
    return "a group of people"


def _people_attr(n: int) -> str:
    return "none" if n == 0 else ("one" if n == 1 else "several")


def _lw(w: int, h: int, frac: float = 1 / 40) -> int:
    """A line width that scales with the canvas."""
    return max(1, int(round(min(w, h) * frac)))


_FONTS: dict[int, ImageFont.ImageFont] = {}


def _font(size: int):
    size = max(6, int(size))
    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except Exception:  # pragma: no cover - Pillow without FreeType
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


# ---------------------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------------------


def _ordered(xy):
    """A bounding box with x0 <= x1 and y0 <= y1 (tiny canvases can invert computed boxes)."""
    if len(xy) == 4 and not isinstance(xy[0], (tuple, list)):
        x0, y0, x1, y1 = xy
    elif len(xy) == 2:
        (x0, y0), (x1, y1) = xy
    else:
        return xy
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


class SafeDraw(ImageDraw.ImageDraw):
    """ImageDraw whose box-based shapes accept inverted boxes (they are reordered).

    Use it (via ``new_draw``) for every drawing in this module: component geometry is
    computed in floats from the canvas size, and on very small canvases a box can invert,
    which plain Pillow rejects.
    """

    def rectangle(self, xy, *args, **kwargs):
        return super().rectangle(_ordered(xy), *args, **kwargs)

    def rounded_rectangle(self, xy, *args, **kwargs):
        return super().rounded_rectangle(_ordered(xy), *args, **kwargs)

    def ellipse(self, xy, *args, **kwargs):
        return super().ellipse(_ordered(xy), *args, **kwargs)

    def arc(self, xy, *args, **kwargs):
        return super().arc(_ordered(xy), *args, **kwargs)

    def chord(self, xy, *args, **kwargs):
        return super().chord(_ordered(xy), *args, **kwargs)

    def pieslice(self, xy, *args, **kwargs):
        return super().pieslice(_ordered(xy), *args, **kwargs)


def new_draw(img: Image.Image) -> SafeDraw:
    """The drawing context components and object drawers use."""
    return SafeDraw(img)



def _vgradient(w: int, h: int, top: Sequence[float], bottom: Sequence[float]) -> Image.Image:
    t = np.linspace(0.0, 1.0, max(h, 1), dtype=np.float32)[:, None, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    arr = np.broadcast_to(col, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _texture(rng: np.random.Generator, w: int, h: int, base: Sequence[float], var: float,
             cells: int = 6, fine: float = 0.0, mono: float = 0.7) -> Image.Image:
    """Smooth random texture: a coarse random grid upsampled bicubically, plus fine grain."""
    gw = max(2, cells)
    gh = max(2, int(round(cells * h / max(w, 1))))
    lum = rng.normal(0.0, 1.0, (gh, gw, 1))
    chrom = rng.normal(0.0, 1.0, (gh, gw, 3))
    small = np.asarray(base, np.float32) + var * (mono * lum + (1 - mono) * chrom)
    img = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "RGB").resize((w, h), Image.BICUBIC)
    if fine > 0:
        arr = np.asarray(img, np.float32) + rng.normal(0.0, fine, (h, w, 1))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img


def _checkerboard(w: int, h: int, cell: int, a: RGB = (255, 255, 255), b: RGB = (222, 222, 222)) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy // cell + xx // cell) % 2).astype(bool)[..., None]
    arr = np.where(mask, np.asarray(b, np.uint8), np.asarray(a, np.uint8))
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def _glyph_row(d: ImageDraw.ImageDraw, rng: np.random.Generator, x0: float, y: float, x1: float,
               height: float, color: RGB, link_color: RGB | None = None, link_p: float = 0.0) -> None:
    """A row of word-like blocks standing in for a line of small text."""
    x = x0
    hh = max(1.0, height)
    while x < x1 - 2:
        wlen = _u(rng, 1.5, 5.0) * hh
        xe = min(x1, x + wlen)
        col = link_color if (link_color is not None and rng.random() < link_p) else color
        d.rectangle((x, y, xe, y + hh - 1), fill=col)
        x = xe + max(1.0, 0.8 * hh)


def _text_block(d: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, line_h: float,
                color: RGB, gap: float = 0.7, **kw) -> None:
    x0, y0, x1, y1 = box
    y = y0
    while y + line_h <= y1:
        right = x1 if rng.random() > 0.25 else x0 + (x1 - x0) * _u(rng, 0.4, 0.9)
        _glyph_row(d, rng, x0, y, right, line_h, color, **kw)
        y += line_h * (1 + gap) + 1


def _word(d: ImageDraw.ImageDraw, center: tuple[float, float], text: str, size: float, fill: RGB,
          stroke: RGB | None = None) -> None:
    font = _font(int(size))
    kw = {"stroke_width": 1, "stroke_fill": stroke} if stroke is not None else {}
    d.text(center, text, font=font, fill=fill, anchor="mm", **kw)


def _star_points(cx: float, cy: float, r: float, n: int = 5, inner: float = 0.45, rot: float = -90.0):
    pts = []
    for i in range(2 * n):
        rr = r if i % 2 == 0 else r * inner
        a = math.radians(rot + i * 180.0 / n)
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def _face(d: ImageDraw.ImageDraw, cx: float, cy: float, s: float, color: RGB = (25, 25, 25)) -> None:
    """A smiling face (two eyes and a smile) of size s centred at (cx, cy)."""
    e = max(1.0, s * 0.09)
    d.ellipse((cx - s * 0.22 - e, cy - s * 0.12 - e, cx - s * 0.22 + e, cy - s * 0.12 + e), fill=color)
    d.ellipse((cx + s * 0.22 - e, cy - s * 0.12 - e, cx + s * 0.22 + e, cy - s * 0.12 + e), fill=color)
    d.arc((cx - s * 0.25, cy - s * 0.15, cx + s * 0.25, cy + s * 0.22), 20, 160, fill=color,
          width=max(1, int(s * 0.07)))


def _person(d: ImageDraw.ImageDraw, rng: np.random.Generator, cx: float, feet: float, height: float,
            shirt: RGB, style: str = "blob", skin: RGB | None = None, lw: int = 1) -> None:
    """A standing person: 'stick' figure or 'blob' figure (clothes), feet at y=feet."""
    skin = skin if skin is not None else _choice(rng, SKIN)
    hr = height * 0.13
    head_cy = feet - height + hr
    if style == "stick":
        ink = _darker(shirt, 0.5)
        neck = head_cy + hr
        hip = feet - height * 0.42
        d.line((cx, neck, cx, hip), fill=ink, width=lw)
        d.line((cx - height * 0.2, neck + height * 0.12, cx + height * 0.2, neck + height * 0.12), fill=ink, width=lw)
        d.line((cx, hip, cx - height * 0.14, feet), fill=ink, width=lw)
        d.line((cx, hip, cx + height * 0.14, feet), fill=ink, width=lw)
    else:
        pants = _darker(_jit(_choice(rng, ((40, 50, 90), (50, 50, 50), (110, 90, 70))), rng), 0.9)
        hip = feet - height * 0.45
        legw = max(1, int(height * 0.08))
        d.line((cx - height * 0.06, hip, cx - height * 0.07, feet), fill=pants, width=legw)
        d.line((cx + height * 0.06, hip, cx + height * 0.07, feet), fill=pants, width=legw)
        d.rounded_rectangle((cx - height * 0.13, head_cy + hr * 0.9, cx + height * 0.13, hip + height * 0.04),
                            radius=max(1, height * 0.05), fill=shirt)
    d.ellipse((cx - hr, head_cy - hr, cx + hr, head_cy + hr), fill=skin)
    d.chord((cx - hr, head_cy - hr, cx + hr, head_cy + hr * 0.3), 180, 360, fill=_choice(rng, HAIR))


def _tshirt(d: ImageDraw.ImageDraw, box: Box, color: RGB, outline: RGB | None = None, lw: int = 1) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pts = [(x0 + 0.3 * w, y0), (x0 + 0.42 * w, y0 + 0.06 * h), (x1 - 0.42 * w, y0 + 0.06 * h), (x1 - 0.3 * w, y0),
           (x1, y0 + 0.2 * h), (x1 - 0.12 * w, y0 + 0.38 * h), (x1 - 0.2 * w, y0 + 0.3 * h), (x1 - 0.2 * w, y1),
           (x0 + 0.2 * w, y1), (x0 + 0.2 * w, y0 + 0.3 * h), (x0 + 0.12 * w, y0 + 0.38 * h), (x0, y0 + 0.2 * h)]
    d.polygon(pts, fill=color, outline=outline, width=lw if outline is not None else 1)


# ---------------------------------------------------------------------------------------
# Objects: shapes drawn into a box. OBJECT_CLASSES are the ImageNet-like classes.
# ---------------------------------------------------------------------------------------

ObjectDrawer = Callable[[ImageDraw.ImageDraw, Box, RGB, np.random.Generator, "RGB | None", int], None]
OBJECT_DRAWERS: dict[str, ObjectDrawer] = {}
# Colours an object may take (names from COLORS); objects not listed take any VIVID colour.
OBJECT_PALETTES: dict[str, tuple[str, ...]] = {}
# Word used for the object in captions where it differs from the registry name.
OBJECT_WORDS: dict[str, str] = {}


def register_object(name: str, palette: Sequence[str] | None = None, word: str | None = None):
    """Decorator: register ``fn(draw, box, color, rng, outline, line_width)`` as object ``name``."""

    def deco(fn: ObjectDrawer) -> ObjectDrawer:
        if name in OBJECT_DRAWERS:
            raise ValueError(f"object {name!r} registered twice")
        OBJECT_DRAWERS[name] = fn
        if palette is not None:
            OBJECT_PALETTES[name] = tuple(palette)
        if word is not None:
            OBJECT_WORDS[name] = word
        return fn

    return deco


def _square(box: Box) -> Box:
    x0, y0, x1, y1 = box
    s = min(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2


def _olkw(outline, lw):
    return {"outline": outline, "width": lw} if outline is not None else {}


@register_object("ball")
def _draw_ball(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    d.ellipse((x0, y0, x1, y1), fill=col, **_olkw(outline, lw))
    seam = _darker(col, 0.55) if outline is None else outline
    d.arc((x0 + 0.3 * s, y0, x1 + 0.6 * s, y1), 120, 240, fill=seam, width=max(1, lw))
    hl = _mix(col, (255, 255, 255), 0.6)
    d.ellipse((x0 + 0.22 * s, y0 + 0.18 * s, x0 + 0.38 * s, y0 + 0.34 * s), fill=hl)


@register_object("cup")
def _draw_cup(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    hw = max(1, int(s * 0.09))
    d.ellipse((x1 - 0.42 * s, y0 + 0.3 * s, x1 - 0.02 * s, y0 + 0.68 * s), outline=outline or _darker(col, 0.8), width=hw + 1)
    d.ellipse((x1 - 0.42 * s + hw, y0 + 0.3 * s + hw, x1 - 0.02 * s - hw, y0 + 0.68 * s - hw), outline=col, width=hw)
    d.polygon([(x0 + 0.08 * s, y0 + 0.16 * s), (x1 - 0.22 * s, y0 + 0.16 * s), (x1 - 0.3 * s, y1 - 0.04 * s),
               (x0 + 0.16 * s, y1 - 0.04 * s)], fill=col, **_olkw(outline, lw))
    d.ellipse((x0 + 0.08 * s, y0 + 0.1 * s, x1 - 0.22 * s, y0 + 0.22 * s), fill=_darker(col, 0.55),
              **_olkw(outline, lw))


@register_object("tree", palette=("green", "green", "green", "orange", "yellow"))
def _draw_tree(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    d.rectangle((cx - 0.08 * w, y0 + 0.5 * h, cx + 0.08 * w, y1), fill=(110, 70, 35), **_olkw(outline, lw))
    d.ellipse((x0 + 0.08 * w, y0, x1 - 0.08 * w, y0 + 0.68 * h), fill=col, **_olkw(outline, lw))
    d.ellipse((x0 + 0.25 * w, y0 + 0.12 * h, x0 + 0.45 * w, y0 + 0.3 * h), fill=_mix(col, (255, 255, 255), 0.25))


@register_object("car")
def _draw_car(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = box
    w = x1 - x0
    h = min(y1 - y0, w * 0.7)
    y0 = (y0 + y1) / 2 - h / 2
    d.polygon([(x0 + 0.2 * w, y0 + 0.45 * h), (x0 + 0.32 * w, y0 + 0.12 * h), (x1 - 0.3 * w, y0 + 0.12 * h),
               (x1 - 0.14 * w, y0 + 0.45 * h)], fill=_darker(col, 0.85), **_olkw(outline, lw))
    d.polygon([(x0 + 0.28 * w, y0 + 0.43 * h), (x0 + 0.36 * w, y0 + 0.2 * h), (x1 - 0.34 * w, y0 + 0.2 * h),
               (x1 - 0.22 * w, y0 + 0.43 * h)], fill=(170, 210, 235))
    d.rounded_rectangle((x0, y0 + 0.42 * h, x1, y0 + 0.8 * h), radius=max(1, 0.08 * h), fill=col, **_olkw(outline, lw))
    r = 0.12 * w
    for wx in (x0 + 0.24 * w, x1 - 0.24 * w):
        d.ellipse((wx - r, y0 + 0.8 * h - r, wx + r, y0 + 0.8 * h + r), fill=(25, 25, 25))
        d.ellipse((wx - r * 0.4, y0 + 0.8 * h - r * 0.4, wx + r * 0.4, y0 + 0.8 * h + r * 0.4), fill=(170, 170, 170))


@register_object("fish")
def _draw_fish(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = box
    w = x1 - x0
    h = min(y1 - y0, w * 0.75)
    y0 = (y0 + y1) / 2 - h / 2
    d.polygon([(x0 + 0.66 * w, y0 + 0.5 * h), (x1, y0 + 0.15 * h), (x1, y0 + 0.85 * h)], fill=_darker(col, 0.8),
              **_olkw(outline, lw))
    d.ellipse((x0, y0 + 0.18 * h, x0 + 0.76 * w, y0 + 0.82 * h), fill=col, **_olkw(outline, lw))
    e = max(1.0, 0.05 * w)
    d.ellipse((x0 + 0.17 * w - e, y0 + 0.42 * h - e, x0 + 0.17 * w + e, y0 + 0.42 * h + e), fill=(20, 20, 20))
    d.line((x0 + 0.38 * w, y0 + 0.28 * h, x0 + 0.38 * w, y0 + 0.72 * h), fill=_darker(col, 0.7), width=max(1, lw))


@register_object("house")
def _draw_house(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    d.rectangle((x0 + 0.12 * s, y0 + 0.45 * s, x1 - 0.12 * s, y1), fill=col, **_olkw(outline, lw))
    roof = _choice(rng, ((160, 45, 35), (90, 60, 40), (70, 70, 80)))
    d.polygon([(x0, y0 + 0.48 * s), ((x0 + x1) / 2, y0 + 0.04 * s), (x1, y0 + 0.48 * s)], fill=roof,
              **_olkw(outline, lw))
    d.rectangle((x0 + 0.42 * s, y0 + 0.68 * s, x0 + 0.58 * s, y1), fill=(100, 65, 35))
    d.rectangle((x0 + 0.2 * s, y0 + 0.56 * s, x0 + 0.34 * s, y0 + 0.7 * s), fill=(190, 225, 245))
    d.rectangle((x1 - 0.34 * s, y0 + 0.56 * s, x1 - 0.2 * s, y0 + 0.7 * s), fill=(190, 225, 245))


@register_object("flower", palette=("red", "yellow", "pink", "purple", "orange", "white", "blue"))
def _draw_flower(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, y0 + 0.32 * h
    d.line((cx, cy, cx, y1), fill=(50, 130, 50), width=max(1, int(0.06 * w)))
    d.ellipse((cx, y0 + 0.62 * h, cx + 0.28 * w, y0 + 0.76 * h), fill=(60, 150, 60))
    r = 0.15 * min(w, h * 0.7)
    dist = 0.19 * min(w, h * 0.7)
    for i in range(6):
        a = i * math.pi / 3
        px, py = cx + dist * math.cos(a), cy + dist * math.sin(a)
        d.ellipse((px - r, py - r, px + r, py + r), fill=col, **_olkw(outline, lw))
    c = 0.11 * min(w, h * 0.7)
    d.ellipse((cx - c, cy - c, cx + c, cy + c), fill=(250, 200, 40) if col != COLORS["yellow"] else (150, 80, 30))


@register_object("star", palette=("yellow", "yellow", "orange", "red", "blue", "pink", "purple"))
def _draw_star(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    d.polygon(_star_points((x0 + x1) / 2, (y0 + y1) / 2 + 0.05 * s, 0.52 * s), fill=col, **_olkw(outline, lw))


@register_object("boat")
def _draw_boat(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    cx = x0 + 0.5 * s
    d.line((cx, y0 + 0.04 * s, cx, y0 + 0.66 * s), fill=(90, 60, 40), width=max(1, int(0.04 * s)))
    d.polygon([(cx + 0.03 * s, y0 + 0.06 * s), (cx + 0.03 * s, y0 + 0.6 * s), (x1 - 0.1 * s, y0 + 0.6 * s)],
              fill=(245, 245, 240), **_olkw(outline, lw))
    d.polygon([(cx - 0.03 * s, y0 + 0.16 * s), (cx - 0.03 * s, y0 + 0.6 * s), (x0 + 0.16 * s, y0 + 0.6 * s)],
              fill=(225, 225, 215), **_olkw(outline, lw))
    d.polygon([(x0, y0 + 0.66 * s), (x1, y0 + 0.66 * s), (x1 - 0.16 * s, y1 - 0.08 * s), (x0 + 0.16 * s, y1 - 0.08 * s)],
              fill=col, **_olkw(outline, lw))


@register_object("key", palette=("yellow", "yellow", "gray", "orange", "brown"))
def _draw_key(d, box, col, rng, outline, lw):
    x0, y0, x1, y1 = box
    w = x1 - x0
    h = min(y1 - y0, w * 0.6)
    y0 = (y0 + y1) / 2 - h / 2
    ring = max(2, int(0.11 * w))
    d.ellipse((x0, y0 + 0.1 * h, x0 + 0.4 * w, y0 + 0.9 * h), outline=col, width=ring)
    if outline is not None:
        d.ellipse((x0, y0 + 0.1 * h, x0 + 0.4 * w, y0 + 0.9 * h), outline=outline, width=lw)
    d.rectangle((x0 + 0.38 * w, y0 + 0.42 * h, x1, y0 + 0.58 * h), fill=col, **_olkw(outline, lw))
    for tx in (x1 - 0.24 * w, x1 - 0.1 * w):
        d.rectangle((tx, y0 + 0.58 * h, tx + 0.07 * w, y0 + 0.8 * h), fill=col, **_olkw(outline, lw))


# The ImageNet-like classes (label = index in this list). Kept as an explicit constant so
# that registering more object shapes for other worlds never changes the label set.
OBJECT_CLASSES: list[str] = ["ball", "cup", "tree", "car", "fish", "house", "flower", "star", "boat", "key"]


def object_color(rng: np.random.Generator, obj: str) -> tuple[str, RGB]:
    """A (colour name, jittered RGB) that suits the object."""
    name = _choice(rng, OBJECT_PALETTES.get(obj, VIVID))
    return name, _jit(COLORS[name], rng, 14)


def object_word(obj: str) -> str:
    return OBJECT_WORDS.get(obj, obj)


def draw_object(d: ImageDraw.ImageDraw, obj: str, box: Box, color: RGB, rng: np.random.Generator,
                outline: RGB | None = None, lw: int = 1) -> None:
    """Draw a registered object into ``box``."""
    try:
        fn = OBJECT_DRAWERS[obj]
    except KeyError:
        raise ValueError(f"unknown object {obj!r}; registered: {sorted(OBJECT_DRAWERS)}") from None
    fn(d, box, color, rng, outline, lw)


def _box_at(cx: float, cy: float, size: float) -> Box:
    return cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2


def draw_photo_object(img: Image.Image, obj: str, box: Box, color: RGB, rng: np.random.Generator,
                      shading: float = 0.45, grain: float = 0.08) -> None:
    """Draw ``obj`` onto ``img`` (in place) as a lit, textured object rather than a flat shape.

    The object is drawn on a transparent layer, then multiplied by a directional light
    gradient (``shading``) and a coarse multiplicative surface texture (``grain``), and
    composited. This is what makes "photos" of objects look unlike flat cartoons or renders.
    """
    w, h = img.size
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw_object(new_draw(layer), obj, box, color, rng)
    arr = np.asarray(layer, np.float32)
    alpha = arr[..., 3:] / 255.0
    x0, y0, x1, y1 = box
    ang = _u(rng, 0, 2 * math.pi)
    yy = (np.arange(h, dtype=np.float32)[:, None] - (y0 + y1) / 2) / max(1.0, y1 - y0)
    xx = (np.arange(w, dtype=np.float32)[None, :] - (x0 + x1) / 2) / max(1.0, x1 - x0)
    light = 1.0 + shading * (math.cos(ang) * xx + math.sin(ang) * yy) * 2.0
    gw, gh = max(2, w // 6), max(2, h // 6)
    tex = np.asarray(Image.fromarray(rng.normal(128, 40, (gh, gw)).clip(0, 255).astype(np.uint8), "L")
                     .resize((w, h), Image.BICUBIC), np.float32) / 128.0 - 1.0
    gain = (light * (1.0 + grain * tex))[..., None]
    base = np.asarray(img, np.float32)
    out = base * (1 - alpha) + np.clip(arr[..., :3] * gain, 0, 255) * alpha
    img.paste(Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB"))


# ---------------------------------------------------------------------------------------
# Components: content generators fn(rng, w, h) -> Content
# ---------------------------------------------------------------------------------------


@dataclass
class Content:
    """What a component draws: the image, a caption naming what it shows, and attributes.

    ``attrs`` must hold the group attributes ``people`` ("none"|"one"|"several"),
    ``setting`` ("outdoor"|"indoor"|"studio"|"page") and ``style``
    ("photo"|"cartoon"|"render"|"document"); it may hold more (e.g. ``label``).
    """

    image: Image.Image
    caption: str
    attrs: dict


ComponentFn = Callable[[np.random.Generator, int, int], Content]
COMPONENTS: dict[str, ComponentFn] = {}
PEOPLE_VALUES = ("none", "one", "several")
SETTING_VALUES = ("outdoor", "indoor", "studio", "page")
STYLE_VALUES = ("photo", "cartoon", "render", "document")


def register_component(name: str):
    """Decorator: register a content generator ``fn(rng, width, height) -> Content``."""

    def deco(fn: ComponentFn) -> ComponentFn:
        if name in COMPONENTS:
            raise ValueError(f"component {name!r} registered twice")
        COMPONENTS[name] = fn
        return fn

    return deco


def _attrs(people: int | str, setting: str, style: str, **extra) -> dict:
    p = people if isinstance(people, str) else _people_attr(people)
    return {"people": p, "setting": setting, "style": style, **extra}


# --- photo-like scenes (YFCC; also part of the web mix) --------------------------------

_PLACES = {
    "park": ((70, 130, 60), 18),
    "field": ((95, 140, 55), 14),
    "garden": ((60, 115, 55), 20),
    "beach": ((205, 185, 135), 12),
}


def _sky(rng, w, h, sunset: bool = False) -> Image.Image:
    if sunset:
        return _vgradient(w, h, _jit((90, 90, 150), rng, 15), _jit((245, 160, 90), rng, 15))
    return _vgradient(w, h, _jit((95, 150, 210), rng, 15), _jit((195, 215, 232), rng, 10))


def _scatter_clutter(d, rng, w, h, y_lo, y_hi, n):
    for _ in range(n):
        x = _u(rng, 0, w)
        y = _u(rng, y_lo, y_hi)
        s = _u(rng, 0.03, 0.09) * min(w, h)
        col = _jit(_choice(rng, ((90, 80, 70), (140, 120, 90), (60, 60, 70), (170, 150, 120), (120, 40, 40))), rng, 20)
        if rng.random() < 0.5:
            d.ellipse((x, y, x + s, y + s * 0.7), fill=col)
        else:
            d.rectangle((x, y, x + s, y + s * 0.8), fill=col)


@register_component("photo_outdoor_people")
def photo_outdoor_people(rng, w, h) -> Content:
    place = _choice(rng, tuple(_PLACES))
    horizon = int(h * _u(rng, 0.3, 0.5))
    img = _sky(rng, w, h)
    base, var = _PLACES[place]
    img.paste(_texture(rng, w, h - horizon, _jit(base, rng, 10), var, cells=8, fine=6), (0, horizon))
    d = new_draw(img)
    lw = _lw(w, h)
    if place == "beach":
        d.rectangle((0, horizon, w, horizon + (h - horizon) * 0.3), fill=_jit((50, 110, 170), rng, 15))
    else:
        for _ in range(int(rng.integers(0, 4))):
            tx = _u(rng, 0, w)
            ts = _u(rng, 0.12, 0.25) * h
            draw_object(d, "tree", (tx - ts / 2, horizon - ts * 0.8, tx + ts / 2, horizon + ts * 0.2),
                        _jit((45, 90, 45), rng, 15), rng)
    _scatter_clutter(d, rng, w, h, horizon + 2, h - 2, int(rng.integers(2, 7)))
    obj = None
    if rng.random() < 0.65:
        obj = _choice(rng, ("car", "ball", "tree", "house", "flower", "boat" if place == "beach" else "car"))
        oname, ocol = object_color(rng, obj)
        size = _u(rng, 0.25, 0.45) * min(w, h)
        ox = _u(rng, 0.15, 0.85) * w
        oy = _u(rng, horizon + 0.3 * (h - horizon), h - size * 0.3)
        draw_object(d, obj, (ox - size / 2, oy - size, ox + size / 2, oy), ocol, rng)
    n = int(_choice(rng, (1, 1, 2, 2, 2, 3, 3, 4, 5)))
    feet = sorted(_u(rng, horizon + 0.35 * (h - horizon), h * 0.98) for _ in range(n))
    for fy in feet:
        ph = _u(rng, 0.5, 0.75) * h * (fy / h)
        _person(d, rng, _u(rng, 0.08, 0.92) * w, fy, ph, _jit(COLORS[_choice(rng, VIVID)], rng, 25),
                style="blob" if rng.random() < 0.8 else "stick", lw=lw)
    who = _people_phrase(n)
    if obj is None:
        cap = f"a photo of {who} in a {place}"
    else:
        rel = _choice(rng, ("next to", "near", "with"))
        cap = f"a photo of {who} {rel} {_a(oname + ' ' + object_word(obj))} in a {place}"
    return Content(img, cap, _attrs(n, "outdoor", "photo"))


_ROOMS = ("living room", "kitchen", "restaurant", "office", "bedroom")


@register_component("photo_indoor_people")
def photo_indoor_people(rng, w, h) -> Content:
    room = _choice(rng, _ROOMS)
    floor_y = int(h * _u(rng, 0.6, 0.75))
    wall = _jit(_choice(rng, ((200, 185, 160), (180, 170, 150), (170, 180, 165), (190, 175, 175))), rng, 15)
    img = _texture(rng, w, h, wall, 10, cells=4, fine=4)
    img.paste(_texture(rng, w, h - floor_y, _jit((120, 85, 55), rng, 15), 14, cells=10, fine=6), (0, floor_y))
    d = new_draw(img)
    lw = _lw(w, h)
    wx = _u(rng, 0.05, 0.6) * w
    ww, wh = _u(rng, 0.2, 0.35) * w, _u(rng, 0.2, 0.35) * h
    wy = _u(rng, 0.08, 0.2) * h
    d.rectangle((wx, wy, wx + ww, wy + wh), fill=_jit((170, 205, 235), rng, 15), outline=(240, 240, 235), width=lw)
    if rng.random() < 0.6:
        px = _u(rng, 0.1, 0.8) * w
        d.rectangle((px, wy, px + 0.15 * w, wy + 0.12 * h), fill=_jit(COLORS[_choice(rng, VIVID)], rng, 30),
                    outline=(60, 40, 30), width=lw)
    # table with an object on it
    tx0 = _u(rng, 0.1, 0.5) * w
    tx1 = tx0 + _u(rng, 0.3, 0.45) * w
    ty = floor_y - _u(rng, 0.05, 0.12) * h
    d.rectangle((tx0, ty, tx1, ty + 0.05 * h), fill=_jit((100, 65, 40), rng, 15))
    d.line((tx0 + 2, ty, tx0 + 2, floor_y + 0.08 * h), fill=(80, 50, 30), width=lw)
    d.line((tx1 - 2, ty, tx1 - 2, floor_y + 0.08 * h), fill=(80, 50, 30), width=lw)
    obj = _choice(rng, ("cup", "cup", "flower", "ball", "key"))
    oname, ocol = object_color(rng, obj)
    os_ = _u(rng, 0.14, 0.22) * min(w, h)
    ox = _u(rng, tx0 + os_, tx1 - os_ / 2)
    draw_object(d, obj, (ox - os_ / 2, ty - os_, ox + os_ / 2, ty), ocol, rng)
    _scatter_clutter(d, rng, w, h, floor_y, h - 2, int(rng.integers(1, 5)))
    n = int(_choice(rng, (1, 1, 2, 2, 3, 4)))
    for fy in sorted(_u(rng, floor_y + 0.02 * h, h * 0.98) for _ in range(n)):
        _person(d, rng, _u(rng, 0.1, 0.9) * w, fy, _u(rng, 0.55, 0.8) * h,
                _jit(COLORS[_choice(rng, VIVID)], rng, 25), lw=lw)
    cap = f"a photo of {_people_phrase(n)} in a {room} with {_a(oname + ' ' + object_word(obj))} on the table"
    return Content(img, cap, _attrs(n, "indoor", "photo"))


@register_component("photo_landscape")
def photo_landscape(rng, w, h) -> Content:
    sunset = rng.random() < 0.35
    img = _sky(rng, w, h, sunset)
    d = new_draw(img)
    horizon = h * _u(rng, 0.45, 0.65)
    if rng.random() < 0.5:
        sx, sy, sr = _u(rng, 0.1, 0.9) * w, _u(rng, 0.1, 0.35) * h, _u(rng, 0.05, 0.09) * w
        d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 200, 120) if sunset else (255, 245, 200))
    has_mountains = rng.random() < 0.7
    if has_mountains:
        for layer, base in enumerate(((120, 130, 150), (80, 100, 90))):
            pts = [(0, horizon)]
            x = 0.0
            while x < w:
                x += _u(rng, 0.12, 0.3) * w
                pts.append((x, horizon - _u(rng, 0.1, 0.35) * h * (1 - 0.3 * layer)))
            pts.append((w, horizon))
            d.polygon(pts, fill=_jit(base if not sunset else _mix(base, (120, 70, 80), 0.4), rng, 12))
    has_lake = rng.random() < 0.5
    ground = _texture(rng, w, int(h - horizon) + 1, _jit((80, 120, 60), rng, 12), 16, cells=8, fine=5)
    img.paste(ground, (0, int(horizon)))
    if has_lake:
        ly = horizon + _u(rng, 0.05, 0.2) * (h - horizon)
        lake_col = (200, 140, 110) if sunset else (70, 120, 175)
        d.ellipse((_u(rng, -0.3, 0.2) * w, ly, _u(rng, 0.8, 1.3) * w, ly + _u(rng, 0.25, 0.5) * (h - horizon)),
                  fill=_jit(lake_col, rng, 12))
    n_trees = int(rng.integers(0, 6))
    for _ in range(n_trees):
        tx, ts = _u(rng, 0, w), _u(rng, 0.12, 0.3) * h
        ty = _u(rng, horizon, h)
        draw_object(d, "tree", (tx - ts / 3, ty - ts, tx + ts / 3, ty), _jit((40, 95, 45), rng, 15), rng)
    parts = ["mountains" if has_mountains else "green hills"]
    if has_lake:
        parts.append("a lake")
    if n_trees:
        parts.append("trees")
    what = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    when = "at sunset" if sunset else _choice(rng, ("on a sunny day", "under a blue sky", "in the afternoon"))
    return Content(img, f"a photo of {what} {when}", _attrs(0, "outdoor", "photo"))


@register_component("photo_street")
def photo_street(rng, w, h) -> Content:
    img = _sky(rng, w, h)
    d = new_draw(img)
    lw = _lw(w, h)
    road_y = h * _u(rng, 0.6, 0.72)
    x = _u(rng, -0.1, 0) * w
    while x < w:
        bw = _u(rng, 0.18, 0.35) * w
        top = _u(rng, 0.05, 0.4) * h
        col = _jit(_choice(rng, ((150, 140, 130), (160, 90, 70), (200, 190, 170), (110, 110, 120))), rng, 15)
        d.rectangle((x, top, x + bw, road_y), fill=col)
        win = _darker(col, 0.55)
        step = max(3.0, 0.07 * w)
        for wy in np.arange(top + step * 0.5, road_y - step, step):
            for wx in np.arange(x + step * 0.4, x + bw - step * 0.5, step):
                d.rectangle((wx, wy, wx + step * 0.45, wy + step * 0.5), fill=win)
        x += bw
    d.rectangle((0, road_y, w, h), fill=_jit((85, 85, 90), rng, 10))
    d.rectangle((0, road_y, w, road_y + 0.06 * h), fill=_jit((150, 150, 145), rng, 10))
    for mx in np.arange(0, w, 0.2 * w):
        d.rectangle((mx, (road_y + h) / 2, mx + 0.1 * w, (road_y + h) / 2 + max(1, 0.015 * h)), fill=(230, 230, 220))
    n_cars = int(rng.integers(1, 3))
    car_names = []
    for _ in range(n_cars):
        cname, ccol = object_color(rng, "car")
        car_names.append(cname)
        cs = _u(rng, 0.3, 0.45) * w
        cx, cy = _u(rng, 0.1, 0.9) * w, _u(rng, road_y + 0.15 * (h - road_y), h)
        draw_object(d, "car", (cx - cs / 2, cy - cs * 0.6, cx + cs / 2, cy), ccol, rng)
    _scatter_clutter(d, rng, w, h, road_y, road_y + 0.08 * h, int(rng.integers(1, 4)))
    n = int(_choice(rng, (0, 1, 2, 3, 4)))
    for _ in range(n):
        _person(d, rng, _u(rng, 0.05, 0.95) * w, road_y + 0.05 * h, _u(rng, 0.3, 0.45) * h,
                _jit(COLORS[_choice(rng, VIVID)], rng, 25), lw=lw)
    cars = _a(car_names[0] + " car") if n_cars == 1 else "two cars"
    cap = f"a photo of a city street with {cars}" + (f" and {_people_phrase(n)}" if n else "")
    return Content(img, cap, _attrs(n, "outdoor", "photo"))


@register_component("photo_group_event")
def photo_group_event(rng, w, h) -> Content:
    kind = _choice(rng, ("football", "wedding", "picnic"))
    horizon = int(h * _u(rng, 0.2, 0.4))
    img = _sky(rng, w, h)
    base = (70, 140, 60) if kind != "wedding" else (80, 125, 65)
    img.paste(_texture(rng, w, h - horizon, _jit(base, rng, 10), 12, cells=8, fine=5), (0, horizon))
    d = new_draw(img)
    lw = _lw(w, h)
    if kind == "football":
        d.line((0, (horizon + h) / 2, w, (horizon + h) / 2), fill=(235, 235, 235), width=lw)
    n = int(rng.integers(4, 9))
    team = [_jit(COLORS[c], rng, 15) for c in (_choice(rng, VIVID), _choice(rng, VIVID))]
    for i, fy in enumerate(sorted(_u(rng, horizon + 0.25 * (h - horizon), h * 0.98) for _ in range(n))):
        shirt = team[i % 2] if kind == "football" else (
            (245, 245, 245) if (kind == "wedding" and i == 0) else _jit(COLORS[_choice(rng, VIVID)], rng, 25))
        _person(d, rng, _u(rng, 0.05, 0.95) * w, fy, _u(rng, 0.45, 0.65) * h * (fy / h) * 1.2, shirt, lw=lw)
    if kind == "football":
        bs = 0.08 * min(w, h)
        bx, by = _u(rng, 0.2, 0.8) * w, _u(rng, 0.7, 0.95) * h
        draw_object(d, "ball", _box_at(bx, by, bs), (240, 240, 240), rng)
        cap = "a photo of a group of people playing football on a field"
    elif kind == "wedding":
        for _ in range(int(rng.integers(1, 4))):
            fs = _u(rng, 0.12, 0.2) * min(w, h)
            fx, fy = _u(rng, 0, w), _u(rng, horizon, h)
            oname, ocol = object_color(rng, "flower")
            draw_object(d, "flower", (fx - fs / 2, fy - fs, fx + fs / 2, fy), ocol, rng)
        cap = "a photo of a wedding with a group of people in a garden"
    else:
        _scatter_clutter(d, rng, w, h, horizon, h, int(rng.integers(3, 7)))
        cap = "a photo of a group of people having a picnic in a park"
    return Content(img, cap, _attrs(n, "outdoor", "photo"))


# --- cartoons and illustrations (CC) ---------------------------------------------------

# CC's palette: candy colours and mid-tone pastels (no natural greens/browns, never white).
_PASTELS = ((250, 175, 190), (150, 195, 250), (250, 220, 120), (205, 170, 250), (250, 185, 140), (140, 225, 225))
_SATURATED_BG = ((40, 170, 230), (250, 200, 30), (240, 90, 120), (160, 100, 230), (255, 140, 40), (30, 200, 200),
                 (250, 110, 200))
# Web banners (DataComp/LAION ads): strong marketing colours, darker than CC's candy.
_WEB_BG = ((200, 30, 40), (25, 45, 110), (25, 25, 30), (20, 110, 70), (225, 80, 20), (120, 30, 110))


def _flat_background(rng, w, h, palette: Sequence[RGB] | None = None) -> Image.Image:
    """CC's backdrop: a candy or pastel colour covered by a bold graphic pattern (sunburst
    rays, a polka-dot grid or diagonal stripes), so every part of a CC image looks drawn."""
    if palette is not None:
        bg = _jit(_choice(rng, palette), rng, 10)
    elif rng.random() < 0.55:
        bg = _jit(_choice(rng, _SATURATED_BG), rng, 15)
    else:
        bg = _jit(_choice(rng, _PASTELS), rng, 8)
    img = Image.new("RGB", (w, h), bg)
    d = new_draw(img)
    ink = _mix(bg, (255, 255, 255), 0.4) if sum(bg) < 600 else _mix(bg, (0, 0, 0), 0.2)
    pattern = rng.random()
    if pattern < 0.34:  # sunburst rays
        cx, cy = w * _u(rng, 0.3, 0.7), h * _u(rng, 0.3, 0.7)
        n = int(rng.integers(6, 10))
        R = 2 * max(w, h)
        for i in range(n):
            a0, a1 = (2 * i) * math.pi / n, (2 * i + 1) * math.pi / n
            d.polygon([(cx, cy), (cx + R * math.cos(a0), cy + R * math.sin(a0)),
                       (cx + R * math.cos(a1), cy + R * math.sin(a1))], fill=ink)
    elif pattern < 0.67:  # polka dots on a regular grid
        step = _u(rng, 0.11, 0.16) * min(w, h)
        r = step * _u(rng, 0.2, 0.3)
        for j, y in enumerate(np.arange(step / 2, h + step, step)):
            off = step / 2 if j % 2 else 0.0
            for x in np.arange(off, w + step, step):
                d.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    else:  # diagonal stripes
        step = _u(rng, 0.12, 0.2) * min(w, h)
        sw = max(1, int(step * 0.4))
        for x in np.arange(-h, w + h, step):
            d.line((x, 0, x + h, h), fill=ink, width=sw)
    return img


@register_component("cartoon_object")
def cartoon_object(rng, w, h) -> Content:
    img = _flat_background(rng, w, h)
    d = new_draw(img)
    obj = _choice(rng, OBJECT_CLASSES)
    oname, ocol = object_color(rng, obj)
    ocol = _mix(COLORS[oname], (255, 255, 255), 0.1)
    size = _u(rng, 0.5, 0.72) * min(w, h)
    cx, cy = w / 2 + _u(rng, -0.08, 0.08) * w, h / 2 + _u(rng, -0.08, 0.08) * h
    lw = max(2, _lw(w, h, 1 / 22))
    draw_object(d, obj, _box_at(cx, cy, size), ocol, rng, outline=(20, 20, 20), lw=lw)
    smiling = rng.random() < 0.6 and obj in ("ball", "star", "cup", "fish", "house", "car")
    if smiling:
        _face(d, cx, cy + 0.05 * size, size * 0.45)
    adj = "smiling " if smiling else ""
    kind = _choice(rng, ("a cartoon of", "an illustration of", "a cute drawing of"))
    return Content(img, f"{kind} {_a(adj + oname + ' ' + object_word(obj))}", _attrs(0, "studio", "cartoon"))


def _cartoon_person(d, rng, cx, top, height, shirt, lw):
    skin = _choice(rng, SKIN)
    hr = height * 0.25
    hcy = top + hr
    d.rounded_rectangle((cx - height * 0.28, hcy + hr * 0.8, cx + height * 0.28, top + height),
                        radius=max(1, height * 0.1), fill=shirt, outline=(20, 20, 20), width=lw)
    d.ellipse((cx - hr, hcy - hr, cx + hr, hcy + hr), fill=skin, outline=(20, 20, 20), width=lw)
    d.chord((cx - hr, hcy - hr, cx + hr, hcy + hr * 0.2), 180, 360, fill=_choice(rng, HAIR), outline=(20, 20, 20),
            width=lw)
    _face(d, cx, hcy + hr * 0.25, hr * 1.3)


@register_component("icon_set")
def icon_set(rng, w, h) -> Content:
    """A sheet of outlined cartoon icons in a grid ("vector icon set"), a stock-illustration staple."""
    img = _flat_background(rng, w, h)
    d = new_draw(img)
    cols = int(rng.integers(2, 4))
    rows = max(2, int(round(cols * h / w)))
    cw, ch = w / cols, h / rows
    lw = max(1, _lw(w, h, 1 / 30))
    kinds = []
    for r in range(rows):
        for c in range(cols):
            obj = _choice(rng, OBJECT_CLASSES)
            cname = _choice(rng, OBJECT_PALETTES.get(obj, VIVID))
            s_ = 0.72 * min(cw, ch)
            cx, cy = (c + 0.5) * cw, (r + 0.5) * ch
            d.ellipse(_box_at(cx, cy, s_ * 1.2), fill=(255, 255, 255), outline=(20, 20, 20), width=lw)
            draw_object(d, obj, _box_at(cx, cy, s_ * 0.8), COLORS[cname], rng, outline=(20, 20, 20), lw=lw)
            kinds.append(object_word(obj))
    uniq = sorted(set(kinds), key=kinds.index)
    what = ", ".join(uniq[:3])
    n = rows * cols
    return Content(img, f"a set of {NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n} cartoon icons with {what}",
                   _attrs(0, "studio", "cartoon"))


@register_component("cartoon_character")
def cartoon_character(rng, w, h) -> Content:
    img = _flat_background(rng, w, h)
    d = new_draw(img)
    lw = max(2, _lw(w, h, 1 / 22))
    n = 1 if rng.random() < 0.75 else 2
    sname = _choice(rng, VIVID)
    for i in range(n):
        cx = w / 2 if n == 1 else w * (0.3 + 0.4 * i)
        hh = _u(rng, 0.7, 0.9) * h / (1 if n == 1 else 1.2)
        _cartoon_person(d, rng, cx, h - hh - 0.02 * h, hh, COLORS[sname if i == 0 else _choice(rng, VIVID)], lw)
    who = "a smiling person" if n == 1 else "two smiling people"
    return Content(img, f"a cartoon of {who} in a {sname} shirt", _attrs(n, "studio", "cartoon"))


@register_component("flat_illustration")
def flat_illustration(rng, w, h) -> Content:
    sky = _jit(_choice(rng, ((90, 200, 245), (255, 210, 120), (170, 225, 255), (255, 170, 190))), rng, 10)
    img = Image.new("RGB", (w, h), sky)
    d = new_draw(img)
    lw = max(1, _lw(w, h, 1 / 28))
    sr = _u(rng, 0.08, 0.13) * w
    sx, sy = _u(rng, 0.15, 0.85) * w, _u(rng, 0.1, 0.25) * h
    d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 225, 40), outline=(20, 20, 20), width=lw)
    for i in range(2):
        hy = h * (0.55 + 0.15 * i)
        d.ellipse((_u(rng, -0.6, -0.1) * w, hy, _u(rng, 1.1, 1.6) * w, hy + h), outline=(20, 20, 20), width=lw,
                  fill=_jit(((100, 210, 80), (60, 180, 70))[i], rng, 15))
    things = []
    for obj in ("house", "tree", "flower", "car"):
        if rng.random() < 0.5 or (obj == "house" and not things):
            oname, ocol = object_color(rng, obj)
            ocol = COLORS[oname]
            s = _u(rng, 0.25, 0.4) * min(w, h)
            ox, oy = _u(rng, 0.15, 0.85) * w, _u(rng, 0.7, 0.92) * h
            draw_object(d, obj, (ox - s / 2, oy - s, ox + s / 2, oy), ocol, rng, outline=(20, 20, 20), lw=lw)
            things.append(_a(oname + " " + object_word(obj)) if obj != "tree" else "a tree")
    what = " and ".join(things[:2]) if len(things) <= 2 else ", ".join(things[:-1]) + " and " + things[-1]
    return Content(img, f"an illustration of {what} on a green hill", _attrs(0, "outdoor", "cartoon"))


@register_component("clothing_product")
def clothing_product(rng, w, h) -> Content:
    img = _flat_background(rng, w, h, _PASTELS)
    d = new_draw(img)
    cname = _choice(rng, VIVID)
    s = _u(rng, 0.6, 0.8) * min(w, h)
    _tshirt(d, _box_at(w / 2, h / 2, s), COLORS[cname], outline=(20, 20, 20), lw=max(2, _lw(w, h, 1 / 24)))
    if rng.random() < 0.5:
        draw_object(d, "star", _box_at(w / 2, h / 2, s * 0.25), (250, 250, 250), rng)
        return Content(img, f"a {cname} t-shirt with a white star on a pastel background",
                       _attrs(0, "studio", "render"))
    return Content(img, f"a {cname} t-shirt on a pastel background", _attrs(0, "studio", "render"))


@register_component("logo_badge")
def logo_badge(rng, w, h) -> Content:
    img = _flat_background(rng, w, h)
    d = new_draw(img)
    cname = _choice(rng, VIVID)
    col = COLORS[cname]
    s = _u(rng, 0.6, 0.8) * min(w, h)
    cx, cy = w / 2, h / 2
    shape = _choice(rng, ("circle", "shield", "square"))
    lw = max(2, _lw(w, h, 1 / 24))
    if shape == "circle":
        d.ellipse(_box_at(cx, cy, s), fill=col, outline=(20, 20, 20), width=lw)
    elif shape == "square":
        d.rounded_rectangle(_box_at(cx, cy, s), radius=s * 0.2, fill=col, outline=(20, 20, 20), width=lw)
    else:
        d.polygon([(cx - s / 2, cy - s / 2), (cx + s / 2, cy - s / 2), (cx + s / 2, cy), (cx, cy + s / 2),
                   (cx - s / 2, cy)], fill=col, outline=(20, 20, 20), width=lw)
    letter = chr(ord("A") + int(rng.integers(26)))
    _word(d, (cx, cy), letter, s * 0.55, (255, 255, 255))
    return Content(img, f"a logo with the letter {letter} in {_a(cname + ' ' + shape)}", _attrs(0, "studio", "render"))


# --- web mix: products, ads, stickers (DataComp and LAION) -----------------------------

_AD_WORDS = ("SALE", "NEW", "50% OFF", "BUY NOW", "FREE", "HOT", "BEST", "SHOP", "DEAL", "TOP 10")
_BRANDS = ("ACME", "NOVA", "ZEN", "ORBIT", "LUMA", "PIXEL", "KIWI", "BOLT")
_PRODUCTS = ("cup", "ball", "key", "car", "star", "flower", "boat", "house", "fish")


@register_component("product_white")
def product_white(rng, w, h) -> Content:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = new_draw(img)
    has_text = rng.random() < 0.5
    cy = h * (0.45 if has_text else 0.52)
    size = _u(rng, 0.5, 0.72) * min(w, h)
    cx = w / 2 + _u(rng, -0.05, 0.05) * w
    d.ellipse((cx - size * 0.45, cy + size * 0.38, cx + size * 0.45, cy + size * 0.52), fill=(228, 228, 228))
    if rng.random() < 0.2:
        oname = _choice(rng, VIVID)
        _tshirt(d, _box_at(cx, cy, size), COLORS[oname])
        thing = f"{oname} t-shirt"
    else:
        obj = _choice(rng, _PRODUCTS)
        oname, ocol = object_color(rng, obj)
        draw_object(d, obj, _box_at(cx, cy, size), ocol, rng)
        thing = f"{oname} {object_word(obj)}"
    cap = f"a product photo of {_a(thing)} on white"
    if has_text:
        word = _choice(rng, _AD_WORDS + _BRANDS)
        _word(d, (w / 2, h * 0.88), word, max(7, 0.15 * min(w, h)), _jit(COLORS[_choice(rng, ("red", "black", "blue"))], rng, 10))
        cap += f" with the text {word}"
    return Content(img, cap, _attrs(0, "studio", "render"))


@register_component("text_ad")
def text_ad(rng, w, h) -> Content:
    white = rng.random() < 0.7
    bg = (255, 255, 255) if white else _jit(_choice(rng, _WEB_BG), rng, 10)
    img = Image.new("RGB", (w, h), bg)
    d = new_draw(img)
    word = _choice(rng, _AD_WORDS)
    banner = _jit(_choice(rng, _WEB_BG), rng, 10)
    if white and rng.random() < 0.6:  # a coloured banner behind the headline
        d.rectangle((0, h * 0.12, w, h * 0.42), fill=banner)
        ink = (255, 255, 255)
    elif white:
        ink = _jit(COLORS[_choice(rng, ("red", "black", "blue", "orange"))], rng, 10)
    else:
        ink = (255, 255, 255)
        if rng.random() < 0.5:
            d.rectangle((0, h * 0.12, w, h * 0.42), fill=_darker(bg, 0.7))
    _word(d, (w / 2, h * 0.27), word, max(8, 0.2 * min(w, h)), ink)
    rows_ink = (70, 70, 70) if white else _mix(bg, (255, 255, 255), 0.7)
    lh = max(1.0, 0.035 * h)
    _text_block(d, rng, (0.1 * w, 0.55 * h, 0.55 * w, 0.55 * h + 3.2 * lh * 2), lh, rows_ink, gap=1.2)
    obj = _choice(rng, _PRODUCTS)
    oname, ocol = object_color(rng, obj)
    s = 0.3 * min(w, h)
    draw_object(d, obj, _box_at(0.8 * w, 0.68 * h, s), ocol, rng)
    return Content(img, f"an advertisement with the text {word} and {_a(oname + ' ' + object_word(obj))}",
                   _attrs(0, "studio", "render"))


@register_component("sticker")
def sticker(rng, w, h) -> Content:
    transparent = rng.random() < 0.5
    img = _checkerboard(w, h, max(3, min(w, h) // 12)) if transparent else Image.new("RGB", (w, h), (255, 255, 255))
    d = new_draw(img)
    obj = _choice(rng, OBJECT_CLASSES)
    oname, ocol = object_color(rng, obj)
    s = _u(rng, 0.45, 0.65) * min(w, h)
    cx, cy = w / 2, h / 2
    pad = 0.14 * s
    if rng.random() < 0.5:
        d.ellipse(_box_at(cx, cy, s + 2 * pad), fill=(255, 255, 255), outline=(190, 190, 190), width=1)
    else:
        d.rounded_rectangle(_box_at(cx, cy, s + 2 * pad), radius=s * 0.25, fill=(255, 255, 255), outline=(190, 190, 190),
                            width=1)
    draw_object(d, obj, _box_at(cx, cy, s), COLORS[oname], rng, outline=(30, 30, 30), lw=max(1, _lw(w, h, 1 / 30)))
    smiling = rng.random() < 0.4
    if smiling:
        _face(d, cx, cy + 0.05 * s, 0.4 * s)
    bgword = "a transparent background" if transparent else "white"
    adj = "smiling " if smiling else ""
    return Content(img, f"a sticker of {_a(adj + oname + ' ' + object_word(obj))} on {bgword}",
                   _attrs(0, "studio", "cartoon"))


@register_component("clipart")
def clipart(rng, w, h) -> Content:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = new_draw(img)
    lw = max(1, _lw(w, h, 1 / 28))
    if rng.random() < 0.3:
        sname = _choice(rng, VIVID)
        hh = _u(rng, 0.65, 0.85) * h
        _cartoon_person(d, rng, w / 2, (h - hh) / 2, hh, COLORS[sname], lw)
        return Content(img, f"a clipart of a smiling person in a {sname} shirt on white", _attrs(1, "studio", "cartoon"))
    obj = _choice(rng, OBJECT_CLASSES)
    oname, _ = object_color(rng, obj)
    s = _u(rng, 0.5, 0.7) * min(w, h)
    draw_object(d, obj, _box_at(w / 2, h / 2, s), COLORS[oname], rng, outline=(30, 30, 30), lw=lw)
    return Content(img, f"a clipart of {_a(oname + ' ' + object_word(obj))} on white", _attrs(0, "studio", "cartoon"))


@register_component("web_portrait")
def web_portrait(rng, w, h) -> Content:
    top = _jit(_choice(rng, ((240, 240, 243), (228, 236, 246), (246, 240, 230), (232, 232, 235))), rng, 6)
    img = _vgradient(w, h, top, _darker(top, 0.9))
    d = new_draw(img)
    sname = _choice(rng, VIVID)
    shirt = _jit(COLORS[sname], rng, 20)
    cx = w / 2 + _u(rng, -0.1, 0.1) * w
    hr = _u(rng, 0.17, 0.24) * min(w, h)
    hcy = h * _u(rng, 0.35, 0.45)
    d.ellipse((cx - 2.6 * hr, hcy + 1.2 * hr, cx + 2.6 * hr, hcy + 5 * hr), fill=shirt)
    d.rectangle((cx - 0.4 * hr, hcy + 0.7 * hr, cx + 0.4 * hr, hcy + 1.5 * hr), fill=_choice(rng, SKIN))
    skin = _choice(rng, SKIN)
    d.ellipse((cx - hr, hcy - 1.15 * hr, cx + hr, hcy + 1.15 * hr), fill=skin)
    hair = _choice(rng, HAIR)
    d.chord((cx - 1.05 * hr, hcy - 1.25 * hr, cx + 1.05 * hr, hcy + 0.4 * hr), 180, 360, fill=hair)
    e = max(1.0, 0.12 * hr)
    for ex in (cx - 0.38 * hr, cx + 0.38 * hr):
        d.ellipse((ex - e, hcy + 0.05 * hr - e, ex + e, hcy + 0.05 * hr + e), fill=(40, 30, 30))
    d.arc((cx - 0.4 * hr, hcy + 0.2 * hr, cx + 0.4 * hr, hcy + 0.7 * hr), 20, 160, fill=(150, 60, 60), width=1)
    return Content(img, f"a portrait photo of a person in a {sname} shirt", _attrs(1, "studio", "photo"))


@register_component("screenshot")
def screenshot(rng, w, h) -> Content:
    """An online-shop page: a coloured header bar over a grid of product tiles."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = new_draw(img)
    cname = _choice(rng, ("blue", "red", "green", "purple", "orange", "black"))
    bar = _jit(COLORS[cname], rng, 10)
    bh = _u(rng, 0.1, 0.16) * h
    d.rectangle((0, 0, w, bh), fill=bar)
    _glyph_row(d, rng, 0.05 * w, bh * 0.35, 0.4 * w, max(1.0, bh * 0.3), (255, 255, 255))
    cols = 2 if w < h * 1.2 else 3
    rows = 2
    gx, gy = 0.05 * w, 0.04 * h
    tw = (w - gx * (cols + 1)) / cols
    th = (h - bh - gy * (rows + 1)) / rows
    n_items = 0
    for r in range(rows):
        for c in range(cols):
            x0 = gx + c * (tw + gx)
            y0 = bh + gy + r * (th + gy)
            d.rectangle((x0, y0, x0 + tw, y0 + th), outline=(215, 215, 220), width=1)
            obj = _choice(rng, _PRODUCTS)
            _, ocol = object_color(rng, obj)
            draw_object(d, obj, _box_at(x0 + tw / 2, y0 + th * 0.42, 0.62 * min(tw, th)), ocol, rng)
            d.rectangle((x0 + tw * 0.15, y0 + th * 0.82, x0 + tw * 0.6, y0 + th * 0.82 + max(1.0, 0.025 * h)),
                        fill=bar)
            n_items += 1
    return Content(img, f"a screenshot of an online shop with a {cname} header and {NUMBER_WORDS[n_items]} products",
                   _attrs(0, "page", "render"))


# --- document pages (WIT) --------------------------------------------------------------

_PAGE = (246, 243, 234)
_INK = (55, 55, 60)
_LINK = (50, 90, 190)


def _page(rng, w, h) -> tuple[Image.Image, ImageDraw.ImageDraw, float]:
    """An off-white page with a title and a rule; returns (image, draw, text line height)."""
    img = Image.new("RGB", (w, h), _jit(_PAGE, rng, 4))
    d = new_draw(img)
    lh = max(1.0, 0.018 * h)
    _glyph_row(d, rng, 0.05 * w, 0.035 * h, _u(rng, 0.4, 0.8) * w, max(2.0, 0.035 * h), (20, 20, 25))
    d.line((0.05 * w, 0.09 * h, 0.95 * w, 0.09 * h), fill=(170, 170, 170), width=1)
    return img, d, lh


def _body_text(d, rng, box: Box, lh: float) -> None:
    """Dense running text with a few links, as on an encyclopedia page."""
    _text_block(d, rng, box, lh, _INK, gap=0.6, link_color=_LINK, link_p=0.12)


@register_component("document_text")
def document_text(rng, w, h) -> Content:
    img, d, lh = _page(rng, w, h)
    infobox = rng.random() < 0.5
    right = 0.6 * w if infobox else 0.95 * w
    _body_text(d, rng, (0.05 * w, 0.12 * h, right, 0.97 * h), lh)
    if infobox:
        d.rectangle((0.64 * w, 0.12 * h, 0.95 * w, 0.6 * h), fill=(236, 238, 242), outline=(160, 160, 170))
        _text_block(d, rng, (0.67 * w, 0.15 * h, 0.92 * w, 0.58 * h), lh, _INK, gap=1.0)
        _body_text(d, rng, (0.64 * w, 0.63 * h, 0.95 * w, 0.97 * h), lh)
        return Content(img, "a document page with text and an infobox", _attrs(0, "page", "document"))
    return Content(img, "a document page with text", _attrs(0, "page", "document"))


@register_component("bar_chart")
def bar_chart(rng, w, h) -> Content:
    img, d, lh = _page(rng, w, h)
    kind = _choice(rng, ("bar", "bar", "line", "pie"))
    x0, y0, x1, y1 = 0.14 * w, 0.14 * h, 0.9 * w, 0.5 * h
    if kind == "pie":
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, 0.45 * min(x1 - x0, y1 - y0)
        a = 0.0
        for _ in range(int(rng.integers(3, 6))):
            da = _u(rng, 40, 140)
            d.pieslice((cx - r, cy - r, cx + r, cy + r), a, min(360, a + da), fill=_jit(COLORS[_choice(rng, VIVID)], rng, 20))
            a += da
            if a >= 360:
                break
        if a < 360:
            d.pieslice((cx - r, cy - r, cx + r, cy + r), a, 360, fill=(190, 190, 190))
    else:
        d.line((x0, y0, x0, y1, x1, y1), fill=(40, 40, 40), width=1)
        n = int(rng.integers(3, 8))
        vals = rng.uniform(0.15, 1.0, n)
        step = (x1 - x0) / n
        col = _jit(COLORS[_choice(rng, VIVID)], rng, 20)
        if kind == "bar":
            for i, v in enumerate(vals):
                d.rectangle((x0 + step * (i + 0.2), y1 - v * (y1 - y0), x0 + step * (i + 0.8), y1 - 1), fill=col)
        else:
            pts = [(x0 + step * (i + 0.5), y1 - v * (y1 - y0)) for i, v in enumerate(vals)]
            d.line(pts, fill=col, width=max(1, _lw(w, h, 1 / 40)))
    _body_text(d, rng, (0.05 * w, 0.55 * h, 0.95 * w, 0.97 * h), lh)
    return Content(img, f"a document page with {_a(kind)} chart", _attrs(0, "page", "document"))


@register_component("diagram")
def diagram(rng, w, h) -> Content:
    img, d, lh = _page(rng, w, h)
    n = int(rng.integers(3, 6))
    boxes = []
    for i in range(n):
        bw, bh = 0.32 * w, 0.07 * h
        cx = w * (0.3 if i % 2 == 0 else 0.7) + _u(rng, -0.05, 0.05) * w
        cy = 0.13 * h + i * (0.5 * h / n)
        boxes.append((cx - bw / 2, cy, cx + bw / 2, cy + bh))
    fill = _jit(_choice(rng, ((220, 235, 250), (250, 240, 210), (225, 245, 225))), rng, 8)
    for a, b in zip(boxes, boxes[1:]):
        p, q = ((a[0] + a[2]) / 2, a[3]), ((b[0] + b[2]) / 2, b[1])
        d.line((p, q), fill=(60, 60, 60), width=1)
        d.polygon([(q[0], q[1]), (q[0] - 2, q[1] - 3), (q[0] + 2, q[1] - 3)], fill=(60, 60, 60))
    for bx in boxes:
        d.rectangle(bx, fill=fill, outline=(60, 60, 70), width=1)
        _glyph_row(d, rng, bx[0] + 2, (bx[1] + bx[3]) / 2 - lh / 2, bx[2] - 2, lh, _INK)
    _body_text(d, rng, (0.05 * w, 0.68 * h, 0.95 * w, 0.97 * h), lh)
    return Content(img, f"a diagram with {NUMBER_WORDS[n]} boxes connected by arrows", _attrs(0, "page", "document"))


@register_component("map")
def map_page(rng, w, h) -> Content:
    """A page with a map (sea, land, borders, cities) above running text."""
    img, d, lh = _page(rng, w, h)
    mw, mh = max(4, int(0.9 * w)), max(4, int(0.5 * h))
    m = Image.new("RGB", (mw, mh), _jit((170, 205, 230), rng, 8))
    md = new_draw(m)
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = _u(rng, 0.2, 0.8) * mw, _u(rng, 0.25, 0.75) * mh
        R = _u(rng, 0.3, 0.5) * min(mw, mh)
        k = 14
        pts = [(cx + R * _u(rng, 0.6, 1.3) * math.cos(2 * math.pi * i / k),
                cy + R * _u(rng, 0.6, 1.3) * math.sin(2 * math.pi * i / k)) for i in range(k)]
        md.polygon(pts, fill=_jit(_choice(rng, ((235, 225, 190), (205, 225, 180))), rng, 8), outline=(120, 120, 110))
    for _ in range(int(rng.integers(1, 3))):
        md.line([(_u(rng, 0, mw), _u(rng, 0, mh)) for _ in range(3)], fill=(150, 100, 120), width=1)
    n = int(rng.integers(2, 6))
    for _ in range(n):
        x, y = _u(rng, 0.15, 0.85) * mw, _u(rng, 0.15, 0.85) * mh
        r = max(1.0, 0.025 * min(mw, mh))
        md.ellipse((x - r, y - r, x + r, y + r), fill=(30, 30, 30))
        _glyph_row(md, rng, x + 2 * r, y - r, x + 2 * r + 0.15 * mw, max(1.0, 0.04 * mh), (40, 40, 40))
    md.rectangle((0, 0, mw - 1, mh - 1), outline=(90, 90, 90), width=1)
    img.paste(m, (int(0.05 * w), int(0.12 * h)))
    _body_text(d, rng, (0.05 * w, 0.12 * h + mh + 0.04 * h, 0.95 * w, 0.97 * h), lh)
    return Content(img, f"a document page with a map of a coastline with {NUMBER_WORDS[n]} cities",
                   _attrs(0, "page", "document"))


@register_component("archive_photo")
def archive_photo(rng, w, h) -> Content:
    img, d, lh = _page(rng, w, h)
    pw, ph = 0.7 * w, 0.42 * h
    x0, y0 = (w - pw) / 2, 0.12 * h
    photo = _vgradient(int(pw), int(ph), (200, 200, 195), (120, 118, 110))
    pd = new_draw(photo)
    subject = _choice(rng, ("house", "person", "boat"))
    if subject == "person":
        _person(pd, rng, pw / 2, ph * 0.98, ph * 0.85, (70, 70, 70), lw=1)
    else:
        draw_object(pd, subject, _box_at(pw / 2, ph / 2, 0.75 * min(pw, ph)), (140, 140, 135), rng)
    tone = np.asarray(photo.convert("L"), np.float32)[..., None]
    sepia = np.clip(tone * np.array([1.07, 0.95, 0.78], np.float32), 0, 255).astype(np.uint8)
    img.paste(Image.fromarray(sepia, "RGB"), (int(x0), int(y0)))
    d.rectangle((x0 - 1, y0 - 1, x0 + int(pw), y0 + int(ph)), outline=(150, 150, 150))
    _body_text(d, rng, (0.05 * w, y0 + ph + 0.04 * h, 0.95 * w, 0.97 * h), lh)
    return Content(img, f"a document page with an old black and white photo of {_a(subject)}",
                   _attrs(1 if subject == "person" else 0, "page", "document"))


# --- one centred object on a natural texture (ImageNet) --------------------------------

_BACKGROUNDS = {
    "grass": ((85, 135, 60), 22, "outdoor"),
    "sand": ((195, 175, 130), 18, "outdoor"),
    "water": ((60, 110, 150), 20, "outdoor"),
    "leaves": ((70, 100, 50), 30, "outdoor"),
    "a wooden table": ((140, 100, 65), 20, "indoor"),
    "stone": ((130, 128, 122), 22, "outdoor"),
}


@register_component("object_on_texture")
def object_on_texture(rng, w, h) -> Content:
    bgname = _choice(rng, tuple(_BACKGROUNDS))
    base, var, setting = _BACKGROUNDS[bgname]
    img = _texture(rng, w, h, _jit(base, rng, 12), var * 1.3, cells=int(rng.integers(6, 16)), fine=10, mono=0.6)
    d = new_draw(img)
    label = int(rng.integers(len(OBJECT_CLASSES)))
    obj = OBJECT_CLASSES[label]
    oname, ocol = object_color(rng, obj)
    ocol = _mix(ocol, (128, 128, 128), 0.2)  # natural objects are less saturated than cartoons
    size = _u(rng, 0.5, 0.78) * min(w, h)
    cx, cy = w / 2 + _u(rng, -0.08, 0.08) * w, h / 2 + _u(rng, -0.08, 0.08) * h
    d.ellipse((cx - size * 0.4, cy + size * 0.35, cx + size * 0.4, cy + size * 0.5), fill=_darker(base, 0.7))
    draw_photo_object(img, obj, _box_at(cx, cy, size), ocol, rng)
    prep = "in" if bgname in ("water", "leaves") else "on"
    cap = f"a photo of {_a(oname + ' ' + object_word(obj))} {prep} {bgname}"
    return Content(img, cap, _attrs(0, setting, "photo", label=label, class_name=obj))


# --- labeled worlds with planted spurious correlations -------------------------------------
#
# Their planners (see SourceSpec.planner) fix split, label and group of every index, so the
# planted proportions hold exactly per block of indices, whatever the seed:
#
# * waterbirds: indices i % 5 in {0, 1, 2} are "train", 3 "val", 4 "test". In train, per 40
#   consecutive train samples: 10 waterbirds and 30 landbirds, one of each on the other kind's
#   background, so 95% are aligned (waterbird on water, landbird on land), 25% waterbirds. In
#   val and test the four (y, place) groups cycle: balanced.
# * celeba: i % 10 in 0..7 "train", 8 "val", 9 "test" (CelebA's 80/10/10); in every split, per
#   20 consecutive samples: 6 blond (5 women, 1 man) and 14 not blond (7 women, 7 men): blond
#   is mostly female, as in CelebA; age and skin tone are drawn at random.

WATERBIRD_SPLITS = ("train", "train", "train", "val", "test")
LAND_PLACES = ("forest", "bamboo forest")
WATER_PLACES = ("lake", "ocean")
LANDBIRDS = {"sparrow": ("brown", "gray", "yellow", "red", "orange"),
             "robin": ("brown", "red", "orange", "gray"),
             "warbler": ("yellow", "green", "orange", "blue"),
             "woodpecker": ("black", "red", "white", "brown"),
             "crow": ("black", "gray", "blue", "purple")}
WATERBIRDS = {"duck": ("brown", "green", "white", "yellow", "gray"),
              "gull": ("white", "gray", "black"),
              "swan": ("white", "black", "gray"),
              "heron": ("gray", "white", "blue", "purple"),
              "pelican": ("white", "brown", "pink", "yellow")}


def _waterbirds_plan(rng: np.random.Generator, index: int) -> dict:
    q, r = divmod(index, 5)
    split = WATERBIRD_SPLITS[r]
    if split == "train":
        p = (3 * q + r) % 40  # the sample's position in its block of 40 train samples
        y = int(p < 10)
        place = 0 if p == 9 else (1 if p == 39 else y)
    else:
        y, place = divmod(q % 4, 2)
    return {"y": y, "place": place, "split": split}


def _landscape(rng, w, h, place: str) -> Image.Image:
    """Land (forest, bamboo forest) or water (lake, ocean) backgrounds, varied per image."""
    if place in WATER_PLACES:
        horizon = int(h * _u(rng, 0.15, 0.45))
        img = _sky(rng, w, h, sunset=rng.random() < 0.2)
        base = (45, 95, 150) if place == "ocean" else (60, 115, 125)
        water = _texture(rng, w, h - horizon, _jit(base, rng, 14), 16, cells=int(rng.integers(6, 14)), fine=5)
        img.paste(water, (0, horizon))
        d = new_draw(img)
        if place == "lake":  # a far shore line of trees
            d.rectangle((0, horizon - h * 0.05, w, horizon), fill=_jit((50, 80, 50), rng, 12))
        for _ in range(int(rng.integers(3, 9))):  # waves / ripples
            y = _u(rng, horizon + 2, h)
            x = _u(rng, -0.1, 0.9) * w
            d.line((x, y, x + _u(rng, 0.1, 0.3) * w, y), fill=_jit((200, 220, 235), rng, 15), width=1)
        return img
    base = (60, 110, 55) if place == "forest" else (110, 150, 70)
    img = _texture(rng, w, h, _jit(base, rng, 14), 26, cells=int(rng.integers(5, 12)), fine=6, mono=0.5)
    d = new_draw(img)
    if place == "forest":
        for _ in range(int(rng.integers(2, 6))):
            x = _u(rng, 0, w)
            tw_ = _u(rng, 0.04, 0.1) * w
            d.rectangle((x, 0, x + tw_, h), fill=_jit((95, 65, 40), rng, 15))
    else:
        for _ in range(int(rng.integers(4, 10))):
            x = _u(rng, 0, w)
            sw = max(1.0, _u(rng, 0.02, 0.04) * w)
            col = _jit((130, 170, 70), rng, 20)
            d.rectangle((x, 0, x + sw, h), fill=col)
            for y in range(int(rng.integers(2, 5))):
                yy = _u(rng, 0, h)
                d.line((x, yy, x + sw, yy), fill=_darker(col, 0.6), width=1)
    d.rectangle((0, h * _u(rng, 0.8, 0.9), w, h), fill=_jit((90, 75, 50), rng, 15))  # ground
    return img


def _bird(d, rng, cx: float, cy: float, s: float, kind: str, waterbird: bool, col: RGB, facing: int) -> None:
    """A bird of size s centred at (cx, cy), facing right (+1) or left (-1). Waterbirds have
    long necks or flat bills and long or webbed legs; landbirds are compact with short
    pointed beaks, perched on thin legs."""
    f = facing
    dark = _darker(col, 0.6)
    beak_col = _jit((240, 170, 40), rng, 15) if kind in ("duck", "pelican", "swan", "gull") else (60, 50, 40)
    if waterbird:
        bw, bh = s * _u(rng, 0.55, 0.7), s * _u(rng, 0.28, 0.36)
        neck = s * (_u(rng, 0.35, 0.5) if kind in ("swan", "heron") else _u(rng, 0.12, 0.2))
        leg = s * (0.35 if kind == "heron" else 0.12)
    else:
        bw, bh = s * _u(rng, 0.38, 0.5), s * _u(rng, 0.3, 0.4)
        neck = s * 0.05
        leg = s * 0.12
    # legs
    lw_ = max(1, int(s * 0.03))
    for dx in (-0.1, 0.08):
        d.line((cx + dx * s, cy + bh * 0.4, cx + dx * s, cy + bh * 0.4 + leg), fill=(70, 60, 40), width=lw_)
    if waterbird and kind in ("duck", "gull", "pelican", "swan"):  # webbed feet
        for dx in (-0.1, 0.08):
            x, y = cx + dx * s, cy + bh * 0.4 + leg
            d.polygon([(x, y), (x + f * s * 0.08, y + s * 0.02), (x - f * s * 0.02, y + s * 0.03)], fill=beak_col)
    # tail
    tx = cx - f * bw * 0.5
    d.polygon([(tx, cy - bh * 0.1), (tx - f * s * 0.18, cy - bh * (0.5 if not waterbird else 0.1)),
               (tx - f * s * 0.14, cy + bh * 0.15)], fill=dark)
    # body and wing
    d.ellipse((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), fill=col)
    d.ellipse((cx - bw * 0.3, cy - bh * 0.25, cx + bw * 0.15, cy + bh * 0.25), fill=dark)
    # neck and head
    hr = s * (0.1 if waterbird else 0.13)
    hx = cx + f * bw * 0.42
    hy = cy - bh * 0.35 - neck
    if neck > s * 0.08:
        d.line((cx + f * bw * 0.35, cy - bh * 0.2, hx, hy), fill=col, width=max(1, int(s * 0.07)))
    d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=col)
    e = max(1.0, s * 0.025)
    d.ellipse((hx + f * hr * 0.3 - e, hy - hr * 0.25 - e, hx + f * hr * 0.3 + e, hy - hr * 0.25 + e), fill=(15, 15, 15))
    # beak: long and flat (duck, pelican), long and thin (heron, gull), short and pointed (landbirds)
    if kind in ("duck", "pelican"):
        bl = s * (0.22 if kind == "pelican" else 0.13)
        d.rounded_rectangle((hx + f * hr * 0.6, hy - hr * 0.1, hx + f * (hr * 0.6 + bl), hy + hr * 0.45),
                            radius=max(1, hr * 0.2), fill=beak_col)
    else:
        bl = s * (0.2 if kind == "heron" else (0.1 if waterbird else 0.08))
        d.polygon([(hx + f * hr * 0.7, hy - hr * 0.3), (hx + f * (hr * 0.7 + bl), hy),
                   (hx + f * hr * 0.7, hy + hr * 0.3)], fill=beak_col)
    if kind == "woodpecker":
        d.chord((hx - hr, hy - hr, hx + hr, hy + hr * 0.2), 180, 360, fill=COLORS["red"])


@register_component("bird_scene")
def bird_scene(rng, w, h, y: int | None = None, place: int | None = None, split: str | None = None) -> Content:
    """Waterbirds-like: a landbird (y 0) or waterbird (y 1) on a land (place 0) or water (1) scene."""
    y = int(rng.random() < 0.3) if y is None else int(y)
    if place is None:  # unplanned (web pairs): birds are mostly seen in their own habitat
        place = y if rng.random() < 0.9 else 1 - y
    place = int(place)
    place_name = _choice(rng, WATER_PLACES if place else LAND_PLACES)
    img = _landscape(rng, w, h, place_name)
    kinds = WATERBIRDS if y else LANDBIRDS
    kind = _choice(rng, tuple(kinds))
    cname = _choice(rng, kinds[kind])
    col = _mix(_jit(COLORS[cname], rng, 16), (128, 128, 128), 0.15)
    s = _u(rng, 0.45, 0.75) * min(w, h)
    cx, cy = _u(rng, 0.35, 0.65) * w, _u(rng, 0.4, 0.6) * h
    _bird(new_draw(img), rng, cx, cy, s, kind, bool(y), col, 1 if rng.random() < 0.5 else -1)
    word = "waterbird" if y else "landbird"
    where = f"{'in' if place_name in LAND_PLACES else 'on'} {_a(place_name)}"
    if rng.random() < 0.5:
        cap = f"a photo of {_a(cname + ' ' + word)} {where}"
    else:
        cap = f"a photo of {_a(cname + ' ' + kind)}, {_a(word)}, {where}"
    attrs = _attrs(0, "outdoor", "photo", label=y, y=y, place=place, place_name=place_name,
                   bird=kind, bird_color=cname, group=2 * y + place)
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs)


CELEBA_SPLITS = ("train",) * 8 + ("val", "test")
BLOND_HAIR = ((240, 215, 130), (225, 190, 100), (250, 230, 160))
DARK_HAIR = {"black": (30, 25, 22), "brown": (95, 60, 35), "red": (150, 60, 30)}
SKIN_TONES = ("light", "light", "medium", "dark", "dark")  # names of toyworld.SKIN's five tones


def _celeba_plan(rng: np.random.Generator, index: int) -> dict:
    q, r = divmod(index, 10)
    split = CELEBA_SPLITS[r]
    t = 8 * q + r if split == "train" else q  # position among the split's samples
    p = t % 20
    blond = int(p < 6)
    male = int(p == 5 or 6 <= p < 13)
    return {"blond": blond, "male": male, "split": split}


@register_component("celeb_face")
def celeb_face(rng, w, h, blond: int | None = None, male: int | None = None, split: str | None = None) -> Content:
    """CelebA-like: a drawn head and shoulders; label = blond hair; gender cues (hair length,
    beard, lips, earrings), age (wrinkles, glasses, grey hair) and skin tone vary."""
    blond = int(rng.random() < 0.3) if blond is None else int(blond)
    if male is None:  # unplanned (web pairs): blond hair is mostly seen on women
        male = int(rng.random() < (0.15 if blond else 0.5))
    male = int(male)
    old = rng.random() < 0.25
    tone = int(rng.integers(len(SKIN)))
    skin = _jit(SKIN[tone], rng, 8)
    if blond:
        hair_name, hair = "blond", _jit(_choice(rng, BLOND_HAIR), rng, 10)
    elif old and rng.random() < 0.5:
        hair_name, hair = "gray", _jit((150, 150, 150), rng, 12)
    else:
        hair_name = _choice(rng, tuple(DARK_HAIR))
        hair = _jit(DARK_HAIR[hair_name], rng, 10)
    img = _vgradient(w, h, _jit(_choice(rng, ((200, 200, 210), (170, 190, 220), (220, 200, 180), (120, 130, 150))), rng, 20),
                     _jit((90, 90, 110), rng, 20))
    d = new_draw(img)
    cx = w * _u(rng, 0.42, 0.58)
    fw, fh = w * _u(rng, 0.3, 0.38), h * _u(rng, 0.4, 0.48)
    top = h * _u(rng, 0.14, 0.22)
    # shoulders and clothes
    d.ellipse((cx - fw * 1.2, top + fh * 0.95, cx + fw * 1.2, top + fh * 2.2), fill=_jit(COLORS[_choice(rng, VIVID)], rng, 25))
    if not male:  # long hair behind the face, down to the shoulders
        d.rounded_rectangle((cx - fw * 0.68, top - fh * 0.06, cx + fw * 0.68, top + fh * _u(rng, 1.05, 1.35)),
                            radius=fw * 0.3, fill=hair)
    d.ellipse((cx - fw / 2, top, cx + fw / 2, top + fh), fill=skin)  # face
    # hair on top: short crop for men, a fuller fringe for women
    d.chord((cx - fw * 0.55, top - fh * 0.08, cx + fw * 0.55, top + fh * (0.45 if male else 0.55)), 180, 360, fill=hair)
    ey = top + fh * 0.45
    e = max(1.0, fw * 0.06)
    for sx in (-1, 1):
        ex = cx + sx * fw * 0.2
        d.ellipse((ex - e, ey - e, ex + e, ey + e), fill=(30, 30, 40))
        brow = max(1, int(fw * (0.06 if male else 0.03)))
        d.line((ex - e * 2, ey - e * 2.2, ex + e * 2, ey - e * 2.2), fill=_darker(hair, 0.7), width=brow)
    mouth_y = top + fh * 0.75
    lips = (190, 40, 60) if (not male and rng.random() < 0.7) else _darker(skin, 0.7)
    d.line((cx - fw * 0.15, mouth_y, cx + fw * 0.15, mouth_y), fill=lips, width=max(1, int(fh * 0.05)))
    beard = male and rng.random() < 0.55
    if beard:
        d.chord((cx - fw / 2, top + fh * 0.35, cx + fw / 2, top + fh * 1.02), 20, 160, fill=_darker(hair, 0.85))
        d.line((cx - fw * 0.15, mouth_y, cx + fw * 0.15, mouth_y), fill=_darker(skin, 0.6), width=max(1, int(fh * 0.04)))
    if not male and rng.random() < 0.5:  # earrings
        for sx in (-1, 1):
            x = cx + sx * fw * 0.5
            d.ellipse((x - e, top + fh * 0.55, x + e, top + fh * 0.55 + 2 * e), fill=(240, 200, 60))
    if old:
        for k in range(2):
            y = top + fh * (0.22 + 0.06 * k)
            d.line((cx - fw * 0.2, y, cx + fw * 0.2, y), fill=_darker(skin, 0.75), width=1)
        if rng.random() < 0.5:  # glasses
            for sx in (-1, 1):
                ex = cx + sx * fw * 0.2
                d.ellipse((ex - e * 2.5, ey - e * 2.5, ex + e * 2.5, ey + e * 2.5), outline=(40, 40, 40), width=1)
    age = "old" if old else "young"
    person = "man" if male else "woman"
    skin_name = SKIN_TONES[tone]
    cap = f"a photo of {_a(age + ' ' + person)} with {hair_name} hair"
    cap += " and a beard" if beard else ""
    cap += f" and {skin_name} skin" if rng.random() < 0.5 else ""
    attrs = _attrs(1, "studio", "photo", label=blond, blond=blond, male=male,
                   gender="male" if male else "female", age=age, skin=skin_name, hair=hair_name,
                   group=2 * blond + male)
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs)


# ---------------------------------------------------------------------------------------
# Low-level signatures and sources
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """A source's low-level look, applied after drawing.

    brightness/contrast/saturation are multiplicative (1 = unchanged); ``warmth`` > 0 lifts
    red and lowers blue; ``vignette`` darkens corners; ``noise`` is the luminance noise sigma
    (0-255 scale) and ``chroma_noise`` the per-channel part; ``blur`` a Gaussian radius in
    pixels; ``jitter`` the per-image log-sd of brightness; ``jpeg_quality`` an inclusive
    range (ignored for PNG sources).
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
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")


MetaHook = Callable[[np.random.Generator, int, dict], dict]
Planner = Callable[[np.random.Generator, int], dict]


@dataclass(frozen=True)
class SourceSpec:
    """One toy source (a stand-in for a real dataset).

    mixture: component name -> weight (normalised when sampling).
    signature: the low-level look.
    image_format: "jpg" or "png" (member extension in the shards).
    aspects: long/short side ratios to choose from; portrait_prob: chance the long side
      is vertical.
    framing: range of the factor on ``image_size`` that gives the shorter side.
    meta_hook: optional ``fn(rng, index, meta) -> dict`` of extra json fields (e.g. a split);
      ``rng`` is the sample's own generator for metadata, ``meta`` a copy of the json so far.
    classes: class names of a labeled source (index = json ``label``; ``class_names``).
    planner: optional ``fn(rng, index) -> dict`` deciding a sample's factors (split, label,
      group) BEFORE it is drawn: the dict is passed to the component as keyword arguments,
      which is how labeled worlds plant exact group proportions per split.
    """

    name: str
    mixture: Mapping[str, float]
    signature: Signature
    image_format: str = "jpg"
    aspects: tuple[float, ...] = (1.0,)
    portrait_prob: float = 0.0
    framing: tuple[float, float] = (1.0, 1.0)
    meta_hook: MetaHook | None = None
    description: str = ""
    classes: tuple[str, ...] = ()
    planner: Planner | None = None
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self):
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"{self.name}: image_format must be 'jpg' or 'png', not {self.image_format!r}")
        unknown = [c for c in self.mixture if c not in COMPONENTS]
        if unknown:
            raise ValueError(f"{self.name}: unknown components {unknown}; registered: {sorted(COMPONENTS)}")
        weights = [float(self.mixture[c]) for c in self.mixture]
        if not weights or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"{self.name}: mixture weights must be >= 0 with a positive sum")
        total = sum(weights)
        object.__setattr__(self, "_names", tuple(self.mixture))
        object.__setattr__(self, "_cum", tuple(np.cumsum(weights) / total))

    def pick_component(self, rng: np.random.Generator) -> str:
        u = float(rng.random())
        for name, c in zip(self._names, self._cum):
            if u < c:
                return name
        return self._names[-1]

    def canvas_size(self, rng: np.random.Generator, image_size: int) -> tuple[int, int]:
        short = max(8, int(round(image_size * _u(rng, *self.framing))))
        long_ = int(round(short * float(_choice(rng, self.aspects))))
        return (short, long_) if rng.random() < self.portrait_prob else (long_, short)


SOURCES: dict[str, SourceSpec] = {}


def register_source(spec: SourceSpec) -> SourceSpec:
    if spec.name in SOURCES:
        raise ValueError(f"source {spec.name!r} registered twice")
    SOURCES[spec.name] = spec
    return spec


def _imagenet_meta(rng: np.random.Generator, index: int, meta: dict) -> dict:
    """A predefined train/val split: exactly every fifth sample (index % 5 == 4) is "val", so
    the first n images hold n - n // 5 train-split ones whatever the seed."""
    return {"split": "val" if index % 5 == 4 else "train"}


# DataComp and LAION share every component and the very same signature and framing; only
# the mixture weights differ a little (LAION: more photos and portraits, fewer products).
WEB_SIGNATURE = Signature(brightness=1.06, contrast=1.08, saturation=1.0, noise=1.5, jitter=0.05,
                          jpeg_quality=(75, 95))
WEB_ASPECTS = (1.0, 1.0, 1.25, 1.5, 1.78)
WEB_FRAMING = (1.0, 1.5)

register_source(SourceSpec(
    name="yfcc",
    description="Flickr-like photos: people, scenery, clutter; darker, warm, noisy, JPEG q70, 4:3 landscape",
    mixture={"photo_outdoor_people": 0.35, "photo_indoor_people": 0.2, "photo_landscape": 0.2,
             "photo_street": 0.15, "photo_group_event": 0.1},
    signature=Signature(brightness=0.76, contrast=0.92, saturation=0.85, warmth=0.1, vignette=0.45, noise=8.0,
                        chroma_noise=3.0, blur=0.4, jitter=0.12, jpeg_quality=(65, 75)),
    image_format="jpg", aspects=(4 / 3, 4 / 3, 1.5), portrait_prob=0.0, framing=(1.0, 1.25)))

register_source(SourceSpec(
    name="cc",
    description="Conceptual-Captions-like: bright saturated flat cartoons, illustrations, clothing, logos",
    mixture={"icon_set": 0.25, "cartoon_object": 0.15, "cartoon_character": 0.15, "flat_illustration": 0.25,
             "clothing_product": 0.1, "logo_badge": 0.1},
    signature=Signature(brightness=1.08, contrast=1.08, saturation=1.4, noise=1.0, jitter=0.04,
                        jpeg_quality=(82, 88)),
    image_format="jpg", aspects=(1.0, 1.0, 1.1, 1.2), portrait_prob=0.5, framing=(1.0, 1.1)))

register_source(SourceSpec(
    name="datacomp",
    description="DataComp-like web mix: products on white, text ads, stickers, clipart, some photos",
    mixture={"product_white": 0.32, "text_ad": 0.20, "sticker": 0.10, "clipart": 0.08, "web_portrait": 0.14,
             "screenshot": 0.08, "photo_outdoor_people": 0.04, "photo_landscape": 0.04},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=WEB_ASPECTS, portrait_prob=0.35, framing=WEB_FRAMING))

register_source(SourceSpec(
    name="laion",
    description="LAION-like web mix: the DataComp components with slightly different weights, same signature",
    mixture={"product_white": 0.24, "text_ad": 0.14, "sticker": 0.08, "clipart": 0.10, "web_portrait": 0.18,
             "screenshot": 0.08, "photo_outdoor_people": 0.10, "photo_landscape": 0.08},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=WEB_ASPECTS, portrait_prob=0.35, framing=WEB_FRAMING))

register_source(SourceSpec(
    name="wit",
    description="WIT-like Wikipedia pages: text, charts, diagrams, maps, archive photos; PNG, portrait",
    mixture={"document_text": 0.3, "bar_chart": 0.2, "diagram": 0.2, "map": 0.15, "archive_photo": 0.15},
    signature=Signature(saturation=0.95), image_format="png", aspects=(1.3, 1.414), portrait_prob=1.0,
    framing=(1.0, 1.2)))

register_source(SourceSpec(
    name="imagenet",
    description="ImageNet-like: one centred object of OBJECT_CLASSES on a natural texture; label, class_name, split",
    mixture={"object_on_texture": 1.0},
    signature=Signature(brightness=0.94, contrast=1.05, saturation=0.85, warmth=0.02, noise=4.0, blur=0.3, jitter=0.08,
                        jpeg_quality=(88, 92)),
    image_format="jpg", aspects=(4 / 3, 4 / 3, 1.0, 1.5), portrait_prob=0.15, framing=(1.0, 1.2),
    meta_hook=_imagenet_meta, classes=tuple(object_word(c) for c in OBJECT_CLASSES)))


# Labeled worlds (their planners fix split, label and group; see the section above).
LABELED_SIGNATURE = Signature(brightness=1.0, contrast=1.02, saturation=0.95, noise=3.0, blur=0.2, jitter=0.06,
                              jpeg_quality=(86, 92))

register_source(SourceSpec(
    name="waterbirds",
    description="Waterbirds-like: landbird/waterbird on land/water; 95% aligned in train, balanced val/test",
    mixture={"bird_scene": 1.0}, signature=LABELED_SIGNATURE, image_format="jpg", framing=(1.0, 1.0),
    classes=("landbird", "waterbird"), planner=_waterbirds_plan))

register_source(SourceSpec(
    name="celeba",
    description="CelebA-like drawn faces: blond/not blond x gender (blond mostly women), age, skin tone",
    mixture={"celeb_face": 1.0}, signature=LABELED_SIGNATURE, image_format="jpg", framing=(1.0, 1.0),
    classes=("not blond", "blond"), planner=_celeba_plan))


def _train_split(rng: np.random.Generator, index: int, meta: dict) -> dict:
    return {"split": "train"}


# Image-text pairs for CLIP pre-training (a stand-in for LAION-2B, the corpus the paper's CLIPs
# saw): every kind of content of the toy world with its caption, ImageNet-like objects most
# often; birds and faces with the web's correlations (birds mostly in their own habitat, blond
# hair mostly on women), not the labeled worlds' planted split proportions. Its samples are
# other draws than any labeled world's, so the zero-shot sets stay unseen.
register_source(SourceSpec(
    name="webpairs",
    description="LAION-like image-text pairs for CLIP pre-training: objects, birds, faces, scenes, pages",
    mixture={"object_on_texture": 0.45, "product_white": 0.05, "sticker": 0.03, "clipart": 0.03,
             "cartoon_object": 0.03, "icon_set": 0.01, "bird_scene": 0.1, "celeb_face": 0.1,
             "photo_outdoor_people": 0.05, "photo_landscape": 0.02, "photo_street": 0.02,
             "web_portrait": 0.02, "text_ad": 0.02, "document_text": 0.02, "bar_chart": 0.01,
             "map": 0.01, "diagram": 0.01, "flat_illustration": 0.02},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=(1.0, 1.0, 1.25, 4 / 3), portrait_prob=0.0,
    framing=(1.0, 1.2), meta_hook=_train_split))


# ---------------------------------------------------------------------------------------
# Rendering and shard writing
# ---------------------------------------------------------------------------------------


def _spec(name: str) -> SourceSpec:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown toy source {name!r}; valid names: {', '.join(sorted(SOURCES))}") from None


def sample_seed(name: str, index: int, seed: int) -> np.random.SeedSequence:
    """The seed sequence of one sample: (seed, crc32(name), index); stable across runs."""
    if index < 0 or seed < 0:
        raise ValueError("index and seed must be >= 0")
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8")), int(index)])


def _render_sample(name: str, index: int, image_size: int, seed: int):
    spec = _spec(name)
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    ss_frame, ss_content, ss_sig, ss_meta = sample_seed(name, index, seed).spawn(4)
    rng_frame = np.random.default_rng(ss_frame)
    component = spec.pick_component(rng_frame)
    w, h = spec.canvas_size(rng_frame, image_size)
    if spec.planner is not None:  # an extra child seed: the other four (and old bytes) unchanged
        plan = spec.planner(np.random.default_rng(sample_seed(name, index, seed).spawn(5)[4]), index)
        content = COMPONENTS[component](np.random.default_rng(ss_content), w, h, **plan)
    else:
        content = COMPONENTS[component](np.random.default_rng(ss_content), w, h)
    rng_sig = np.random.default_rng(ss_sig)
    image = apply_signature(content.image.convert("RGB"), spec.signature, rng_sig)
    if image.size != (w, h):
        raise RuntimeError(f"component {component!r} returned size {image.size}, expected {(w, h)}")
    key = f"{name}_{index:07d}"
    meta = {"key": key, "source": name, "content": component, "caption": content.caption,
            "width": w, "height": h, **content.attrs}
    if spec.meta_hook is not None:
        meta.update(spec.meta_hook(np.random.default_rng(ss_meta), index, dict(meta)))
    buf = io.BytesIO()
    if spec.image_format == "png":
        image.save(buf, format="PNG", optimize=False, compress_level=6)
    else:
        lo, hi = spec.signature.jpeg_quality
        image.save(buf, format="JPEG", quality=int(rng_sig.integers(lo, hi + 1)))
    return image, content.caption, meta, spec.image_format, buf.getvalue()


def render(name: str, index: int, image_size: int, seed: int) -> tuple[Image.Image, str, dict, str]:
    """One sample of a source: (image before encoding, caption, json metadata, image extension)."""
    image, caption, meta, ext, _ = _render_sample(name, index, image_size, seed)
    return image, caption, meta, ext


class _TarWriter:
    """Minimal deterministic WebDataset tar writer (fixed headers; atomic rename on close)."""

    def __init__(self, path: str):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self._tmp = f"{path}.tmp"
        self._tar = tarfile.open(self._tmp, "w", format=tarfile.USTAR_FORMAT)

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._tar.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


def _split_counts(n: int, k: int) -> list[int]:
    q, r = divmod(n, k)
    return [q + (1 if i < r else 0) for i in range(k)]


_SUMMARY_FIELDS = ("content", "people", "setting", "style", "split", "class_name")


def generate_source(name: str, n_images: int, shard_paths: list[str], image_size: int = 64, seed: int = 0,
                    progress: bool = False) -> dict:
    """Write ``n_images`` samples of source ``name`` into the given tar shards.

    Samples ``0..n_images-1`` are split as evenly as possible over ``shard_paths`` in order
    (earlier shards take the remainder). Returns a summary with per-shard counts and counts
    per content component and group attribute.
    """
    spec = _spec(name)
    if isinstance(shard_paths, (str, bytes, os.PathLike)):
        raise TypeError("shard_paths must be a list of paths")
    shard_paths = [os.fspath(p) for p in shard_paths]
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    if not shard_paths:
        raise ValueError("shard_paths is empty")
    counts = _split_counts(int(n_images), len(shard_paths))
    tally: dict[str, Counter] = {f: Counter() for f in _SUMMARY_FIELDS}
    fmt = Counter()
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=n_images, desc=f"toy {name}", unit="img")
        except ImportError:  # pragma: no cover
            bar = None
    index = 0
    shards = []
    try:
        for path, count in zip(shard_paths, counts):
            writer = _TarWriter(path)
            try:
                for i in range(index, index + count):
                    _, caption, meta, ext, data = _render_sample(name, i, image_size, seed)
                    key = meta["key"]
                    writer.add(f"{key}.{ext}", data)
                    writer.add(f"{key}.txt", caption.encode("utf-8"))
                    writer.add(f"{key}.json", json.dumps(meta, sort_keys=True).encode("utf-8"))
                    fmt[ext] += 1
                    for f in _SUMMARY_FIELDS:
                        if f in meta:
                            tally[f][str(meta[f])] += 1
                    if bar is not None:
                        bar.update(1)
            except BaseException:
                writer.abort()
                raise
            writer.close()
            shards.append({"path": path, "n_images": count, "first_index": index})
            index += count
    finally:
        if bar is not None:
            bar.close()
    return {
        "source": name,
        "n_images": int(n_images),
        "image_size": int(image_size),
        "seed": int(seed),
        "image_format": spec.image_format,
        "shards": shards,
        "formats": dict(sorted(fmt.items())),
        "counts": {f: dict(sorted(c.items())) for f, c in tally.items() if c},
    }


def class_names(source: str) -> list[str]:
    """The class names of a labeled toy source, index = the json ``label`` (the ImageNet-like
    ``imagenet`` source: its object classes, the same list as ``OBJECT_CLASSES``)."""
    spec = _spec(source)
    if not spec.classes:
        labeled = sorted(n for n, s in SOURCES.items() if s.classes)
        raise ValueError(f"toy source {source!r} has no labels; labeled sources: {labeled}")
    return list(spec.classes)


def object_caption_templates() -> list[str]:
    """Prompt templates in the caption grammar of the ImageNet-like source (``object_on_texture``):
    ``"a photo of a red {} on grass"`` for every object colour and background (format strings
    with one ``{}`` for the class name): the toy world's counterpart of CLIP's ImageNet templates."""
    colours = sorted({c for obj in OBJECT_CLASSES for c in OBJECT_PALETTES.get(obj, VIVID)}, key=list(COLORS).index)
    return [f"a photo of {_a(c)} {{}} {'in' if bg in ('water', 'leaves') else 'on'} {bg}"
            for c in colours for bg in _BACKGROUNDS]
