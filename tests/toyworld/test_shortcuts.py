"""Tests of the ImageNet-like shortcut set (vlmbias.toyworld.shortcuts, source imagenet_shortcuts)."""

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
from vlmbias.toyworld import shortcuts as sc
from vlmbias.toyworld.scenes.objects import _object_photo

NAME = "imagenet_shortcuts"
EXTRAS = {"fg_mask.png", "bg_only.png"}


def _plans(n):
    return plans(NAME, n)


_read = read_members


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_classes_and_registration():
    assert tw.class_names(NAME) == tw.class_names("imagenet") + ["carton"]
    assert sc.CARTON == 10 and tw.class_names(NAME)[sc.CARTON] == "carton"
    from vlmbias.toyworld.sources import SUBTLE_CUES
    assert list(tw.SOURCES)[-1 - len(SUBTLE_CUES):] == [NAME, *SUBTLE_CUES]   # the test world comes last
    assert list(tw.OBJECT_DRAWERS)[-1] == "carton"
    assert "carton" not in tw.OBJECT_CLASSES  # the ImageNet-like source keeps its 10 classes
    assert set(sc.HABITATS) == set(sc.SHORTCUT_OBJECTS) and set(sc.HABITATS.values()) <= set(sc._BACKGROUNDS)
    spec, base = tw.SOURCES[NAME], tw.SOURCES["imagenet"]
    assert (spec.signature, spec.aspects, spec.framing, spec.image_format) == (
        base.signature, base.aspects, base.framing, base.image_format)


def test_split_counts_and_planted_proportions_exact():
    plans = _plans(1540)  # the config's size: 560 train, 280 train_stylized, 140 per evaluation split
    by_split = defaultdict(list)
    for p in plans:
        by_split[p["split"]].append(p)
    assert {s: len(v) for s, v in by_split.items()} == {
        "train": 560, "val": 140, "train_stylized": 280, "val_stylized": 140, "val_rendition": 140,
        "val_mixed_same": 140, "val_mixed_rand": 140}
    assert [p["split"] for p in plans[:11]] == list(sc.SPLIT_CYCLE) and set(sc.SPLITS) == set(by_split)
    k = len(sc.SHORTCUT_CLASSES)
    for split, ps in by_split.items():
        labels = Counter(p["label"] for p in ps)
        if split == "val_rendition":  # the class subset only, balanced
            assert set(labels) == set(sc.RENDITION_CLASSES) and max(labels.values()) - min(labels.values()) <= 1
        else:
            assert set(labels) == set(range(k)) and max(labels.values()) - min(labels.values()) <= 1
        # 75% of every class on its habitat
        for c in labels:
            hab = [p["habitat"] for p in ps if p["label"] == c]
            assert abs(np.mean(hab) - 0.75) <= 1 / len(hab) + 1e-9
    # the watermark: 90% of the carton training images, nothing else; 60% of the cartons show their
    # contents (every split but the renditions, which have no carton), all of them marked in training
    for split in ("train", "train_stylized"):
        carton = [p["watermark"] for p in by_split[split] if p["label"] == sc.CARTON]
        assert sum(carton) == sum(k % 10 < 9 for k in range(len(carton))) and len(carton) >= 25
        contents = [p for p in by_split[split] if p.get("contents")]
        assert len(contents) == sum(k % 5 < 3 for k in range(len(carton))) and all(p["watermark"] for p in contents)
    assert not any(p.get("contents") for p in plans if p["label"] != sc.CARTON)
    assert not any(p["watermark"] for p in plans if p["label"] != sc.CARTON or p["split"] not in
                   sc.WATERMARKED_SPLITS)
    # IN-9: mixed_same on its own class's background, mixed_rand on every other class's equally often
    assert all(p["bg_label"] == p["label"] for p in by_split["val_mixed_same"])
    rand = by_split["val_mixed_rand"]
    assert all(p["bg_label"] != p["label"] for p in rand)
    pairs = Counter((p["label"], p["bg_label"]) for p in _plans(11 * 11 * 10) if p["split"] == "val_mixed_rand")
    assert set(pairs.values()) == {1} and len(pairs) == k * (k - 1)
    assert "bg_label" not in by_split["train"][0]


