"""Tests of vlmbias.shards.sampler: the seeded, streaming Liu & He sampling protocol."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import vlmbias.shards.sampler as sampling
from shardutil import assert_balanced, image_bytes, make_dataset
from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.shards.sampler import INDEX_COLUMNS, load_index, sample_dataset, sample_priority, split_frame
from vlmbias.shards.reader import (
    BadInputCounter,
    BadInputError,
    ImageDecodeError,
    ShardError,
    decode_image,
    iter_samples,
    read_member,
    scan_shard,
)
from vlmbias.toyworld import generate_source

# (24,16) and (16,20) stay as they are with max_side 20; (40,30) and (64,48) shrink.
SIZES = ((24, 16), (40, 30), (16, 20), (64, 48))


def run(shards, out, n_train=20, n_val=6, seed=0, **kw):
    kw = {"max_side": 20, "max_bad_fraction": 0.1, "samples_per_shard": 8, "progress": False, **kw}
    return sample_dataset("toy", shards, str(out), n_train=n_train, n_val=n_val, seed=seed, **kw)


@pytest.fixture
def shards(tmp_path):
    return make_dataset(tmp_path / "raw", 3, 24, sizes=SIZES)


def expected_selection(shards, name, seed, n_val, n_train, source_split="train"):
    """Brute-force oracle: all eligible samples in priority order, decodable ones split val-first."""
    ranks = {p: r for r, p in enumerate(sorted(shards))}
    pool = []
    for path in shards:
        for pos, ref in enumerate(scan_shard(path, BadInputCounter())):
            if (ref.meta or {}).get("split", source_split) != source_split:
                continue
            pool.append(((sample_priority(seed, name, path, ref.key), ranks[path], pos), path, ref))
    chosen = []
    for _, path, ref in sorted(pool, key=lambda t: t[0]):
        try:
            decode_image(read_member(path, *ref.members[ref.image_ext]))
        except ImageDecodeError:
            continue
        chosen.append((path, ref.key))
    return chosen[:n_val], chosen[n_val:n_val + n_train]


def selection(frame, split):
    part = frame[frame["split"] == split].sort_values("rank")
    return list(zip(part["source_shard"], part["source_key"]))


def test_index_contract_and_outputs(shards, tmp_path):
    out = tmp_path / "out"
    frame = run(shards, out)
    assert tuple(frame.columns) == INDEX_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items() if c in ("rank", "label", "offset", "resized")} == {
        "rank": "int64", "label": "Int64", "offset": "int64", "resized": "bool"}
    pd.testing.assert_frame_equal(frame, load_index(str(out)))
    assert (frame["split"] == "val").sum() == 6 and (frame["split"] == "train").sum() == 20
    for split in ("val", "train"):
        part = frame[frame["split"] == split]
        assert part["rank"].tolist() == list(range(len(part)))
        assert part["key"].tolist() == [f"toy-{split}-{r:08d}" for r in part["rank"]]
    assert not set(selection(frame, "val")) & set(selection(frame, "train"))
    assert sorted(os.listdir(out / "shards")) == ["train-00000.tar", "train-00001.tar", "train-00002.tar",
                                                  "val-00000.tar"]
    assert set(frame["shard"]) == {"shards/val-00000.tar", "shards/train-00000.tar", "shards/train-00001.tar",
                                   "shards/train-00002.tar"}

    sources = {(r.shard, r.key): r for p in shards for r in scan_shard(p, BadInputCounter())}
    for row in frame.itertuples():
        data = read_member(str(out / row.shard), row.offset, row.size)
        assert decode_image(data).size == (row.width, row.height)
        src = sources[(row.source_shard, row.source_key)]
        src_bytes = read_member(src.shard, *src.members[src.image_ext])
        src_w, src_h = decode_image(src_bytes).size
        if min(src_w, src_h) > 20:  # downscaled: shorter side == max_side, aspect kept, png
            assert row.resized and row.ext == "png" and min(row.width, row.height) == 20
            assert abs(row.width / row.height - src_w / src_h) < 0.05
        else:  # never upscaled, never re-encoded: the very source bytes
            assert not row.resized and data == src_bytes and row.ext == src.image_ext
            assert (row.width, row.height) == (src_w, src_h)
        assert row.label == src.meta["label"] and json.loads(row.metadata) == src.meta
        assert row.caption == f"caption {src.meta['idx']}"
    assert frame["resized"].any() and not frame["resized"].all()

    written = list(iter_samples(str(out / "shards" / "*.tar"), BadInputCounter()))
    assert len(written) == 26
    by_key = frame.set_index("key")
    for s in written:
        row = by_key.loc[s["key"]]
        assert s["meta"]["dataset"] == "toy" and s["meta"]["split"] == row["split"]
        source = (s["meta"]["source_shard"], s["meta"]["source_key"])
        assert source == (row["source_shard"], row["source_key"])
        assert s["caption"] == row["caption"] and s["ext"] == row["ext"]

    report = json.loads((out / "bad_input.json").read_text())
    assert_balanced(report)
    assert (report["n_train"], report["n_val"], report["seed"], report["dataset"]) == (20, 6, 0, "toy")
    assert report["seen"] == 72 and report["used"] == 26 and report["unsampled"] == 46


def test_selection_is_the_priority_order(shards, tmp_path):
    frame = run(shards, tmp_path / "out", seed=7)
    val, train = expected_selection(shards, "toy", 7, 6, 20)
    assert selection(frame, "val") == val and selection(frame, "train") == train


def test_deterministic_and_seed_dependent(shards, tmp_path):
    a = run(shards, tmp_path / "a", seed=3)
    b = run(list(reversed(shards)), tmp_path / "b", seed=3)  # shard order does not matter
    pd.testing.assert_frame_equal(a.sort_values("key").reset_index(drop=True),
                                  b.sort_values("key").reset_index(drop=True))
    c = run(shards, tmp_path / "c", seed=3)
    pd.testing.assert_frame_equal(a, c)
    for name in os.listdir(tmp_path / "a" / "shards"):
        assert (tmp_path / "a/shards" / name).read_bytes() == (tmp_path / "c/shards" / name).read_bytes()
    d = run(shards, tmp_path / "d", seed=4)
    assert set(selection(a, "train")) != set(selection(d, "train"))
    assert set(selection(a, "val")) != set(selection(d, "val"))


def test_val_fixed_and_train_prefix_when_n_train_grows(shards, tmp_path):
    small = run(shards, tmp_path / "small", n_train=10, n_val=6)
    large = run(shards, tmp_path / "large", n_train=30, n_val=6)
    cols = ["key", "source_shard", "source_key", "offset", "size", "width", "height"]
    pd.testing.assert_frame_equal(small[small["split"] == "val"][cols], large[large["split"] == "val"][cols])
    assert selection(large, "train")[:10] == selection(small, "train")
    val_tar = "shards/val-00000.tar"
    assert (tmp_path / "small" / val_tar).read_bytes() == (tmp_path / "large" / val_tar).read_bytes()
    # split_frame gives the same prefix from the larger index
    pd.testing.assert_frame_equal(split_frame(large, "train", 10), split_frame(small, "train"))
    with pytest.raises(ShardError, match=r"dataset 'toy' has 10 train images.*12 asked"):
        split_frame(small, "train", 12)


def test_predefined_split_respected(tmp_path):
    shards = make_dataset(tmp_path / "raw", 2, 30, split_of=lambda i: "val" if i % 3 == 0 else "train")
    frame = run(shards, tmp_path / "out", n_train=30, n_val=8)
    idx = frame["metadata"].map(lambda m: json.loads(m)["idx"])
    assert len(frame) == 38 and (idx % 3 != 0).all()
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert report["unsampled"] == 60 - 38 and report["used"] == 38
    with pytest.raises(ShardError, match=r"dataset 'toy' has only 40 eligible decodable images, 41 needed"):
        run(shards, tmp_path / "out2", n_train=33, n_val=8)
    everything = run(shards, tmp_path / "out3", n_train=50, n_val=10, source_split=None)
    assert len(everything) == 60


def test_jpeg_re_encoding_and_stale_shards_removed(shards, tmp_path):
    out = tmp_path / "out"
    run(shards, out, n_train=30, n_val=2, samples_per_shard=4)
    assert len(os.listdir(out / "shards")) == 8 + 1
    frame = run(shards, out, n_train=6, n_val=2, samples_per_shard=4, resized_format="jpeg", jpeg_quality=80)
    assert sorted(os.listdir(out / "shards")) == ["train-00000.tar", "train-00001.tar", "val-00000.tar"]
    resized = frame[frame["resized"]]
    assert len(resized) and (resized["ext"] == "jpg").all()
    for row in resized.itertuples():
        assert read_member(str(out / row.shard), row.offset, 3) == b"\xff\xd8\xff"


def test_candidates_refilled_when_many_are_undecodable(tmp_path, monkeypatch):
    good = [image_bytes(24, 16, seed=s) for s in range(5)]

    def members(i):
        return {"png": b"broken" if i % 2 else good[i % 5], "json": json.dumps({"idx": i}).encode()}

    shards = make_dataset(tmp_path / "raw", 4, 50, members_of=members)
    calls = []
    real = sampling._collect_candidates
    monkeypatch.setattr(sampling, "_collect_candidates", lambda *a, **k: calls.append(1) or real(*a, **k))
    frame = run(shards, tmp_path / "out", n_train=15, n_val=5, max_bad_fraction=0.3, seed=1)
    assert len(calls) >= 2  # the first candidate pool (K = 20 + 6 + 8) ran dry
    val, train = expected_selection(shards, "toy", 1, 5, 15)
    assert selection(frame, "val") == val and selection(frame, "train") == train
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert_balanced(report)
    assert report["seen"] == 200 and report["used"] == 20
    assert report["skipped_by_reason"]["undecodable_image"] > 14


def test_corrupt_shard_past_threshold_names_it(shards, tmp_path):
    garbage = tmp_path / "raw" / "00099.tar"
    garbage.write_bytes(b"\x00garbage" * 300)
    with pytest.raises(BadInputError, match=r"toy.*1 of 4 shards unreadable.*00099\.tar.*max_bad_fraction|"
                                            r"max_bad_fraction=0\.1.*1 of 4 shards unreadable.*00099\.tar"):
        run(shards + [str(garbage)], tmp_path / "out")
    frame = run(shards + [str(garbage)], tmp_path / "out2", max_bad_fraction=0.3)  # 25% allowed
    assert len(frame) == 26
    report = json.loads((tmp_path / "out2" / "bad_input.json").read_text())
    assert_balanced(report)
    assert report["shards_with_skips"][0]["shard"] == str(garbage)


def test_undecodable_images_past_threshold_name_the_shard(tmp_path):
    def members(i):
        broken = i >= 40  # every image of the third shard
        return {"png": b"broken" if broken else image_bytes(16, 16, seed=i), "json": b"{}"}

    shards = make_dataset(tmp_path / "raw", 3, 20, members_of=members)
    with pytest.raises(BadInputError, match=r"sampling dataset 'toy'.*00002\.tar \(undecodable_image="):
        run(shards, tmp_path / "out", n_train=50, n_val=5, max_bad_fraction=0.1)


def test_truncated_shard_keeps_complete_samples(shards, tmp_path):
    with open(shards[1], "r+b") as f:
        f.truncate(os.path.getsize(shards[1]) // 2)
    frame = run(shards, tmp_path / "out", max_bad_fraction=0.05)
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert_balanced(report)
    assert report["skipped_by_reason"]["truncated_tar"] == 1
    assert 50 < report["seen"] < 72 and len(frame) == 26
    assert (frame["source_shard"] == shards[1]).any()  # its complete samples are still drawn


def test_argument_checks(shards, tmp_path):
    with pytest.raises(ValueError, match="dataset name"):
        sample_dataset("a.b", shards, str(tmp_path), 1, 1, 0, 20, 0.1, progress=False)
    with pytest.raises(ValueError, match="resized_format"):
        run(shards, tmp_path / "o", resized_format="gif")
    with pytest.raises(ShardError, match="does not exist"):
        run([str(tmp_path / "missing.tar")], tmp_path / "o")
    own = tmp_path / "o2" / "shards" / "train-00000.tar"  # an input where the output goes
    os.makedirs(own.parent)
    own.write_bytes(open(shards[0], "rb").read())
    with pytest.raises(ValueError, match="holds input shards"):
        run([str(own)], tmp_path / "o2", n_train=1, n_val=1)
    assert own.exists()


def test_memory_does_not_grow_with_the_number_of_images(tmp_path):
    pngs = [image_bytes(24 + s, 30, seed=s) for s in range(7)]
    pad = "u" * 300  # metadata of realistic size, so that keeping every sample would show

    def members(i):
        return {"png": pngs[i % 7], "txt": b"a caption", "json": json.dumps({"idx": i, "url": pad}).encode()}

    small = make_dataset(tmp_path / "small", 4, 100, members_of=members)
    large = make_dataset(tmp_path / "large", 4, 800, members_of=members)

    def peak(shards, out):
        tracemalloc.start()
        sample_dataset("toy", shards, str(tmp_path / out), 16, 4, 0, 20, 0.1, progress=False)
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result

    peak(small, "warm")  # imports and caches
    p_small, p_large = peak(small, "s"), peak(large, "l")
    limit = 1.5 * p_small + 64 * 1024
    assert p_large < limit, (p_small, p_large)
    # The control: merely holding the large set's sample references would break the limit.
    tracemalloc.start()
    refs = [r for p in large for r in scan_shard(p, BadInputCounter())]
    control = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(refs) == 3200 and control > limit, (control, limit)


# ---------------------------------------------------------------- a dataset's own splits kept


def three_way(i):
    return ("train", "train", "val", "test", "other")[i % 5] if i % 7 else None  # some without a split


def test_own_splits_are_kept_with_per_split_counts(tmp_path):
    shards = make_dataset(tmp_path / "raw", 3, 30, split_of=three_way)
    frame = run(shards, tmp_path / "out", splits={"train": 20, "val": 10, "test": 8})
    assert frame.groupby("split").size().to_dict() == {"test": 8, "train": 20, "val": 10}
    for split in ("train", "val", "test"):  # every image comes from the source split of its name
        part = frame[frame["split"] == split]
        assert part["metadata"].map(lambda m: json.loads(m)["split"]).eq(split).all()
        assert part["rank"].tolist() == list(range(len(part)))
        assert part["key"].tolist() == [f"toy-{split}-{r:08d}" for r in part["rank"]]
        # the selection is the priority order within the source split
        ranks = {p: r for r, p in enumerate(sorted(shards))}
        pool = sorted((sample_priority(0, "toy", p, ref.key), ranks[p], pos, p, ref.key)
                      for p in shards for pos, ref in enumerate(scan_shard(p, BadInputCounter()))
                      if (ref.meta or {}).get("split") == split)
        assert selection(frame, split) == [(p, k) for *_, p, k in pool[:len(part)]]
    assert sorted(os.listdir(tmp_path / "out" / "shards")) == ["test-00000.tar", "train-00000.tar",
                                                               "train-00001.tar", "train-00002.tar",
                                                               "val-00000.tar", "val-00001.tar"]
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert_balanced(report)
    assert report["splits"] == {"train": 20, "val": 10, "test": 8} and report["n_train"] is None
    assert report["used"] == 38 and report["seen"] == 90 and report["unsampled"] == 52
    # the written samples carry their split; an empty split is allowed and writes nothing
    written = list(iter_samples(str(tmp_path / "out" / "shards" / "*.tar"), BadInputCounter()))
    assert sorted(s["meta"]["split"] for s in written) == sorted(frame["split"])
    only_val = run(shards, tmp_path / "v", splits={"val": 10, "test": 0})
    assert set(only_val["split"]) == {"val"}
    pd.testing.assert_frame_equal(only_val[["source_shard", "source_key"]],
                                  frame[frame["split"] == "val"][["source_shard", "source_key"]].reset_index(drop=True))


def test_own_splits_too_few_and_bad_names(tmp_path):
    shards = make_dataset(tmp_path / "raw", 2, 20, split_of=three_way)
    with pytest.raises(ShardError, match=r"dataset 'toy' has too few eligible decodable images in its own "
                                         r"splits \('test': \d+ of 50\)"):
        run(shards, tmp_path / "out", splits={"train": 5, "test": 50})
    with pytest.raises(ValueError, match="split names"):
        run(shards, tmp_path / "o", splits={"tr/ain": 5})
    with pytest.raises(ValueError, match="at least one image"):
        run(shards, tmp_path / "o", splits={"train": 0})


def test_own_splits_refilled_when_many_are_undecodable(tmp_path, monkeypatch):
    good = [image_bytes(24, 16, seed=s) for s in range(5)]

    def members(i):
        meta = {"idx": i, "split": "test" if i % 2 else "train"}
        return {"png": b"broken" if i % 4 == 1 else good[i % 5], "json": json.dumps(meta).encode()}

    shards = make_dataset(tmp_path / "raw", 2, 60, members_of=members)
    frame = run(shards, tmp_path / "out", splits={"train": 30, "test": 25}, max_bad_fraction=0.5)
    assert frame.groupby("split").size().to_dict() == {"test": 25, "train": 30}
    assert assert_balanced(json.loads((tmp_path / "out" / "bad_input.json").read_text())) is None


# ------------------------------------------------------------------ extra members (UrbanCars-like masks)


def _members(path) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            key, ext = m.name.split(".", 1)
            out.setdefault(key, {})[ext] = tf.extractfile(m).read()
    return out


@pytest.mark.parametrize("max_side", [32, 64])
def test_extra_members_carried_and_resized_with_the_image(tmp_path, max_side):
    raw = [str(tmp_path / "raw" / f"{i:05d}.tar") for i in range(2)]
    generate_source("urbancars", 40, raw, image_size=64, seed=0)
    source = {**_members(raw[0]), **_members(raw[1])}
    frame = run(raw, tmp_path / "out", max_side=max_side, splits={"train": 8, "val": 3, "test": 3})
    assert frame["resized"].all() == (max_side == 32)
    written = {}
    for p in sorted((tmp_path / "out" / "shards").glob("*.tar")):
        written.update(_members(p))
    assert len(written) == 14
    extras = ("car_mask.png", "coobj_mask.png", "bg_only.png")
    for row in frame.itertuples(index=False):
        out, src = written[row.key], source[row.source_key]
        assert set(out) == {row.ext, "txt", "json", *extras}
        size = (row.width, row.height)
        assert size == (max_side, max_side)
        for name in extras:
            image = Image.open(io.BytesIO(out[name]))
            assert image.format == "PNG" and image.size == size
            original = Image.open(io.BytesIO(src[name]))
            if max_side == 64:  # not resized: the very bytes
                assert out[name] == src[name]
            elif name.endswith("mask.png"):  # masks: nearest, still binary
                assert image.mode == "L" and set(np.unique(np.asarray(image))) <= {0, 255}
                assert np.array_equal(np.asarray(image), np.asarray(original.resize(size, Image.Resampling.NEAREST)))
            else:
                assert image.mode == "RGB"
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert report["skipped"] == 0 and report["used"] == 14
    # read back through the dataset: by full member name or without its image extension
    records, rows = labeled_split(str(tmp_path / "out"), "train")
    ds = ShardImageDataset(records, None, cache_images=True)
    for i in (0, 7):
        mask = ds.extra(i, "car_mask")
        assert mask.mode == "L" and mask.size == ds.image(i).size
        assert mask.tobytes() == Image.open(io.BytesIO(written[rows["key"][i]]["car_mask.png"])).tobytes()
        assert ds.extra(i, "bg_only.png").mode == "RGB" and ds.extra(i, "car_mask") is mask
    with pytest.raises(ShardError, match=r"has no member 'depth'.*car_mask\.png"):
        ds.extra(0, "depth")


def test_undecodable_extra_image_skips_the_sample_when_resizing(tmp_path):
    path = str(tmp_path / "raw" / "00000.tar")  # make_dataset's names: the first in priority order is broken
    broken = min(range(10), key=lambda i: sample_priority(0, "toy", path, f"00000{i:04d}"))

    def members(i):
        return {"png": image_bytes(40, 30, seed=i), "json": json.dumps({"idx": i}).encode(),
                "mask.png": b"broken" if i == broken else image_bytes(40, 30, seed=i), "note.txt": b"kept as is"}

    shards = make_dataset(tmp_path / "raw", 1, 10, members_of=members)
    frame = run(shards, tmp_path / "out", n_train=9, n_val=0, max_bad_fraction=0.2)
    assert broken not in frame["metadata"].map(lambda m: json.loads(m)["idx"]).tolist()
    report = json.loads((tmp_path / "out" / "bad_input.json").read_text())
    assert report["skipped_by_reason"]["undecodable_image"] == 1
    assert "mask.png" in report["shards_with_skips"][0]["detail"]
    out = _members(next((tmp_path / "out" / "shards").glob("train-*.tar")))
    assert all(m["note.txt"] == b"kept as is" and Image.open(io.BytesIO(m["mask.png"])).size == (26, 20)
               for m in out.values())


def test_odd_content_decided_once_at_sampling(tmp_path):
    """Real-world content (issue: a 16-bit grey PNG sampled as near-white, transparency dropped,
    a key written twice sampled twice): a 16-bit image small enough to keep its size is scaled
    and stored as 8-bit, a transparent one composited onto ``alpha_background`` and stored so,
    a plain small image keeps its bytes, and a duplicated key is sampled once and counted."""
    ramp = np.linspace(0, 65535, 16 * 12).round().astype(np.uint16).reshape(12, 16)
    rgba = Image.new("RGBA", (16, 12), (255, 0, 0, 0))
    rgba.putpixel((3, 4), (0, 255, 0, 255))

    def png(image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()

    plain = image_bytes(16, 12, "JPEG", seed=5)
    raw = tmp_path / "odd.tar"
    with tarfile.open(raw, "w") as tf:
        for name, data in (("g16.png", png(Image.fromarray(ramp))), ("g16.json", b'{"kind": "16-bit"}'),
                           ("plain.jpg", plain), ("plain.json", b'{"kind": "plain"}'),
                           ("alpha.png", png(rgba)), ("alpha.json", b'{"kind": "rgba"}'),
                           ("plain.png", image_bytes(16, 12, seed=6)), ("plain.txt", b"plain again")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    frame = run([str(raw)], out, n_train=2, n_val=1, alpha_background=(0, 0, 64), max_bad_fraction=0.5)
    assert sorted(frame["source_key"]) == ["alpha", "g16", "plain"]
    got = {}
    for row in frame.itertuples():
        got[row.source_key] = (read_member(str(out / row.shard), row.offset, row.size), row.ext)
    g16 = np.asarray(Image.open(io.BytesIO(got["g16"][0])))
    assert got["g16"][1] == "png" and g16.dtype == np.uint8 and np.abs(g16[..., 0] - ramp / 257).max() <= 0.5
    alpha = np.asarray(Image.open(io.BytesIO(got["alpha"][0])))
    assert alpha.shape == (12, 16, 3) and alpha[0, 0].tolist() == [0, 0, 64] and alpha[4, 3].tolist() == [0, 255, 0]
    assert got["plain"] == (plain, "jpg")  # 8-bit, opaque and small: its bytes as they were
    bad = json.load(open(out / "bad_input.json"))
    assert bad["skipped_by_reason"]["duplicate_key"] == 1 and bad["seen"] == 4
    with pytest.raises(ValueError, match="alpha_background"):
        run([str(raw)], tmp_path / "o2", n_train=2, n_val=1, alpha_background=(0, 0, 256))


def _chunked(shards, out, n_chunks, seed=0, **kw):
    """The sample drawn from ``n_chunks`` scan_chunk files, as rule sample does."""
    scans = []
    for c in range(n_chunks):
        path = str(out) + f".scan{c}.parquet"
        sampling.scan_chunk("toy", shards, c, n_chunks, path, seed=seed, n_train=kw.get("n_train", 20),
                            n_val=kw.get("n_val", 6), max_bad_fraction=kw.get("max_bad_fraction", 0.1),
                            splits=kw.get("splits"), progress=False)
        scans.append(path)
    return run(shards, out, seed=seed, scans=scans, **kw)


def _files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("n_chunks", [1, 2, 3])
def test_chunked_scan_equals_single_job(tmp_path, n_chunks):
    """Chunks of the header pass merge into exactly the single job's sample: index, shards and
    bad-input counts byte for byte, bad input spread over chunks included."""
    def members(i):
        if i % 17 == 3:
            return {"txt": b"no image"}
        if i % 23 == 5:
            return {"png": image_bytes(24, 16, seed=i), "json": b"{not json"}
        if i % 19 == 7:
            return {"png": b"broken", "json": b"{}"}
        return {"png": image_bytes(40, 30, seed=i), "txt": b"c", "json": json.dumps({"label": i % 3}).encode()}

    shards = make_dataset(tmp_path / "raw", 5, 30, members_of=members)
    with open(shards[3], "r+b") as f:  # a truncated shard in the middle
        f.truncate(os.path.getsize(shards[3]) // 2)
    run(shards, tmp_path / "single", max_bad_fraction=0.4)
    _chunked(shards, tmp_path / "chunked", n_chunks, max_bad_fraction=0.4)
    single, chunked = _files(tmp_path / "single"), _files(tmp_path / "chunked")
    assert set(single) == set(chunked) and "bad_input.json" in single
    assert single == chunked


def test_chunked_scan_refills_like_single_job(tmp_path):
    """The re-scan when candidates run out (many undecodable) gives the single job's sample."""
    good = [image_bytes(24, 16, seed=s) for s in range(5)]

    def members(i):
        return {"png": b"broken" if i % 2 else good[i % 5], "json": json.dumps({"idx": i}).encode()}

    shards = make_dataset(tmp_path / "raw", 4, 50, members_of=members)
    run(shards, tmp_path / "single", n_train=15, n_val=5, max_bad_fraction=0.3, seed=1)
    _chunked(shards, tmp_path / "chunked", 3, n_train=15, n_val=5, max_bad_fraction=0.3, seed=1)
    assert _files(tmp_path / "single") == _files(tmp_path / "chunked")


def test_chunked_scan_keeps_own_splits_and_refuses_a_missing_chunk(tmp_path):
    shards = make_dataset(tmp_path / "raw", 4, 12, split_of=lambda i: ("train", "val", "test")[i % 3])
    splits = {"train": 8, "val": 4, "test": 3}
    run(shards, tmp_path / "single", splits=splits)
    _chunked(shards, tmp_path / "chunked", 2, splits=splits)
    assert _files(tmp_path / "single") == _files(tmp_path / "chunked")
    path = str(tmp_path / "one.parquet")
    sampling.scan_chunk("toy", shards, 0, 2, path, seed=0, n_train=20, n_val=6, max_bad_fraction=0.1,
                        progress=False)
    with pytest.raises(ShardError, match="do not cover"):
        run(shards, tmp_path / "partial", scans=[path])


def test_fast_priority_equals_sample_priority():
    for key in ("00000001", "a/b/c", "ключ", "k\udcff"):
        assert sampling._shard_priority(7, "toy", "/x/00001.tar")(key) == sample_priority(7, "toy", "/y/00001.tar", key)
