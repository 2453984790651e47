"""UrbanCars-like world (Li et al., "A Whac-A-Mole Dilemma", CVPR 2023): component ``urban_car``
and its planner, following the official generator (``create_datasets/urbancars/gen_urbancars.py``
and ``urbancars_aug_gen_bg_only.py`` of facebookresearch/Whac-A-Mole).

Target: the car's body type, ``label`` 0 "urban car" (sedan, coupe, hatchback: low, long) or
1 "country car" (SUV, pickup, van: tall, boxy, high on larger wheels); colours are shared.
Two shortcuts: the background (``background`` 0 urban: street, alley, downtown, crosswalk,
driveway; 1 country: desert, field or forest road) and one co-occurring object (``coobj`` 0
urban: fire hydrant, stop sign, street sign, parking meter, traffic light, the official LVIS
categories; 1 country: cow, horse, sheep). The official layout on a square canvas: background,
then the co-object, then the car on top (longer side 0.5, centred).

Where the toy departs from the official layout, and why (ERM, the default t14 recipe, 3 seeds;
BG / CoObj / BG+CoObj gaps in points; the material's ERM -15.3 / -11.2 / -69.2). A ResNet trained
from scratch at 32 px, unlike the official ImageNet-pretrained one, did not take the co-object as
a shortcut at all: with the official co-object (longer side 0.25, centred at row 0.5H, column
0.875W: 8 px) and body-type ranges that did not overlap it gave -11.5 / +0.1 / -7.7 (the car
alone decided), with a 0.4 co-object -12.4 / +0.6 / -11.4. So here:

- ``COOBJ_SIDE`` 0.4, centred at column ``COOBJ_X`` 0.8 (13 px at 32 px; its left edge under the car);
- the body types' height / length ranges overlap by 0.02 (``CAR_BODIES``): as real body types
  shade into each other (a tall hatchback, a low SUV), about 3 cars in 10 cannot be told by shape
  alone, so the car is the hardest cue to learn and no longer decides every image (disjoint ranges:
  above; overlap 0.01: -36.7 / -3.9 / -54.0; 0.04: -53.3 / -10.9 / -73.1);
- the scene is blended ``BG_HAZE`` 0.4 toward grey (a hazy day), the car and co-object at full
  contrast: without it the background outweighed the co-object ~8:1 (overlap 0.02: -51.8 / -5.9 /
  -64.9; with it -37.4 / -8.6 / -66.6; haze 0.65 left ERM unstable). Brighter urban co-objects
  (blue meters, yellow traffic lights) did not help (-42.9 / -3.2 / -56.1).

With these ERM takes both shortcuts and the two together overrule the car, as in the material;
the GroupDRO oracle's row shows how far the car alone carries at this size (the official car is
fully telling: the toy's overlap caps every method's conflicting cells below 100%).

Planner (``_urbancars_plan``): i % 4 in 0..1 is "train", 2 "val", 3 "test" (the official split
is 8,000 / 1,000 / 1,000; the toy's evaluation sets are as large as half its training set,
because each cell's accuracy rests on an eighth of them: at 25 images per cell a 3-seed mean gap
moved by 5-10 points with float-level changes of the run). In train the classes alternate and,
per 400 train samples of a class, the background agrees with the class in 380 and the co-object
in 380, independently (the official ratios 0.95 x 0.95: 361 both aligned, 19 background
conflicting only, 19 co-object conflicting only, 1 both conflicting, i.e. 3,610 / 190 / 190 / 10
of the official 4,000); so per 800 consecutive train samples every count is exact. val and test
are balanced as the official ones (its ratios forced to 0.5): the 8 (label, background, coobj)
cells cycle.

Metadata: ``label``, ``class_name``; ``background`` (0/1), ``background_name`` ("urban" or
"country"), ``place`` (the drawn scene); ``coobj`` (0/1), ``coobj_name``, ``coobj_object`` (the
drawn object); ``bg_aligned`` and ``coobj_aligned`` (the factor agrees with the label: "present"
shortcut in the official metric); ``group`` = 4 * label + 2 * background + coobj, the index of
the official (obj, bg, co_occur_obj) accuracy table (0..7); ``car`` (body style),
``car_color``; ``split`` when planned. The official per-image labels are (label, background,
coobj).

Extra shard members (``Content.extras``; the official file in brackets): ``car_mask.png``
(``NNN_mask.png``) and ``coobj_mask.png`` (``NNN_co_occur_obj_mask.png``), binary L images at
the image size; ``bg_only.png`` (``NNN_bg_only.png``, LLE's BG augmentation): the image as
written with the car box (rows 0.25H-0.75H, columns 0.25W-0.75W) and the co-object box
(``coobj_box``: rows 0.3H-0.7H, columns 0.6W-W; the official 0.375H-0.625H, 0.75W-W for its
smaller co-object) overwritten by the strips of the same rows in the left quarter, as
``gen_bg_only`` does. The official writes it for train only; here every sample has
one (unused in val and test).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from vlmbias.toyworld.draw import COLORS, _a, _choice, _darker, _jit, _mix, _texture, _u, new_draw
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component
from vlmbias.toyworld.scenes.photos import _sky

URBANCARS_SPLITS = ("train", "train", "val", "test")  # 3,200 images: 1,600 train, 800 val, 800 test
CLASS_NAMES = ("urban car", "country car")
FACTOR_NAMES = ("urban", "country")  # background and co-object classes, same ids as the label
TRAIN_BLOCK = 400                     # train samples per class over which the 95% x 95% is exact
CAR_BODIES = {  # body style -> (class, height / length): the two ranges overlap by 0.02 (see below)
    "sedan": (0, (0.39, 0.46)), "coupe": (0, (0.39, 0.46)), "hatchback": (0, (0.39, 0.46)),
    "suv": (1, (0.44, 0.51)), "pickup": (1, (0.44, 0.51)), "van": (1, (0.44, 0.51))}
CAR_COLORS = ("red", "blue", "white", "black", "gray", "green", "yellow", "orange", "brown")
PLACES = (("street", "alley", "downtown", "crosswalk", "driveway"), ("desert road", "field road", "forest road"))
PLACE_PHRASES = {"street": "on a street", "alley": "in an alley", "downtown": "downtown",
                 "crosswalk": "at a crosswalk", "driveway": "on a driveway", "desert road": "on a desert road",
                 "field road": "on a field road", "forest road": "on a forest road"}
COOBJECTS = (("fire hydrant", "stop sign", "street sign", "parking meter", "traffic light"), ("cow", "horse", "sheep"))
WEB_ALIGNED = 0.95  # unplanned draws: chance each shortcut agrees with the car
CAR_SIDE, COOBJ_SIDE, COOBJ_X = 0.5, 0.4, 0.8  # longer sides, the co-object's centre column (official 0.5, 0.25, 0.875)
BG_HAZE, HAZE_GREY = 0.4, (128, 128, 128)       # the scene blended 40% toward grey; car and co-object at full contrast


def _urbancars_plan(rng: np.random.Generator, index: int) -> dict:
    q, r = divmod(index, len(URBANCARS_SPLITS))
    split = URBANCARS_SPLITS[r]
    if split == "train":
        t = URBANCARS_SPLITS.count("train") * q + r  # position among the train samples
        y, j = t % 2, (t // 2) % TRAIN_BLOCK
        a, k = j % 20, j // 20  # j -> (a, b) is a bijection onto 20 x 20: independent factors
        b = (a + k) % 20
        bg, coobj = (y if a != 19 else 1 - y), (y if b != 19 else 1 - y)
    else:
        cell = q % 8
        y, bg, coobj = cell // 4, (cell // 2) % 2, cell % 2
    return {"y": y, "background": bg, "coobj": coobj, "split": split}


def _road(d, rng, w, h, horizon: float, col, width: float) -> None:
    """A road from the bottom edge narrowing to the horizon."""
    cx = w * _u(rng, 0.4, 0.6)
    d.polygon([(cx - w * width, h), (cx + w * width, h), (cx + w * 0.04, horizon), (cx - w * 0.04, horizon)], fill=col)


def _buildings(d, rng, w, horizon: float, top: tuple[float, float], colours) -> None:
    x = _u(rng, -0.1, 0) * w
    while x < w:
        bw = _u(rng, 0.15, 0.3) * w
        y0 = _u(rng, *top) * horizon
        col = _jit(_choice(rng, colours), rng, 15)
        d.rectangle((x, y0, x + bw, horizon), fill=col)
        step = max(3.0, 0.06 * w)
        win = _darker(col, 0.55) if rng.random() < 0.7 else _jit((170, 200, 220), rng, 15)
        for wy in np.arange(y0 + step * 0.4, horizon - step * 0.6, step):
            for wx in np.arange(x + step * 0.3, x + bw - step * 0.5, step):
                d.rectangle((wx, wy, wx + step * 0.45, wy + step * 0.5), fill=win)
        x += bw


def _background(rng, w, h, place: str) -> Image.Image:
    """The urban or country scene ``place``, varied per image; the horizon sits above the car's wheels."""
    horizon = h * _u(rng, 0.35, 0.5)
    img = _sky(rng, w, h, sunset=rng.random() < 0.15)
    d = new_draw(img)
    asphalt = _jit((85, 85, 90), rng, 12)
    if place in ("street", "downtown", "crosswalk"):
        tall = (0.0, 0.15) if place == "downtown" else (0.2, 0.6)
        _buildings(d, rng, w, horizon, tall, ((150, 140, 130), (160, 90, 70), (200, 190, 170), (110, 110, 120),
                                              (90, 120, 150)))
        d.rectangle((0, horizon, w, h), fill=asphalt)
        d.rectangle((0, horizon, w, horizon + 0.05 * h), fill=_jit((150, 150, 145), rng, 10))  # sidewalk
        if place == "crosswalk":
            y0, y1 = horizon + 0.08 * h, horizon + 0.2 * h
            for x in np.arange(_u(rng, 0, 0.06) * w, w, 0.1 * w):
                d.rectangle((x, y0, x + 0.05 * w, y1), fill=(235, 235, 230))
        else:
            y = (horizon + h) / 2
            for x in np.arange(0, w, 0.2 * w):
                d.rectangle((x, y, x + 0.1 * w, y + max(1, 0.015 * h)), fill=(230, 220, 120))
    elif place == "alley":
        brick = _jit(_choice(rng, ((150, 70, 55), (120, 95, 80), (170, 120, 90))), rng, 15)
        img.paste(_texture(rng, w, int(horizon) + 1, brick, 14, cells=8, fine=4), (0, 0))
        for y in np.arange(0, horizon, max(2.0, 0.04 * h)):  # brick courses
            d.line((0, y, w, y), fill=_darker(brick, 0.7), width=1)
        d.rectangle((0, horizon, w, h), fill=_jit((70, 70, 72), rng, 10))
        for _ in range(int(rng.integers(1, 3))):  # bins and pipes
            x = _u(rng, 0, w)
            d.rectangle((x, horizon - 0.12 * h, x + 0.08 * w, horizon + 0.02 * h), fill=_jit((60, 90, 70), rng, 20))
    elif place == "driveway":
        wall = _jit(_choice(rng, ((225, 215, 190), (200, 180, 160), (235, 235, 230))), rng, 12)
        d.rectangle((0, horizon * 0.4, w, horizon), fill=wall)
        d.polygon([(-0.05 * w, horizon * 0.42), (w * 1.05, horizon * 0.42), (w * 0.5, 0)],
                  fill=_jit((120, 60, 50), rng, 15))
        for x in (0.1, 0.7):
            d.rectangle((x * w, horizon * 0.55, (x + 0.15) * w, horizon * 0.8), fill=_jit((120, 160, 190), rng, 15))
        d.rectangle((0, horizon, w, h), fill=_jit((170, 170, 165), rng, 10))  # concrete
    else:  # country roads
        if place == "desert road":
            ground = _texture(rng, w, h - int(horizon), _jit((210, 180, 130), rng, 12), 14, cells=8, fine=4)
            img.paste(ground, (0, int(horizon)))
            for _ in range(int(rng.integers(1, 3))):  # mesas
                x, mw = _u(rng, -0.1, 0.8) * w, _u(rng, 0.2, 0.4) * w
                d.polygon([(x, horizon), (x + mw * 0.15, horizon - 0.12 * h), (x + mw * 0.85, horizon - 0.12 * h),
                           (x + mw, horizon)], fill=_jit((175, 110, 70), rng, 15))
            road = asphalt if rng.random() < 0.5 else _jit((190, 160, 115), rng, 10)
        elif place == "field road":
            crop = _choice(rng, ((110, 160, 60), (200, 180, 80), (140, 170, 70)))
            img.paste(_texture(rng, w, h - int(horizon), _jit(crop, rng, 12), 18, cells=10, fine=6),
                      (0, int(horizon)))
            for x in np.arange(_u(rng, 0, 0.1) * w, w, 0.15 * w):  # fence posts
                d.rectangle((x, horizon - 0.05 * h, x + max(1, 0.015 * w), horizon + 0.03 * h),
                            fill=_jit((100, 75, 50), rng, 10))
            road = _jit((150, 120, 80), rng, 12)
        else:
            img.paste(_texture(rng, w, int(horizon) + 1, _jit((50, 100, 50), rng, 12), 24, cells=9, fine=6), (0, 0))
            for _ in range(int(rng.integers(3, 7))):
                x = _u(rng, 0, w)
                d.rectangle((x, 0, x + _u(rng, 0.03, 0.07) * w, horizon), fill=_jit((90, 65, 40), rng, 15))
            img.paste(_texture(rng, w, h - int(horizon), _jit((70, 110, 50), rng, 12), 18, cells=8, fine=5),
                      (0, int(horizon)))
            road = _jit((120, 95, 65), rng, 12)
        _road(d, rng, w, h, horizon, road, _u(rng, 0.5, 0.8))
    return img


