"""Tests of the UrbanCars-like toy world (vlmbias.toyworld.urbancars) and of extra shard members."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from toyshards import plans, read_members
from vlmbias import toyworld as tw
from vlmbias.shards.reader import BadInputCounter, iter_samples
from vlmbias.toyworld import urbancars as uc

EXTRAS = {"car_mask.png", "coobj_mask.png", "bg_only.png"}


def _plans(n):
    return plans("urbancars", n)


_read = read_members


def test_planted_proportions_exact_per_split():
    plans = _plans(3200)  # 1600 train (two blocks of 800), 800 val, 800 test
    by_split = defaultdict(list)
    for p in plans:
        by_split[p["split"]].append((p["y"], p["background"], p["coobj"]))
    assert {s: len(v) for s, v in by_split.items()} == {"train": 1600, "val": 800, "test": 800}
    train = by_split["train"]
    assert Counter(y for y, _, _ in train) == {0: 800, 1: 800}
    bg_ok = [bg == y for y, bg, _ in train]
    co_ok = [co == y for y, _, co in train]
    assert sum(bg_ok) == sum(co_ok) == 0.95 * 1600  # 95% each
    both = Counter(zip(bg_ok, co_ok))  # independent: 0.95 x 0.95, 0.95 x 0.05, 0.05 x 0.05
    assert both == {(True, True): 1444, (False, True): 76, (True, False): 76, (False, False): 4}
    for y in (0, 1):  # the official 3,610 / 190 / 190 / 10 per class, scaled to 800 per class
        cells = Counter((bg, co) for yy, bg, co in train if yy == y)
        assert cells == {(y, y): 722, (1 - y, y): 38, (y, 1 - y): 38, (1 - y, 1 - y): 2}
    for split in ("val", "test"):  # balanced over the 8 cells
        assert Counter(by_split[split]) == {(y, b, c): 100 for y in (0, 1) for b in (0, 1) for c in (0, 1)}
    # conflicting cells show up early, not only at the end of a block
    first = [(p["y"], p["background"], p["coobj"]) for p in plans[:160] if p["split"] == "train"]
    assert any(b != y and c != y for y, b, c in first) and sum(b != y for y, b, _ in first) >= 3


def test_metadata_follows_the_plan():
    plans = _plans(48)
    for i, plan in enumerate(plans):
        m = tw.render("urbancars", i, 24, 0)[2]
        y, bg, co = plan["y"], plan["background"], plan["coobj"]
        assert (m["label"], m["background"], m["coobj"], m["split"]) == (y, bg, co, plan["split"])
        assert m["group"] == 4 * y + 2 * bg + co and m["class_name"] == uc.CLASS_NAMES[y]
        assert (m["background_name"], m["coobj_name"]) == (uc.FACTOR_NAMES[bg], uc.FACTOR_NAMES[co])
        assert (m["bg_aligned"], m["coobj_aligned"]) == (bg == y, co == y)
        assert m["place"] in uc.PLACES[bg] and m["coobj_object"] in uc.COOBJECTS[co]
        assert uc.CAR_BODIES[m["car"]][0] == y
        assert m["car"] in m["caption"] and m["coobj_object"] in m["caption"]
    assert tw.class_names("urbancars") == ["urban car", "country car"]


def test_masks_and_background_only_image(tmp_path):
    path = str(tmp_path / "u.tar")
    tw.generate_source("urbancars", 24, [path], image_size=64, seed=0)
    samples = _read(path)
    shares = []
    for members in samples.values():
        assert set(members) == {"jpg", "txt", "json"} | EXTRAS
        img = np.asarray(Image.open(io.BytesIO(members["jpg"])).convert("RGB")).astype(int)
        masks = {}
        for name in ("car_mask.png", "coobj_mask.png"):
            m = Image.open(io.BytesIO(members[name]))
            assert m.mode == "L" and m.size == (64, 64)
            a = np.asarray(m)
            assert set(np.unique(a)) == {0, 255}
            masks[name] = a > 0
        bg = Image.open(io.BytesIO(members["bg_only.png"]))
        assert bg.mode == "RGB" and bg.size == (64, 64)
        bg = np.asarray(bg).astype(int)
        car, co = masks["car_mask.png"], masks["coobj_mask.png"]
        # the official placement: the car inside the central box, the co-object inside the right one
        car_box, co_box = np.zeros_like(car), np.zeros_like(co)
        car_box[16:48, 16:48] = True
        co_box[19:44, 38:] = True
        assert not (car & ~car_box).any() and not (co & ~co_box).any()
        assert car.sum() > 100 and co.sum() > 20
        # background-only: the boxes hold the left quarter's strips; everything else is the image
        assert (bg[~(car_box | co_box)] == img[~(car_box | co_box)]).all()
        left = np.concatenate([img[:, :16]] * 4, axis=1)  # the left quarter's strips, repeated
        assert (bg[16:48, 16:32] == img[16:48, :16]).all()
        assert (bg[car_box & ~co_box] == left[:, :32][car_box[:, 16:48] & ~co_box[:, 16:48]]).all()
        assert (bg[19:44, 38:] == left[19:44, :26]).all()  # the co-object box, filled last
        diff = np.abs(img - bg).sum(-1) > 30
        shares.append((diff[car].mean(), diff[co].mean()))
    shares = np.array(shares)
    assert shares.mean(0).min() > 0.85 and shares.min() > 0.5  # the masks lie on what was erased
    counter = BadInputCounter()  # extra members do not make a sample bad
    assert len(list(iter_samples([path], counter))) == 24 and counter.skipped == 0


def test_coobj_box_is_the_official_one_at_the_official_size(monkeypatch):
    assert uc.coobj_box(64, 64) == (19, 44, 38)  # the toy's 0.4 co-object centred at 0.8W
    monkeypatch.setattr(uc, "COOBJ_SIDE", 0.25)
    monkeypatch.setattr(uc, "COOBJ_X", 0.875)
    assert uc.coobj_box(256, 256) == (96, 160, 192)  # gen_bg_only: rows 0.375H-0.625H, columns 0.75W-W


def test_same_seed_same_bytes(tmp_path):
    a, b, c = (tmp_path / f"{x}.tar" for x in "abc")
    for p, seed in ((a, 2), (b, 2), (c, 3)):
        tw.generate_source("urbancars", 10, [str(p)], image_size=32, seed=seed)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert [json.loads(m["json"])["group"] for m in _read(a).values()] == \
           [json.loads(m["json"])["group"] for m in _read(c).values()]  # same plan, other drawings


@pytest.fixture
def restore_registries():
    saved = [(registry, dict(registry)) for registry in (tw.COMPONENTS, tw.SOURCES)]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


@pytest.mark.parametrize("extras, error", [
    ({"Mask.png": Image.new("L", (16, 16))}, "extra member 'Mask.png'"),
    ({"mask.png": Image.new("L", (8, 8))}, "extra member 'mask.png' is \\(8, 8\\)"),
    ({"mask.png": lambda im: "not an image"}, "extra member 'mask.png' is str"),
])
def test_bad_extras_name_the_component(tmp_path, restore_registries, extras, error):
    @tw.register_component("test_extras")
    def blank(rng, w, h):
        return tw.Content(Image.new("RGB", (w, h)), "a black square",
                          {"people": "none", "setting": "studio", "style": "render"}, extras=extras)

    tw.register_source(tw.SourceSpec(name="toyextras", mixture={"test_extras": 1.0}, signature=tw.Signature()))
    with pytest.raises((ValueError, RuntimeError), match=f"component 'test_extras': {error}"):
        tw.generate_source("toyextras", 1, [str(tmp_path / "t.tar")], image_size=16)


@pytest.mark.parametrize("size", [8, 13, 37])
def test_tiny_and_odd_canvases(tmp_path, size):
    path = str(tmp_path / "u.tar")
    tw.generate_source("urbancars", 6, [path], image_size=size, seed=1)
    for members in _read(path).values():
        assert {Image.open(io.BytesIO(members[n])).size for n in EXTRAS | {"jpg"}} == {(size, size)}
