"""Colours and drawing primitives of the toy world.

Colour names and palettes, random helpers (``_choice``, ``_u``, ``_jit``, ...), caption text
helpers (articles, people phrases), fonts, ``new_draw`` (a drawing context that accepts
inverted boxes) and the primitives objects and scenes are drawn with: gradients, textures,
checkerboards, glyph rows and text blocks, stars, faces, people and t-shirts.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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


def _weighted(rng: np.random.Generator, options: Sequence[tuple[str, float]]) -> str:
    """One of ``(text, weight)`` options, with probability proportional to its weight."""
    u = float(rng.random()) * sum(wt for _, wt in options)
    for text, wt in options:
        u -= wt
        if u < 0:
            return text
    return options[-1][0]


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


article = _a  # public: "a cup", "an owl" (the captions' grammar, for prompts built elsewhere)


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