def _car(d, rng, cx: float, cy: float, length: float, body: str, col, f: int) -> None:
    """A side view of a car of body style ``body``, ``length`` long, centred at (cx, cy), facing
    right (f = +1) or left (-1). Urban bodies are low with small wheels; country ones tall, boxy
    and high on larger wheels (a pickup: a cab with an open bed behind it)."""
    country, hw = CAR_BODIES[body]
    height = length * _u(rng, *hw)
    style = _choice(rng, tuple(CAR_BODIES))  # the cabin's shape: shared by both classes
    top, ground = cy - height / 2, cy + height / 2

    def x(t: float) -> float:  # t: 0 rear .. 1 front
        return cx + f * (t - 0.5) * length

    r = length * 0.1
    bottom = ground - r * 0.9
    belt = top + height * 0.48
    cabin = {"sedan": ((0.22, 0.32), (0.66, 0.8)), "coupe": ((0.2, 0.42), (0.6, 0.82)),
             "hatchback": ((0.03, 0.07), (0.6, 0.8)), "suv": ((0.01, 0.02), (0.72, 0.8)),
             "pickup": ((0.42, 0.44), (0.72, 0.8)), "van": ((0.0, 0.0), (0.78, 0.96))}[style]
    (rb, rt), (ft, fb) = cabin
    roof = [(x(rb), belt), (x(rt), top), (x(ft), top), (x(fb), belt)]
    d.polygon(roof, fill=col)
    mx, my = sum(p[0] for p in roof) / 4, sum(p[1] for p in roof) / 4
    d.polygon([(mx + 0.75 * (px - mx), my + 0.7 * (py - my) + 0.05 * height) for px, py in roof],
              fill=_jit((150, 180, 205), rng, 12))  # windows
    d.line((x((rt + ft) / 2), top, x((rb + fb) / 2), belt), fill=col, width=max(1, int(length * 0.03)))  # pillar
    d.rounded_rectangle((x(0), belt, x(1), bottom), radius=max(1.0, (bottom - belt) * 0.25), fill=col)
    if style == "pickup":  # the open bed
        d.rectangle((x(0.03), belt, x(0.4), belt + (bottom - belt) * 0.25), fill=_darker(col, 0.45))
    lamp = max(1.0, length * 0.04)
    d.rectangle((x(0.97), belt + lamp * 0.5, x(1.0), belt + lamp * 1.5), fill=(250, 220, 120))
    d.rectangle((x(0.0), belt + lamp * 0.5, x(0.03), belt + lamp * 1.5), fill=(200, 30, 30))
    for t in (0.2, 0.8):
        wx = x(t)
        d.ellipse((wx - r, ground - 2 * r, wx + r, ground), fill=(25, 25, 25))
        d.ellipse((wx - r * 0.45, ground - r * 1.45, wx + r * 0.45, ground - r * 0.55), fill=(165, 165, 170))


