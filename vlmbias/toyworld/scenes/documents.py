"""Document pages (WIT): running text, charts, diagrams, maps and archive photos on an
off-white page."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from vlmbias.toyworld.draw import (COLORS, NUMBER_WORDS, VIVID, Box, _a, _choice, _glyph_row, _jit, _lw, _person,
                                   _text_block, _u, _vgradient, new_draw)
from vlmbias.toyworld.objects import _box_at, draw_object
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component

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
