"""Objects: shapes drawn into a box, the ``OBJECT_DRAWERS`` registry (``register_object``).

``OBJECT_CLASSES`` are the ImageNet-like classes. ``draw_object`` draws a flat shape (cartoons,
renders, icons); ``draw_photo_object`` the same shape lit and textured (photos).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from vlmbias.toyworld.draw import COLORS, RGB, VIVID, Box, _choice, _darker, _jit, _mix, _star_points, _u, new_draw

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
                      shading: float = 0.45, grain: float = 0.08) -> Image.Image:
    """Draw ``obj`` onto ``img`` (in place) as a lit, textured object rather than a flat shape.

    The object is drawn on a transparent layer, then multiplied by a directional light
    gradient (``shading``) and a coarse multiplicative surface texture (``grain``), and
    composited. This is what makes "photos" of objects look unlike flat cartoons or renders.
    Returns the object's mask (L, 255 where the object covers a pixel, else 0): the
    foreground mask of worlds that compose or separate object and background.
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
    return layer.getchannel("A").point(lambda a: 255 if a else 0)