def _coobj(d, rng, cx: float, cy: float, s: float, kind: str, f: int) -> str:
    """A co-occurring object whose longer side is ``s``, centred at (cx, cy); returns its colour name."""
    pole = (110, 110, 115)
    if kind == "fire hydrant":
        cname = _choice(rng, ("red", "yellow"))
        col = _jit(COLORS[cname], rng, 15)
        d.rectangle((cx - 0.3 * s, cy + 0.4 * s, cx + 0.3 * s, cy + 0.5 * s), fill=_darker(col, 0.7))
        d.rectangle((cx - 0.22 * s, cy - 0.25 * s, cx + 0.22 * s, cy + 0.42 * s), fill=col)
        d.ellipse((cx - 0.22 * s, cy - 0.42 * s, cx + 0.22 * s, cy - 0.1 * s), fill=col)
        d.rectangle((cx - 0.06 * s, cy - 0.5 * s, cx + 0.06 * s, cy - 0.4 * s), fill=_darker(col, 0.7))
        d.rectangle((cx - 0.3 * s, cy - 0.05 * s, cx + 0.3 * s, cy + 0.08 * s), fill=_darker(col, 0.8))
        return cname
    if kind in ("stop sign", "street sign", "parking meter", "traffic light"):
        d.rectangle((cx - 0.035 * s, cy - 0.2 * s, cx + 0.035 * s, cy + 0.5 * s), fill=pole)
    if kind == "stop sign":
        c, rad = (cx, cy - 0.22 * s), 0.28 * s
        d.regular_polygon((c[0], c[1], rad), 8, rotation=22.5, fill=_jit((200, 30, 35), rng, 10))
        d.rectangle((c[0] - rad * 0.6, c[1] - rad * 0.15, c[0] + rad * 0.6, c[1] + rad * 0.15), fill=(240, 240, 240))
        return "red"
    if kind == "street sign":
        d.rectangle((cx - 0.3 * s, cy - 0.5 * s, cx + 0.3 * s, cy - 0.28 * s), fill=_jit((30, 120, 60), rng, 10))
        d.line((cx - 0.22 * s, cy - 0.39 * s, cx + 0.22 * s, cy - 0.39 * s), fill=(240, 240, 240),
               width=max(1, int(s * 0.05)))
        return "green"
    if kind == "parking meter":
        d.rounded_rectangle((cx - 0.15 * s, cy - 0.5 * s, cx + 0.15 * s, cy - 0.1 * s), radius=0.05 * s,
                            fill=_jit((90, 95, 100), rng, 12))
        d.rectangle((cx - 0.09 * s, cy - 0.42 * s, cx + 0.09 * s, cy - 0.28 * s), fill=(200, 215, 210))
        return "gray"
    if kind == "traffic light":
        d.rectangle((cx - 0.13 * s, cy - 0.5 * s, cx + 0.13 * s, cy + 0.05 * s), fill=(35, 35, 35))
        lit = int(rng.integers(3))
        for k, lamp in enumerate(((220, 40, 40), (240, 200, 40), (50, 200, 80))):
            y = cy - 0.41 * s + k * 0.17 * s
            d.ellipse((cx - 0.07 * s, y - 0.07 * s, cx + 0.07 * s, y + 0.07 * s),
                      fill=lamp if k == lit else _darker(lamp, 0.4))
        return "black"
    palette = {"cow": ("black", "brown", "white"), "horse": ("brown", "black", "white", "gray"),
               "sheep": ("white", "white", "gray")}[kind]
    cname = _choice(rng, palette)
    col = _mix(_jit(COLORS[cname], rng, 12), (128, 128, 128), 0.1)
    dark = _darker(col, 0.5) if cname != "black" else (90, 90, 90)
    leg = max(1.0, 0.05 * s)
    if kind == "horse":
        for lx in (-0.25, -0.15, 0.1, 0.18):
            d.rectangle((cx + f * lx * s - leg, cy, cx + f * lx * s + leg, cy + 0.45 * s), fill=col)
        d.ellipse((cx - 0.32 * s, cy - 0.12 * s, cx + 0.25 * s, cy + 0.12 * s), fill=col)
        d.polygon([(cx + f * 0.1 * s, cy - 0.05 * s), (cx + f * 0.25 * s, cy - 0.4 * s),
                   (cx + f * 0.35 * s, cy - 0.35 * s), (cx + f * 0.25 * s, cy)], fill=col)  # neck
        hx = cx + f * 0.32 * s
        d.ellipse((hx - 0.12 * s, cy - 0.47 * s, hx + 0.12 * s, cy - 0.33 * s), fill=col)  # head
        d.line((cx - f * 0.3 * s, cy - 0.05 * s, cx - f * 0.42 * s, cy + 0.25 * s), fill=dark,
               width=max(1, int(0.05 * s)))  # tail
        return cname
    if kind == "cow":
        for lx in (-0.3, -0.2, 0.1, 0.2):
            d.rectangle((cx + f * lx * s - leg, cy + 0.05 * s, cx + f * lx * s + leg, cy + 0.35 * s), fill=col)
        d.rounded_rectangle((cx - 0.38 * s, cy - 0.18 * s, cx + 0.28 * s, cy + 0.12 * s), radius=0.06 * s, fill=col)
        patch = (30, 30, 30) if cname == "white" else (240, 240, 240)
        for _ in range(2):
            px, py = cx + _u(rng, -0.3, 0.15) * s, cy + _u(rng, -0.15, 0.05) * s
            d.ellipse((px, py, px + 0.12 * s, py + 0.09 * s), fill=patch)
        hx = cx + f * 0.38 * s
        d.rectangle((hx - 0.1 * s, cy - 0.25 * s, hx + 0.1 * s, cy - 0.02 * s), fill=col)
        d.line((hx - 0.1 * s, cy - 0.28 * s, hx + 0.1 * s, cy - 0.28 * s), fill=(230, 225, 200),
               width=max(1, int(0.03 * s)))  # horns
        return cname
    for lx in (-0.22, -0.12, 0.08, 0.16):  # sheep: thin dark legs, a woolly body, a dark head
        d.rectangle((cx + f * lx * s - leg * 0.7, cy + 0.05 * s, cx + f * lx * s + leg * 0.7, cy + 0.3 * s),
                    fill=(50, 45, 40))
    for ox, oy in ((-0.2, 0.0), (-0.05, -0.06), (0.1, 0.0), (-0.1, 0.06), (0.05, 0.06)):
        d.ellipse((cx + (ox - 0.14) * s, cy + (oy - 0.12) * s, cx + (ox + 0.14) * s, cy + (oy + 0.12) * s), fill=col)
    hx = cx + f * 0.3 * s
    d.ellipse((hx - 0.09 * s, cy - 0.16 * s, hx + 0.09 * s, cy + 0.02 * s), fill=(50, 45, 40))
    return cname


