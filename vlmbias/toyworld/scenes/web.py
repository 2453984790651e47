"""Web mix (DataComp and LAION): products on white, text ads, stickers, clipart, portraits,
shop screenshots."""

from __future__ import annotations

from PIL import Image

from vlmbias.toyworld.draw import (COLORS, HAIR, NUMBER_WORDS, SKIN, VIVID, _a, _checkerboard, _choice, _darker,
                                   _face, _glyph_row, _jit, _lw, _mix, _text_block, _tshirt, _u, _vgradient, _word,
                                   new_draw)
from vlmbias.toyworld.objects import OBJECT_CLASSES, _box_at, draw_object, object_color, object_word
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component
from vlmbias.toyworld.scenes.graphics import _cartoon_person

# Web banners (DataComp/LAION ads): strong marketing colours, darker than CC's candy.
_WEB_BG = ((200, 30, 40), (25, 45, 110), (25, 25, 30), (20, 110, 70), (225, 80, 20), (120, 30, 110))
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
