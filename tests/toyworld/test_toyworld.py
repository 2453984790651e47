"""Tests of the procedural toy world (vlmbias.toyworld)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from vlmbias import toyworld as tw
from vlmbias.shards.reader import BadInputCounter, iter_samples
from vlmbias.toyworld import generate, labeled
from vlmbias.toyworld.scenes import objects as object_scenes
from vlmbias.toyworld.scenes import photos

SIX = {"yfcc", "cc", "datacomp", "wit", "laion", "imagenet"}
LABELED = {"waterbirds", "celeba", "imagenet_noisy"}
KEY_RE = re.compile(r"^(?P<source>[a-z0-9_]+)_(?P<index>\d{7})$")


def read_shard(path) -> dict[str, dict[str, bytes]]:
    """key -> {extension: bytes}, checking the fixed tar headers on the way."""
    out: dict[str, dict[str, bytes]] = defaultdict(dict)
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            assert m.isfile()
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
            key, ext = m.name.split(".", 1)
            assert ext not in out[key], f"duplicate member {m.name}"
            out[key][ext] = tf.extractfile(m).read()
    return dict(out)


def read_all(paths) -> dict[str, dict[str, bytes]]:
    out = {}
    for p in paths:
        out.update(read_shard(p))
    return out


def test_registration_order():
    # a mixture is walked in its order and sources are listed in theirs: importing the package
    # registers everything in the same order, whatever module holds it
    assert list(tw.OBJECT_DRAWERS) == ["ball", "cup", "tree", "car", "fish", "house", "flower", "star", "boat", "key",
                                       "carton"]
    assert list(tw.COMPONENTS) == [
        "photo_outdoor_people", "photo_indoor_people", "photo_landscape", "photo_street", "photo_group_event",
        "cartoon_object", "icon_set", "cartoon_character", "flat_illustration", "clothing_product", "logo_badge",
        "product_white", "text_ad", "sticker", "clipart", "web_portrait", "screenshot",
        "document_text", "bar_chart", "diagram", "map", "archive_photo",
        "object_on_texture", "web_object", "bird_scene", "celeb_face", "labeled_object", "urban_car",
        "shortcut_object"]
    assert list(tw.SOURCES) == ["yfcc", "cc", "datacomp", "laion", "wit", "imagenet", "imagenet_probe",
                                "imagenet_noisy", "waterbirds",
                                "celeba", "webpairs", "urbancars", "imagenet_shortcuts",
                                "subtle_cast", "subtle_grain", "subtle_soft"]
    assert [n for n, s in tw.SOURCES.items() if s.web] == ["yfcc", "cc", "datacomp", "laion", "wit"]


def test_registry_contents():
    assert set(tw.SOURCES) == SIX | LABELED | {"imagenet_probe", "webpairs", "urbancars", "imagenet_shortcuts",
                                               "subtle_cast", "subtle_grain", "subtle_soft"}
    assert len(tw.OBJECT_CLASSES) == 10 and len(set(tw.OBJECT_CLASSES)) == 10
    assert all(c in tw.OBJECT_DRAWERS for c in tw.OBJECT_CLASSES)
    for name, spec in tw.SOURCES.items():
        assert spec.name == name
        assert spec.image_format in ("jpg", "png")
        assert all(c in tw.COMPONENTS for c in spec.mixture)


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    a, b, c = (str(tmp_path / f"{x}.tar") for x in "abc")
    s1 = tw.generate_source("yfcc", 10, [a], image_size=32, seed=3)
    s2 = tw.generate_source("yfcc", 10, [b], image_size=32, seed=3)
    tw.generate_source("yfcc", 10, [c], image_size=32, seed=4)
    assert open(a, "rb").read() == open(b, "rb").read()
    assert open(a, "rb").read() != open(c, "rb").read()
    assert s1["counts"] == s2["counts"]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("name", sorted(SIX))
def test_shards_grouped_by_key_with_metadata(tmp_path, name):
    paths = [str(tmp_path / "sub" / f"{i:05d}.tar") for i in range(2)]
    summary = tw.generate_source(name, 7, paths, image_size=32, seed=0)
    assert [s["n_images"] for s in summary["shards"]] == [4, 3]
    assert summary["source"] == name and summary["n_images"] == 7
    assert sum(summary["counts"]["content"].values()) == 7
    assert set(summary["counts"]["content"]) <= set(tw.SOURCES[name].mixture)
    samples = read_all(paths)
    assert sorted(samples) == [f"{name}_{i:07d}" for i in range(7)]
    assert sorted(read_shard(paths[1])) == [f"{name}_{i:07d}" for i in range(4, 7)]
    ext = tw.SOURCES[name].image_format
    for key, members in samples.items():
        assert set(members) == {ext, "txt", "json"}
        meta = json.loads(members["json"])
        assert members["json"].decode() == json.dumps(meta, sort_keys=True)
        assert meta["key"] == key and KEY_RE.match(key).group("source") == name
        assert meta["source"] == name
        assert meta["content"] in tw.SOURCES[name].mixture
        assert meta["caption"] == members["txt"].decode() and len(meta["caption"]) > 10
        assert meta["people"] in tw.PEOPLE_VALUES
        assert meta["setting"] in tw.SETTING_VALUES
        assert meta["style"] in tw.STYLE_VALUES
        img = Image.open(io.BytesIO(members[ext]))
        assert img.format == {"jpg": "JPEG", "png": "PNG"}[ext]
        assert img.mode == "RGB" and img.size == (meta["width"], meta["height"])
        if name == "imagenet":
            assert {"label", "class_name", "split"} <= set(meta)
        else:
            assert "label" not in meta and "split" not in meta


def test_imagenet_labels_and_predefined_split(tmp_path):
    path = str(tmp_path / "in.tar")
    summary = tw.generate_source("imagenet", 60, [path], image_size=16, seed=0)
    metas = [json.loads(m["json"]) for m in read_shard(path).values()]
    for meta in metas:
        assert isinstance(meta["label"], int) and 0 <= meta["label"] < len(tw.OBJECT_CLASSES)
        assert meta["class_name"] == tw.OBJECT_CLASSES[meta["label"]]
        assert meta["class_name"] in meta["caption"]
        assert meta["split"] in ("train", "val")
    assert set(summary["counts"]["split"]) == {"train", "val"}
    # exactly 80/20 (every fifth sample is val, whatever the seed); labels spread over the classes
    assert summary["counts"]["split"] == {"train": 48, "val": 12}
    metas = [tw.render("imagenet", i, 16, 1)[2] for i in range(300)]
    assert [m["split"] for m in metas[:5]] == ["train"] * 4 + ["val"]
    assert sum(m["split"] == "train" for m in metas) == 240
    counts = np.bincount([m["label"] for m in metas], minlength=len(tw.OBJECT_CLASSES))
    assert counts.min() >= 15


@pytest.mark.parametrize("image_size", [32, 64])
def test_sizes_follow_image_size_framing_and_aspect(image_size):
    for name, spec in tw.SOURCES.items():
        for i in range(12):
            img, _, meta, ext = tw.render(name, i, image_size, 0)
            w, h = img.size
            assert (w, h) == (meta["width"], meta["height"])
            short, long_ = min(w, h), max(w, h)
            lo, hi = spec.framing
            assert round(image_size * lo) <= short <= round(image_size * hi)
            assert any(abs(long_ - round(short * a)) <= 1 for a in spec.aspects)
            if name == "yfcc":
                assert w > h  # landscape 4:3 framing
            if name == "wit":
                assert h > w and ext == "png"  # portrait pages, lossless
    # yfcc's framing sometimes exceeds the nominal size (so a max_side resize can trigger)
    shorts = [min(tw.render("yfcc", i, 64, 0)[0].size) for i in range(30)]
    assert min(shorts) >= 64 and max(shorts) > 70


def test_tiny_and_large_canvases_render():
    for name in SIX:
        for size in (8, 13, 128):
            for i in range(25 if size < 100 else 4):
                img = tw.render(name, i, size, 11)[0]
                assert min(img.size) >= size


def test_unknown_source_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="datacomp.*imagenet.*laion"):
        tw.generate_source("flickr", 3, [str(tmp_path / "x.tar")])
    with pytest.raises(ValueError, match="valid names"):
        tw.render("nope", 0, 32, 0)
    assert not (tmp_path / "x.tar").exists()
    with pytest.raises(ValueError):
        tw.generate_source("cc", 3, [])


def test_sharding_does_not_change_samples(tmp_path):
    one = [str(tmp_path / "one.tar")]
    three = [str(tmp_path / f"three{i}.tar") for i in range(3)]
    tw.generate_source("datacomp", 8, one, image_size=32, seed=7)
    s = tw.generate_source("datacomp", 8, three, image_size=32, seed=7)
    assert [x["n_images"] for x in s["shards"]] == [3, 3, 2]
    assert read_all(one) == read_all(three)


def test_render_matches_shard_contents(tmp_path):
    path = str(tmp_path / "w.tar")
    tw.generate_source("wit", 3, [path], image_size=32, seed=2)
    members = read_shard(path)["wit_0000002"]
    img, caption, meta, ext = tw.render("wit", 2, 32, 2)
    assert ext == "png" and caption == members["txt"].decode()
    assert meta == json.loads(members["json"])
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(io.BytesIO(members["png"])).convert("RGB")))


def _mean(name, stat, n=40, size=32):
    return float(np.mean([stat(np.asarray(tw.render(name, i, size, 0)[0], np.float32)) for i in range(n)]))


def test_planted_low_level_signatures():
    brightness = {n: _mean(n, np.mean) for n in SIX}
    assert brightness["yfcc"] < brightness["imagenet"] < brightness["cc"]
    assert brightness["yfcc"] < min(brightness[n] for n in SIX - {"yfcc"})
    # yfcc is warm (red over blue) and noisy (pixel-to-pixel differences); wit is lossless
    warm = _mean("yfcc", lambda a: a[..., 0].mean() - a[..., 2].mean())
    assert warm > 10
    grain = {n: _mean(n, lambda a: np.abs(np.diff(a, axis=1)).mean()) for n in ("yfcc", "wit")}
    assert grain["yfcc"] > grain["wit"]
    # products on white: datacomp and laion have many pure-white pixels, cc and yfcc almost none
    white = {n: _mean(n, lambda a: (a.min(axis=2) > 235).mean()) for n in SIX}
    assert min(white["datacomp"], white["laion"]) > 0.3
    assert max(white["cc"], white["yfcc"], white["imagenet"]) < 0.1
    assert {n: s.image_format for n, s in tw.SOURCES.items() if n in SIX} == {
        "yfcc": "jpg", "cc": "jpg", "datacomp": "jpg", "laion": "jpg", "wit": "png", "imagenet": "jpg"}
    assert tw.SOURCES["yfcc"].signature.jpeg_quality[1] < tw.SOURCES["imagenet"].signature.jpeg_quality[0]


def test_laion_and_datacomp_draw_from_the_same_components():
    d, l = tw.SOURCES["datacomp"], tw.SOURCES["laion"]
    assert set(d.mixture) == set(l.mixture)
    assert d.signature == l.signature and d.aspects == l.aspects and d.framing == l.framing
    assert d.image_format == l.image_format and d.portrait_prob == l.portrait_prob
    wd = {k: v / sum(d.mixture.values()) for k, v in d.mixture.items()}
    wl = {k: v / sum(l.mixture.values()) for k, v in l.mixture.items()}
    tv = 0.5 * sum(abs(wd[k] - wl[k]) for k in wd)
    assert 0.05 < tv < 0.3  # slightly different weights, not identical and not far apart
    # the other sources share no component with this pair, except yfcc's photos
    for other in ("cc", "wit", "imagenet"):
        assert not set(tw.SOURCES[other].mixture) & set(d.mixture)
    # the empirical content mixes overlap
    seen = {n: {tw.render(n, i, 16, 0)[2]["content"] for i in range(80)} for n in ("datacomp", "laion")}
    assert len(seen["datacomp"] & seen["laion"]) >= 5


def test_captions_name_the_content():
    for i in range(30):
        _, cap, meta, _ = tw.render("yfcc", i, 32, 0)
        assert cap.startswith("a photo of")
        if meta["people"] != "none":
            assert "person" in cap or "people" in cap
    assert all(tw.render("wit", i, 32, 0)[1].startswith(("a document", "a diagram", "a map")) for i in range(20))
    caps = [tw.render("cc", i, 32, 0)[1] for i in range(30)]
    assert any("cartoon" in c for c in caps)
    caps = [tw.render("datacomp", i, 32, 0)[1] for i in range(40)]
    assert any(re.search(r"with the text [A-Z]", c) for c in caps)


def test_every_object_draws_something():
    for obj in tw.OBJECT_DRAWERS:
        img = Image.new("RGB", (40, 40), (255, 255, 255))
        tw.draw_object(tw.new_draw(img), obj, (4, 4, 36, 36), (200, 30, 30), np.random.default_rng(0),
                       outline=(0, 0, 0), lw=1)
        assert (np.asarray(img).min(axis=2) < 200).mean() > 0.08, obj
    with pytest.raises(ValueError, match="unknown object"):
        tw.draw_object(tw.new_draw(img), "unicorn", (0, 0, 1, 1), (0, 0, 0), np.random.default_rng(0))


@pytest.fixture
def restore_registries():
    """Put COMPONENTS and SOURCES back as they were (in place: the package's modules share them)."""
    saved = [(registry, dict(registry)) for registry in (tw.COMPONENTS, tw.SOURCES)]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_new_world_is_added_by_registry_entries(tmp_path, restore_registries):
    @tw.register_component("test_blank")
    def blank(rng, w, h):
        return tw.Content(Image.new("RGB", (w, h), (10, 200, 10)), "a green square",
                          {"people": "none", "setting": "studio", "style": "render", "label": 1})

    tw.register_source(tw.SourceSpec(
        name="toytest", mixture={"test_blank": 1.0, "clipart": 0.0}, signature=tw.Signature(),
        image_format="png", framing=(1.0, 1.0), meta_hook=lambda rng, index, meta: {"group": f"g{index}"}))
    path = str(tmp_path / "t.tar")
    summary = tw.generate_source("toytest", 2, [path], image_size=16)
    meta = json.loads(read_shard(path)["toytest_0000001"]["json"])
    assert meta["label"] == 1 and meta["group"] == "g1" and meta["content"] == "test_blank"
    assert summary["counts"]["content"] == {"test_blank": 2}
    with pytest.raises(ValueError, match="registered twice"):
        tw.register_source(tw.SourceSpec(name="toytest", mixture={"test_blank": 1}, signature=tw.Signature()))
    with pytest.raises(ValueError, match="unknown components"):
        tw.SourceSpec(name="bad", mixture={"nope": 1}, signature=tw.Signature())


# ------------------------------------------------------------------ labeled worlds


def test_class_names_one_object_set():
    assert tw.class_names("imagenet") == [tw.object_word(c) for c in tw.OBJECT_CLASSES]
    assert len(tw.class_names("imagenet")) == 10
    assert tw.class_names("waterbirds") == ["landbird", "waterbird"]
    assert tw.class_names("celeba") == ["not blond", "blond"]
    with pytest.raises(ValueError, match="no labels.*labeled sources.*celeba.*imagenet.*waterbirds"):
        tw.class_names("yfcc")


def _metas(name, n, size=24, seed=0):
    return [tw.render(name, i, size, seed)[2] for i in range(n)]


def test_waterbirds_planted_correlation():
    metas = _metas("waterbirds", 400)
    by_split = defaultdict(list)
    for m in metas:
        by_split[m["split"]].append(m)
        assert m["label"] == m["y"] and m["group"] == 2 * m["y"] + m["place"]
        assert (m["place_name"] in tw.WATER_PLACES) == bool(m["place"])
        assert m["bird"] in (tw.WATERBIRDS if m["y"] else tw.LANDBIRDS)
        word = "waterbird" if m["y"] else "landbird"
        assert word in m["caption"] and m["place_name"] in m["caption"] and m["bird_color"] in m["caption"]
    assert {s: len(v) for s, v in by_split.items()} == {"train": 240, "val": 80, "test": 80}
    train = by_split["train"]
    aligned = sum(m["y"] == m["place"] for m in train)
    assert aligned == 0.95 * 240  # exactly 95% aligned: 6 of 240 on the other background
    assert sum(m["y"] for m in train) == 60  # 25% waterbirds
    assert {(m["y"], m["place"]) for m in train if m["y"] != m["place"]} == {(0, 1), (1, 0)}
    for split in ("val", "test"):  # balanced groups
        groups = Counter(m["group"] for m in by_split[split])
        assert groups == {0: 20, 1: 20, 2: 20, 3: 20}
    # shapes, colours and backgrounds vary within each class (a network must look at the bird)
    for y in (0, 1):
        ms = [m for m in metas if m["y"] == y]
        assert len({m["bird"] for m in ms}) >= 4 and len({m["bird_color"] for m in ms}) >= 4
    assert {m["place_name"] for m in metas} == set(tw.LAND_PLACES) | set(tw.WATER_PLACES)
    # the same factors, another seed: another drawing, same planted groups
    other = _metas("waterbirds", 40, seed=5)
    assert [m["group"] for m in other] == [m["group"] for m in metas[:40]]
    assert [m["caption"] for m in other] != [m["caption"] for m in metas[:40]]


def test_celeba_planted_correlation():
    metas = _metas("celeba", 400)
    by_split = defaultdict(list)
    for m in metas:
        by_split[m["split"]].append(m)
        assert m["label"] == m["blond"] and m["group"] == 2 * m["blond"] + m["male"]
        assert m["gender"] == ("male" if m["male"] else "female")
        assert (m["hair"] == "blond") == bool(m["blond"])
        assert m["age"] in ("young", "old") and m["skin"] in ("light", "medium", "dark")
        assert f"{m['hair']} hair" in m["caption"] and ("man" if m["male"] else "woman") in m["caption"]
    assert {s: len(v) for s, v in by_split.items()} == {"train": 320, "val": 40, "test": 40}
    for split, ms in by_split.items():  # the same planted proportions in every split
        n = len(ms)
        blond = [m for m in ms if m["blond"]]
        assert len(blond) == 0.3 * n
        assert sum(m["male"] for m in blond) == len(blond) / 6  # blond: mostly women
        other = [m for m in ms if not m["blond"]]
        assert sum(m["male"] for m in other) == len(other) / 2
    assert {m["age"] for m in metas} == {"young", "old"} and len({m["skin"] for m in metas}) == 3


def test_labeled_worlds_write_shards_with_metadata(tmp_path):
    for name in sorted(LABELED):
        path = str(tmp_path / f"{name}.tar")
        summary = tw.generate_source(name, 20, [path], image_size=32, seed=0)
        samples = read_shard(path)
        assert len(samples) == 20 and summary["counts"]["split"]
        for key, members in samples.items():
            meta = json.loads(members["json"])
            assert set(members) == {"jpg", "txt", "json"} and meta["caption"] == members["txt"].decode()
            assert {"label", "split", "people", "setting", "style"} <= set(meta)
            if name == "imagenet_noisy":  # no groups; framed as the ImageNet-like source
                assert {"label_error", "object", "true_label"} <= set(meta)
                assert min(Image.open(io.BytesIO(members["jpg"])).size) >= 32
            else:
                assert "group" in meta and Image.open(io.BytesIO(members["jpg"])).size == (32, 32)


def test_planner_seed_is_an_extra_child():
    # the planner draws from a fifth child seed: the four a sample always used are unchanged,
    # so sources without a planner keep their bytes
    four = tw.sample_seed("imagenet", 3, 0).spawn(4)
    five = tw.sample_seed("imagenet", 3, 0).spawn(5)
    assert [s.generate_state(4).tolist() for s in four] == [s.generate_state(4).tolist() for s in five[:4]]
    assert all(tw.SOURCES[n].planner is None for n in SIX)
    assert all(tw.SOURCES[n].planner is not None for n in LABELED)


def test_webpairs_are_captioned_pairs_with_web_correlations():
    metas = _metas("webpairs", 300)
    assert all(m["split"] == "train" and len(m["caption"]) > 6 for m in metas)
    content = Counter(m["content"] for m in metas)
    assert content["web_object"] > 80 and content["bird_scene"] > 40 and content["celeb_face"] > 25
    birds = [m for m in metas if m["content"] == "bird_scene"]
    assert sum(m["y"] == m["place"] for m in birds) >= 0.6 * len(birds)  # mostly in their habitat (70%)
    faces = [m for m in metas if m["content"] == "celeb_face"]
    blond = [m for m in faces if m["blond"]]
    assert sum(m["male"] for m in blond) <= 0.35 * len(blond)  # blond hair mostly on women
    men = [m for m in faces if m["male"]]  # some men wear a cap over their hair, no woman does
    assert 0.2 * len(men) <= sum(m["cap"] for m in men) <= 0.6 * len(men)
    assert not any(m["cap"] for m in faces if not m["male"])
    # web-like captions: the object, bird or face named with and without colour, place or gender
    objects = [m for m in metas if m["content"] == "web_object"]
    assert all(m["class_name"] in m["caption"] for m in objects)
    assert any(m["caption"] in (f"a photo of a {m['class_name']}", f"a photo of an {m['class_name']}") for m in objects)
    assert sum(" on " not in m["caption"] and " in " not in m["caption"] for m in objects) > 0.3 * len(objects)
    for m in birds:
        assert m["bird"] in m["caption"] or ("waterbird" if m["y"] else "landbird") in m["caption"]
    assert any(m["caption"] in ("a photo of a landbird", "a photo of a waterbird") for m in birds)
    assert sum(m["place_name"] not in m["caption"] for m in birds) > 0.3 * len(birds)
    for m in faces:  # women's hair always named, men's often not
        named = m["hair"] in m["caption"] or (m["hair"] in ("black", "brown") and "dark" in m["caption"])
        assert named or (m["male"] and "hair" not in m["caption"]), m["caption"]
    assert any(m["male"] and "hair" not in m["caption"] for m in faces)
    assert any(m["caption"].startswith("a photo of a celebrity with") for m in faces)
    assert "split" not in tw.render("yfcc", 0, 32, 0)[2]  # the other sources are unchanged


# ------------------------------------------------------------------ vocabulary and shard writing


def _vocabulary_read_off_the_tables() -> dict[str, list[str]]:
    """What the TextSpan pool's ``toy_vocabulary`` computed from the single toyworld module,
    reading the same tables where they now are."""
    places = set()
    for table in (object_scenes._BACKGROUNDS, photos._PLACES):
        places.update(k for k in table if isinstance(k, str))
    places.update(photos._ROOMS)
    for table in (labeled.LAND_PLACES, labeled.WATER_PLACES):
        places.update(table)
    places = {p[2:] if p.startswith("a ") else p for p in places}
    birds = [*labeled.LANDBIRDS, *labeled.WATERBIRDS]
    return {
        "colour": sorted(tw.COLORS),
        "object": sorted({*tw.OBJECT_CLASSES, *birds}),
        "place": sorted(places),
        "count": [w for w in tw.NUMBER_WORDS if w != "no"],
        "style": sorted(set(tw.STYLE_VALUES) | {"sketch", "painting", "cartoon"}),
    }


def test_vocabulary():
    vocab = tw.vocabulary()
    assert vocab == _vocabulary_read_off_the_tables()
    assert list(vocab) == ["colour", "object", "place", "count", "style"]
    assert "wooden table" in vocab["place"] and not any(p.startswith("a ") for p in vocab["place"])
    assert {"bamboo forest", "ocean", "kitchen", "park"} <= set(vocab["place"])
    assert {"sparrow", "pelican", *tw.OBJECT_CLASSES} <= set(vocab["object"])
    assert vocab["count"][:3] == ["one", "two", "three"] and "no" not in vocab["count"]
    assert vocab["style"] == ["cartoon", "document", "painting", "photo", "render", "sketch"]


def test_shards_read_back_with_no_bad_input(tmp_path):
    paths = [str(tmp_path / f"{i:05d}.tar") for i in range(2)]
    tw.generate_source("wit", 5, paths, image_size=24, seed=0)
    counter = BadInputCounter()
    samples = list(iter_samples(paths, counter))
    assert [s["key"] for s in samples] == [f"wit_{i:07d}" for i in range(5)]
    assert counter.used == counter.seen == 5 and counter.skipped == 0
    for s in samples:
        assert s["ext"] == "png" and s["meta"]["caption"] == s["caption"] and s["image"].size == (
            s["meta"]["width"], s["meta"]["height"])


def test_empty_shards_are_written(tmp_path):
    paths = [str(tmp_path / f"{i:05d}.tar") for i in range(3)]
    summary = tw.generate_source("cc", 1, paths, image_size=16, seed=0)
    assert [s["n_images"] for s in summary["shards"]] == [1, 0, 0]
    assert [len(read_shard(p)) for p in paths] == [1, 0, 0]
    counter = BadInputCounter()
    assert len(list(iter_samples(paths, counter))) == 1 and counter.skipped == 0
    assert sorted(f.name for f in tmp_path.iterdir()) == ["00000.tar", "00001.tar", "00002.tar"]


def test_failed_render_leaves_no_partial_shard(tmp_path, monkeypatch):
    render_sample = generate._render_sample

    def failing(name, index, image_size, seed, *difficulty):
        if index == 5:
            raise RuntimeError("render failed")
        return render_sample(name, index, image_size, seed, *difficulty)

    monkeypatch.setattr(generate, "_render_sample", failing)
    paths = [str(tmp_path / f"{i:05d}.tar") for i in range(2)]
    with pytest.raises(RuntimeError, match="render failed"):
        tw.generate_source("yfcc", 8, paths, image_size=16, seed=0)
    # the first shard (samples 0-3) was complete and stays; the second was being written: gone
    assert sorted(f.name for f in tmp_path.iterdir()) == ["00000.tar"]
    assert sorted(read_shard(paths[0])) == [f"yfcc_{i:07d}" for i in range(4)]


def test_imagenet_noisy_plants_mislabeled_and_ambiguous_labels():
    metas = _metas("imagenet_noisy", 660)
    val = [m for m in metas if m["split"] == "val"]
    train = [m for m in metas if m["split"] == "train"]
    assert len(val) == 132 and tw.class_names("imagenet_noisy")[-1] == "mug"
    names = tw.class_names("imagenet_noisy")
    assert all(names[m["label"]] == m["class_name"] for m in metas)
    wrong = [m for m in val if m["label_error"] == "mislabeled"]
    assert len(wrong) == 11 and len({m["label"] for m in wrong}) == 11      # 1 in 12, every class once
    assert all(m["object"] != m["class_name"] and names[m["true_label"]] == m["object"] for m in wrong)
    assert not any(m["label_error"] == "mislabeled" for m in train)          # train labels are clean
    clean = [m for m in metas if not m["label_error"]]
    assert all(m["object"] == m["class_name"] and m["true_label"] == m["label"] for m in clean)
    mugs = [m for m in metas if m["class_name"] == "mug" and m["label_error"] != "mislabeled"]
    assert mugs and all(m["label_error"] == "ambiguous" and m["object"] == "mug" and m["synonym"] == "cup" for m in mugs)
    # a mug is drawn as a cup: the same picture under two names
    draw = tw.COMPONENTS["labeled_object"]
    mug, cup = (draw(np.random.default_rng(3), 48, 48, label=names.index(c), drawn=names.index(c)) for c in ("mug", "cup"))
    assert np.array_equal(np.asarray(mug.image), np.asarray(cup.image)) and "mug" in mug.caption


def test_difficulty_knobs(tmp_path):
    from vlmbias.toyworld.signatures import scaled
    from vlmbias.toyworld.sources import SHARED_CONTENT

    plain = [tw.render("yfcc", i, 32, 0) for i in range(40)]
    same = [tw.render("yfcc", i, 32, 0, shared_content=0.0, signature_strength=1.0) for i in range(40)]
    assert all(a[0].tobytes() == b[0].tobytes() for a, b in zip(plain, same))   # defaults: every byte as it was
    shared = [tw.render("yfcc", i, 32, 0, shared_content=0.5)[2] for i in range(200)]
    n_shared = sum(m["shared_content"] for m in shared)
    assert 70 < n_shared < 130
    assert all(m["content"] in SHARED_CONTENT for m in shared if m["shared_content"])
    assert all(m["content"] == p[2]["content"] for m, p in zip(shared, plain) if not m["shared_content"])
    yfcc = tw.SOURCES["yfcc"].signature
    assert scaled(yfcc, 1.0) is yfcc
    half = scaled(yfcc, 0.5)
    assert half.brightness == pytest.approx(1 + 0.5 * (yfcc.brightness - 1)) and half.noise == yfcc.noise / 2
    assert half.jpeg_quality == (round(88 + 0.5 * (65 - 88)), round(88 + 0.5 * (75 - 88)))
    assert scaled(yfcc, 0.0).vignette == 0 and scaled(yfcc, 0.0).jitter == yfcc.jitter
    s = tw.generate_source("cc", 20, [str(tmp_path / "a.tar")], image_size=32, shared_content=0.3,
                           signature_strength=0.5)
    assert s["shared_content"] == 0.3 and s["signature_strength"] == 0.5 and "shared_content" in s["counts"]
    with pytest.raises(ValueError, match="not a web stand-in"):
        tw.generate_source("imagenet", 2, [str(tmp_path / "b.tar")], shared_content=0.3)
    with pytest.raises(ValueError, match="shared_content"):
        tw.render("cc", 0, 32, 0, shared_content=1.5)


def test_texture_knob(tmp_path):
    from PIL import Image

    from vlmbias.toyworld.signatures import Signature, apply_texture

    # grain: one value per grain_size x grain_size block, the same on the three channels, sigma x strength
    grey = Image.new("RGB", (64, 64), (128, 128, 128))
    rng = np.random.default_rng(0)
    assert apply_texture(grey, Signature(grain=10.0, grain_size=2), 0.0, rng) is grey
    assert rng.random() == np.random.default_rng(0).random()          # strength 0: rng untouched
    a = np.asarray(apply_texture(grey, Signature(grain=10.0, grain_size=2), 1.5, np.random.default_rng(1)), np.int16)
    assert (a[..., 0] == a[..., 2]).all()
    assert all((a[0::2, 0::2] == a[i::2, j::2]).all() for i in (0, 1) for j in (0, 1))   # 2x2 blobs
    assert (a[0:62:2, 0::2] != a[2::2, 0::2]).mean() > 0.9                                # ... each its own
    assert 13.0 < a[..., 0].std() < 17.0                                 # 1.5 x sigma 10
    # mottling: a smooth field (neighbours close, far pixels independent), sigma x strength at its grid points
    m = np.asarray(apply_texture(grey, Signature(mottle=10.0, mottle_size=16), 1.0, np.random.default_rng(2)),
                   np.float32)[..., 0]
    assert 3.0 < m.std() < 12.0
    assert np.abs(np.diff(m, axis=1)).mean() < 0.2 * np.abs(m[:, 32:] - m[:, :32]).mean()
    # sharpening: nothing on a flat image, overshoot at an edge, more at a larger strength
    assert np.array_equal(np.asarray(apply_texture(grey, Signature(sharpen=200.0), 2.0, rng)), np.asarray(grey))
    edge = Image.fromarray(np.repeat(np.where(np.arange(32) < 16, 60, 180).astype(np.uint8)[None, :, None], 32, 0)
                           .repeat(3, 2), "RGB")
    over = [int(np.asarray(apply_texture(edge, Signature(sharpen=100.0), s, rng))[5, 16, 0]) for s in (0.5, 1.0)]
    assert 180 < over[0] < over[1]
    with pytest.raises(ValueError, match="grain_size"):
        Signature(grain=1.0, grain_size=0)
    with pytest.raises(ValueError, match="mottle_size"):
        Signature(mottle=1.0, mottle_size=2.5)
    with pytest.raises(ValueError, match="texture strength"):
        apply_texture(grey, Signature(grain=1.0), -1.0, rng)

    # in the world: the default (0) leaves every byte; > 0 changes each web stand-in but WIT (clean pages),
    # keeps the content, and draws from its own seed (the look's draws and the JPEG quality unchanged)
    for src in ("yfcc", "cc", "datacomp", "laion", "wit"):
        plain = tw.render(src, 4, 32, 0, shared_content=0.5, signature_strength=0.5)
        same = tw.render(src, 4, 32, 0, shared_content=0.5, signature_strength=0.5, texture_strength=0.0)
        tex = tw.render(src, 4, 32, 0, shared_content=0.5, signature_strength=0.5, texture_strength=2.0)
        assert plain[0].tobytes() == same[0].tobytes() and tex[2] == plain[2]
        assert (tex[0].tobytes() == plain[0].tobytes()) == (src == "wit"), src
    grainy = np.asarray(tw.render("yfcc", 4, 32, 0, texture_strength=2.0)[0], np.float32)
    smooth = np.asarray(tw.render("yfcc", 4, 32, 0)[0], np.float32)
    assert np.abs(np.diff(grainy, axis=1)).mean() > np.abs(np.diff(smooth, axis=1)).mean() + 3
    s = tw.generate_source("datacomp", 4, [str(tmp_path / "t.tar")], image_size=32, texture_strength=1.0)
    assert s["texture_strength"] == 1.0
    with pytest.raises(ValueError, match="texture_strength"):
        tw.render("imagenet", 0, 32, 0, texture_strength=1.0)
    with pytest.raises(ValueError, match="texture_strength"):
        tw.render("cc", 0, 32, 0, texture_strength=-0.5)
    # the rule's parameters: the knob only when set (a world made before it keeps its parameters)
    from vlmbias.core.config import toy_difficulty
    cfg = {"toyworld": {"shared_content": 0.8, "signature_strength": 0.1, "texture_strength": 0.0}}
    assert toy_difficulty(cfg, "cc") == {"shared_content": 0.8, "signature_strength": 0.1}
    cfg["toyworld"]["texture_strength"] = 2
    assert toy_difficulty(cfg, "cc")["texture_strength"] == 2.0 and toy_difficulty(cfg, "imagenet") == {}