def _layer(w: int, h: int, paint) -> tuple[Image.Image, Image.Image]:
    """What ``paint(draw)`` draws on a transparent canvas, and its binary mask (L, 0 or 255)."""
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    paint(new_draw(layer))
    return layer, layer.getchannel("A").point(lambda a: 255 if a else 0)


def coobj_box(h: int, w: int) -> tuple[int, int, int]:
    """Rows [r0, r1) and first column c0 of the box the co-object lies in (to the right edge):
    the official rows 0.375H-0.625H, columns 0.75W-W for its 0.25 x 0.875 layout."""
    half = COOBJ_SIDE / 2
    return int((0.5 - half) * h), int((0.5 + half) * h), int((COOBJ_X - half) * w)


def _bg_only(image: Image.Image) -> Image.Image:
    """The official ``gen_bg_only``: the car and co-object boxes overwritten with strips of the
    left quarter of the same rows (repeated where a box is wider, which only odd sizes need)."""
    img = np.array(image.convert("RGB"))
    h, w = img.shape[:2]
    out = img.copy()

    def fill(r0: int, r1: int, c0: int, c1: int) -> None:
        strip = img[r0:r1, :max(1, int(0.25 * w))]
        out[r0:r1, c0:c1] = np.tile(strip, (1, -(-(c1 - c0) // strip.shape[1]), 1))[:, :c1 - c0]

    fill(int(0.25 * h), int(0.75 * h), int(0.25 * w), int(0.5 * w))
    fill(int(0.25 * h), int(0.75 * h), int(0.5 * w), int(0.75 * w))
    r0, r1, c0 = coobj_box(h, w)
    fill(r0, r1, c0, w)
    return Image.fromarray(out, "RGB")


@register_component("urban_car")
def urban_car(rng, w, h, y: int | None = None, background: int | None = None, coobj: int | None = None,
              split: str | None = None) -> Content:
    """UrbanCars-like: an urban (y 0) or country (y 1) car on an urban (background 0) or country
    (1) scene beside an urban (coobj 0) or country (1) object; with car and co-object masks and
    the background-only image as extras."""
    y = int(rng.random() < 0.5) if y is None else int(y)
    if background is None:  # unplanned: the shortcuts mostly agree with the car
        background = y if rng.random() < WEB_ALIGNED else 1 - y
    if coobj is None:
        coobj = y if rng.random() < WEB_ALIGNED else 1 - y
    background, coobj = int(background), int(coobj)
    if not all(v in (0, 1) for v in (y, background, coobj)):
        raise ValueError(f"urban_car: y, background and coobj must be 0 or 1, got {y}, {background}, {coobj}")
    place = _choice(rng, PLACES[background])
    img = Image.blend(_background(rng, w, h, place), Image.new("RGB", (w, h), HAZE_GREY), BG_HAZE)
    side, cy = min(w, h), (h - 1) / 2  # pixel-centre coordinates: an object of side s - 1 covers s pixels
    kind = _choice(rng, COOBJECTS[coobj])
    facing = 1 if rng.random() < 0.5 else -1
    co_layer, co_mask = _layer(w, h, lambda d: _coobj(d, rng, COOBJ_X * w - 0.5, cy, COOBJ_SIDE * side - 1, kind,
                                                      facing))
    body = _choice(rng, tuple(b for b, (c, _) in CAR_BODIES.items() if c == y))
    cname = _choice(rng, CAR_COLORS)
    col = _mix(_jit(COLORS[cname], rng, 16), (128, 128, 128), 0.1)
    facing = 1 if rng.random() < 0.5 else -1
    car_layer, car_mask = _layer(w, h, lambda d: _car(d, rng, (w - 1) / 2, cy, CAR_SIDE * side - 1, body, col, facing))
    img.paste(co_layer, (0, 0), co_mask)
    img.paste(car_layer, (0, 0), car_mask)
    where, beside = PLACE_PHRASES[place], _a(kind)
    if rng.random() < 0.5:
        cap = f"a photo of {_a(cname + ' ' + body)} {where} next to {beside}"
    else:
        cap = f"a photo of {_a(CLASS_NAMES[y])}, {_a(cname + ' ' + body)}, {where} next to {beside}"
    attrs = _attrs(0, "outdoor", "photo", label=y, class_name=CLASS_NAMES[y], background=background,
                   background_name=FACTOR_NAMES[background], place=place, coobj=coobj,
                   coobj_name=FACTOR_NAMES[coobj], coobj_object=kind, bg_aligned=background == y,
                   coobj_aligned=coobj == y, group=4 * y + 2 * background + coobj, car=body, car_color=cname)
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs, extras={"car_mask.png": car_mask, "coobj_mask.png": co_mask,
                                            "bg_only.png": _bg_only})
