"""Photo-like scenes (YFCC; also part of the web mix): people outdoors and indoors,
landscapes, streets, group events."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vlmbias.toyworld.draw import (COLORS, VIVID, _a, _choice, _darker, _jit, _lw, _mix, _people_phrase, _person,
                                   _texture, _u, _vgradient, new_draw)
from vlmbias.toyworld.objects import _box_at, draw_object, object_color, object_word
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component

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
    ox = _u(rng, tx0 + os_, max(tx0 + os_, tx1 - os_ / 2))   # (a portrait canvas: a narrow table)
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