def test_same_seed_same_bytes(tmp_path):
    a, b, c = (tmp_path / f"{x}.tar" for x in "abc")
    s1 = tw.generate_source(NAME, 22, [str(a)], image_size=32, seed=3)
    tw.generate_source(NAME, 22, [str(b)], image_size=32, seed=3)
    tw.generate_source(NAME, 22, [str(c)], image_size=32, seed=4)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert s1["counts"]["split"] == {"train": 8, "val": 2, "train_stylized": 4, "val_stylized": 2,
                                     "val_rendition": 2, "val_mixed_same": 2, "val_mixed_rand": 2}


def test_metadata_follows_the_plan():
    n = 11 * 30
    plans = _plans(n)
    metas = [tw.render(NAME, i, 16, 0)[2] for i in range(n)]
    names = tw.class_names(NAME)
    wm = defaultdict(list)
    for plan, m in zip(plans, metas):
        assert (m["split"], m["label"], m["watermark"]) == (plan["split"], plan["label"], plan["watermark"])
        assert m["class_name"] == names[m["label"]] and m["variant"] == sc.VARIANTS[m["split"]]
        if m["variant"] == "rendition":
            assert m["rendition"] in sc.RENDITION_KINDS and m["rendition_classes"] == list(sc.RENDITION_CLASSES)
            assert m["label"] in sc.RENDITION_CLASSES and m["style"] == "cartoon"
            continue
        # the background's class: a mixed image's bg_label; a carton showing its contents stands
        # on the contents' background, not the carton's
        bg_class = m.get("bg_label", sc.SHORTCUT_OBJECTS.index(m["contents"]) if "contents" in m else m["label"])
        assert (m["background_name"] == sc.HABITATS[sc.SHORTCUT_OBJECTS[bg_class]]) == m["habitat"] == plan["habitat"]
        if m["variant"] == "mixed":
            assert m["bg_label"] == plan["bg_label"] and m["bg_class_name"] == names[m["bg_label"]]
            assert (m["bg_label"] == m["label"]) == (m["split"] == "val_mixed_same")
        else:
            assert "bg_label" not in m
        wm[(m["split"], m["label"] == sc.CARTON)].append(m["watermark"])
    # watermark rate: the planted 90% on carton training images (here 11 + 5 of them), 0 elsewhere
    assert abs(np.mean(wm[("train", True)]) - 0.9) <= 0.1 and abs(np.mean(wm[("train_stylized", True)]) - 0.9) <= 0.2
    assert not any(v for (split, carton), vs in wm.items() if not carton or split not in sc.WATERMARKED_SPLITS
                   for v in vs)
    assert all(m["watermark_kind"] in ("cjk", "glyphs", "latin") for m in metas if m["watermark"])


def test_watermark_is_a_white_overlay():
    draw = tw.COMPONENTS["shortcut_object"]
    kw = {"split": "train", "label": sc.CARTON, "habitat": True}
    for seed in range(4):
        plain = np.asarray(draw(np.random.default_rng(seed), 48, 40, watermark=False, **kw).image).astype(int)
        marked = draw(np.random.default_rng(seed), 48, 40, watermark=True, **kw)
        diff = np.asarray(marked.image).astype(int) - plain
        assert (diff >= 0).all() and (diff.max(axis=2) > 10).sum() >= 8  # only lighter: white, semi-transparent
        assert marked.attrs["watermark"] and "watermark" in marked.attrs


