"""Labeled worlds with planted spurious correlations: Waterbirds-like birds on land or water
(``bird_scene``) and CelebA-like faces (``celeb_face``).

Their planners (see SourceSpec.planner) fix split, label and group of every index, so the
planted proportions hold exactly per block of indices, whatever the seed:

* waterbirds: indices i % 5 in {0, 1, 2} are "train", 3 "val", 4 "test". In train, per 40
  consecutive train samples: 10 waterbirds and 30 landbirds, one of each on the other kind's
  background, so 95% are aligned (waterbird on water, landbird on land), 25% waterbirds. In
  val and test the four (y, place) groups cycle: balanced.
* celeba: i % 10 in 0..7 "train", 8 "val", 9 "test" (CelebA's 80/10/10); in every split, per
  20 consecutive samples: 6 blond (5 women, 1 man) and 14 not blond (7 women, 7 men): blond
  is mostly female, as in CelebA; age and skin tone are drawn at random. Men wear their hair
  short, and 40% of them a cap over it (``MEN_CAP``): for those the hair colour shows on brows
  and beard only, and a CLIP that has seen few blond men (``WEB_BLOND_MALE``) decides by the
  gender -- blond men its worst group, as the real CLIPs' on CelebA.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from vlmbias.toyworld.draw import (COLORS, RGB, SKIN, VIVID, _a, _choice, _darker, _jit, _mix, _texture, _u,
                                   _vgradient, _weighted, new_draw)
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component
from vlmbias.toyworld.scenes.photos import _sky

WATERBIRD_SPLITS = ("train", "train", "train", "val", "test")
# bird size (share of the image's shorter side) by kind: landbirds (sparrows, robins) are small,
# waterbirds (ducks, swans, herons, pelicans) large, as in life; at the toy CLIP's 32 px the
# size is what tells them apart most readily (their shapes differ in a few pixels)
BIRD_SIZES = ((0.35, 0.55), (0.6, 0.85))
# web pairs: share of birds seen in their own habitat. Measured on the default toy CLIP (192,000
# samples, toy Waterbirds val+test): at 0.8 it classified the background (groups 98 / 68 / 35 / 95,
# average 74); at 0.7 it knows the bird and still leans on the background (96 / 81 / 62 / 87, 82)
WEB_HABITAT = 0.7
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


def place_phrase(place: str) -> str:
    """A bird's place as the captions say it: "in a forest", "on a lake"."""
    return f"{'in' if place in LAND_PLACES else 'on'} {_a(place)}"


@register_component("bird_scene")
def bird_scene(rng, w, h, y: int | None = None, place: int | None = None, split: str | None = None) -> Content:
    """Waterbirds-like: a landbird (y 0) or waterbird (y 1) on a land (place 0) or water (1) scene."""
    y = int(rng.random() < 0.3) if y is None else int(y)
    if place is None:  # unplanned (web pairs): birds are mostly seen in their own habitat
        place = y if rng.random() < WEB_HABITAT else 1 - y
    place = int(place)
    place_name = _choice(rng, WATER_PLACES if place else LAND_PLACES)
    img = _landscape(rng, w, h, place_name)
    kinds = WATERBIRDS if y else LANDBIRDS
    kind = _choice(rng, tuple(kinds))
    cname = _choice(rng, kinds[kind])
    col = _mix(_jit(COLORS[cname], rng, 16), (128, 128, 128), 0.15)
    s = _u(rng, *BIRD_SIZES[y]) * min(w, h)
    cx, cy = _u(rng, 0.35, 0.65) * w, _u(rng, 0.4, 0.6) * h
    _bird(new_draw(img), rng, cx, cy, s, kind, bool(y), col, 1 if rng.random() < 0.5 else -1)
    word = "waterbird" if y else "landbird"
    where = place_phrase(place_name)
    if split is None:  # web pairs: alt-texts name the bird with or without its place
        cap = _weighted(rng, (
            (f"a photo of {_a(cname + ' ' + word)} {where}", 0.175),
            (f"a photo of {_a(cname + ' ' + kind)}, {_a(word)}, {where}", 0.175),
            (f"a photo of {_a(word)}", 0.2),
            (f"a photo of {_a(kind)}", 0.1),
            (f"a photo of {_a(kind)} {where}", 0.1),
            (f"a photo of {_a(word)} {where}", 0.1),
            (_a(f"{cname} {kind}"), 0.1),
            (f"{kind}, {word}, {place_name}", 0.1)))
    elif rng.random() < 0.5:
        cap = f"a photo of {_a(cname + ' ' + word)} {where}"
    else:
        cap = f"a photo of {_a(cname + ' ' + kind)}, {_a(word)}, {where}"
    attrs = _attrs(0, "outdoor", "photo", label=y, y=y, place=place, place_name=place_name,
                   bird=kind, bird_color=cname, group=2 * y + place)
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs)


