"""Cartoons and illustrations (CC): cartoon objects and characters, icon sets, flat
illustrations, clothing, logos, on CC's bold flat backgrounds."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image

from vlmbias.toyworld.draw import (COLORS, HAIR, NUMBER_WORDS, RGB, SKIN, VIVID, _a, _choice, _face, _jit, _lw,
                                   _mix, _tshirt, _u, _word, new_draw)
from vlmbias.toyworld.objects import OBJECT_CLASSES, OBJECT_PALETTES, _box_at, draw_object, object_color, object_word
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component

# CC's palette: candy colours and mid-tone pastels (no natural greens/browns, never white).
_PASTELS = ((250, 175, 190), (150, 195, 250), (250, 220, 120), (205, 170, 250), (250, 185, 140), (140, 225, 225))
_SATURATED_BG = ((40, 170, 230), (250, 200, 30), (240, 90, 120), (160, 100, 230), (255, 140, 40), (30, 200, 200),
                 (250, 110, 200))


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