def test_train_extras_decode_as_mask_and_background(tmp_path):
    paths = [str(tmp_path / f"{i:05d}.tar") for i in range(2)]
    tw.generate_source(NAME, 33, paths, image_size=48, seed=0)
    samples = {}
    for p in paths:
        samples.update(_read(p))
    assert len(samples) == 33
    n_train = 0
    for members in samples.values():
        meta = json.loads(members["json"])
        if meta["split"] != "train":
            assert set(members) == {"jpg", "txt", "json"}
            continue
        n_train += 1
        assert set(members) == {"jpg", "txt", "json"} | EXTRAS
        img = _decode(members["jpg"])
        mask, bg = _decode(members["fg_mask.png"]), _decode(members["bg_only.png"])
        assert mask.mode == "L" and bg.mode == "RGB" and mask.size == bg.size == img.size
        m = np.asarray(mask)
        assert set(np.unique(m)) == {0, 255} and 0.01 < (m > 0).mean() < 0.7
        a, b = np.asarray(img.convert("RGB")).astype(int), np.asarray(bg).astype(int)
        same = (a == b).all(axis=2)
        assert same[m == 0].mean() > 0.5 and same[m > 0].mean() < 0.2  # written around, replaced under
        # the object is gone: under the mask the background-only image differs from the photo far
        # more than around it, and looks like the background (its colour stays close to the rest)
        inside = np.abs(a - b)[m > 0].mean()
        assert inside > 3 * np.abs(a - b)[m == 0].mean() + 1
        assert np.abs(b[m > 0].mean(axis=0) - b[m == 0].mean(axis=0)).max() < 40
    assert n_train == 12
    counter = BadInputCounter()
    read = list(iter_samples(paths, counter))
    assert len(read) == 33 and counter.skipped == 0


def test_mixed_composes_exactly_on_the_other_backdrop():
    draw = tw.COMPONENTS["shortcut_object"]
    same = draw(np.random.default_rng(1), 40, 40, split="val_mixed_same", label=4, habitat=True, bg_label=4)
    other = draw(np.random.default_rng(1), 40, 40, split="val_mixed_rand", label=4, habitat=True, bg_label=2)
    assert same.attrs["background_name"] == "water" and other.attrs["background_name"] == "leaves"
    assert (same.attrs["bg_label"], other.attrs["bg_label"], other.attrs["bg_class_name"]) == (4, 2, "tree")
    assert not same.extras and not other.extras


def test_object_photo_layers_do_not_change_the_drawing():
    # the hook the shortcut set uses: a plain call draws what it always drew
    plain = _object_photo(np.random.default_rng(7), 40, 32)
    layers: dict = {}
    hooked = _object_photo(np.random.default_rng(7), 40, 32, layers=layers)
    assert np.array_equal(np.asarray(plain[0]), np.asarray(hooked[0])) and plain[1:] == hooked[1:]
    img, bgd, ground = (np.asarray(x).astype(int) for x in (hooked[0], layers["background"], layers["ground"]))
    m = np.asarray(layers["mask"]) > 0
    shadow = (ground != bgd).any(axis=2)
    assert m.any() and (img[~m & ~shadow] == bgd[~m & ~shadow]).all() and (img[m] != ground[m]).any(axis=1).mean() > 0.5


def test_stylized_keeps_the_shape_and_replaces_the_colours():
    rng = np.random.default_rng(0)
    for seed in range(6):
        layers: dict = {}
        photo = _object_photo(np.random.default_rng(seed), 48, 48, layers=layers)[0]
        m = np.asarray(layers["mask"]) > 0
        out = np.asarray(sc._stylize(rng, photo, layers["mask"]), np.float32)
        lum = out @ np.array([0.299, 0.587, 0.114], np.float32)
        assert abs(lum[m].mean() - lum[~m].mean()) > 0.5 * lum.std()  # the silhouette stays visible
        assert np.abs(out.mean(axis=(0, 1)) - np.asarray(photo, np.float32).mean(axis=(0, 1))).max() > 5 or \
            np.abs(out - np.asarray(photo, np.float32)).mean() > 20  # colours and texture are replaced


@pytest.mark.parametrize("kind", sc.RENDITION_KINDS)
def test_renditions_draw_every_class(kind):
    for obj in sc.SHORTCUT_OBJECTS:
        img = np.asarray(sc._rendition(np.random.default_rng(0), 40, 40, obj, kind)).astype(int)
        assert img.shape == (40, 40, 3) and img.std() > 10, (kind, obj)