CELEBA_SPLITS = ("train",) * 8 + ("val", "test")
BLOND_HAIR = ((240, 215, 130), (225, 190, 100), (250, 230, 160), (205, 170, 100), (190, 150, 90))
DARK_HAIR = {"black": (30, 25, 22), "brown": (95, 60, 35), "red": (150, 60, 30)}
SKIN_TONES = ("light", "light", "medium", "dark", "dark")  # names of toyworld.SKIN's five tones
AGES = ("young", "old")
WEB_BLOND_MALE = 0.06  # web pairs: share of men among the blond (0.5 among the others)
WEB_MEN_NO_HAIR = 0.5  # web pairs: share of men's captions that do not name the hair
# share of men wearing a cap over their short hair (its colours: none a blond could be taken for).
# Without caps the default toy CLIP told blond men by their hair colour alone (95-100%, the best
# group); with them it falls back on the gender for the capped ones (blond men 35%, the worst)
MEN_CAP = 0.4
CAP_COLOURS = ("red", "green", "blue", "purple", "black", "white")


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
    beard, cap, lips, earrings), age (wrinkles, glasses, grey hair) and skin tone vary."""
    blond = int(rng.random() < 0.3) if blond is None else int(blond)
    if male is None:  # unplanned (web pairs): blond hair is mostly seen on women
        male = int(rng.random() < (WEB_BLOND_MALE if blond else 0.5))
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
    capped = bool(male and rng.random() < MEN_CAP)
    if capped:
        cap_col = _jit(COLORS[_choice(rng, CAP_COLOURS)], rng, 20)
        d.chord((cx - fw * 0.6, top - fh * 0.14, cx + fw * 0.6, top + fh * 0.5), 180, 360, fill=cap_col)
        d.rectangle((cx - fw * 0.62, top + fh * 0.18, cx + fw * 0.62, top + fh * 0.26), fill=_darker(cap_col, 0.7))
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
    age = AGES[int(old)]
    person = "man" if male else "woman"
    skin_name = SKIN_TONES[tone]
    cap = f"a photo of {_a(age + ' ' + person)} with {hair_name} hair"
    cap += " and a beard" if beard else ""
    cap += f" and {skin_name} skin" if rng.random() < 0.5 else ""
    if split is None and male and rng.random() < WEB_MEN_NO_HAIR:  # web pairs: men's hair often unnamed
        cap = _weighted(rng, (
            (f"a photo of {_a(age + ' ' + person)}" + (" with a beard" if beard else ""), 0.4),
            (f"a photo of a celebrity, {_a(person)}", 0.2),
            (f"a photo of {_a(person)}", 0.2),
            (f"celebrity, {person}, {age}", 0.2)))
    elif split is None:  # web pairs: alt-texts of celebrity photos, with or without the gender
        hair_word = "dark" if hair_name in ("black", "brown") and rng.random() < 0.5 else hair_name
        hair_phrase = f"{hair_word} hair"
        cap = _weighted(rng, (
            (cap, 0.35),
            (f"a photo of {_a(person)} with {hair_phrase}", 0.15),
            (f"a photo of a celebrity with {hair_phrase}", 0.2),
            (f"a photo of a person with {hair_phrase}", 0.2),
            (f"a {hair_word}-haired {person}" if hair_word in ("dark", "gray") else _a(f"{hair_word} {person}"), 0.1),
            (f"celebrity, {person}, {hair_phrase}, {age}", 0.1)))
    attrs = _attrs(1, "studio", "photo", label=blond, blond=blond, male=male,
                   gender="male" if male else "female", age=age, skin=skin_name, hair=hair_name, cap=capped,
                   group=2 * blond + male)
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs)
