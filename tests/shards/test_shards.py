"""Tests of vlmbias.shards.reader and .writer: pattern expansion, tar scanning, bad-input counting, reading, writing."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from shardutil import assert_balanced, image_bytes, make_dataset, sample, write_shard
from vlmbias.shards.reader import (
    REASONS,
    BadInputCounter,
    BadInputError,
    ImageDecodeError,
    ShardError,
    decode_image,
    expand_shards,
    iter_samples,
    read_member,
    scan_shard,
    to_rgb,
)
from vlmbias.shards.writer import ShardWriter


def scan_all(paths, read_json=True):
    """Scan shards, count every yielded sample as used; return (refs, report)."""
    counter = BadInputCounter()
    refs = []
    for path in paths:
        for ref in scan_shard(str(path), counter, read_json=read_json):
            counter.use(ref.shard)
            refs.append(ref)
    report = counter.to_dict()
    assert_balanced(report)
    return refs, report, counter


# --------------------------------------------------------------------------- expand_shards


def test_expand_braces_globs_dedup_order(tmp_path):
    for i in range(4):
        (tmp_path / f"{i:05d}.tar").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    d = str(tmp_path)
    got = expand_shards([f"{d}/{{00002..00003}}.tar", f"{d}/*.tar", f"{d}/00001.tar"])
    assert got == [f"{d}/00002.tar", f"{d}/00003.tar", f"{d}/00000.tar", f"{d}/00001.tar"]
    assert expand_shards(f"{d}/0000[13].tar") == [f"{d}/00001.tar", f"{d}/00003.tar"]
    assert expand_shards(f"{d}/*") == [f"{d}/{i:05d}.tar" for i in range(4)]  # folders left out


def test_expand_errors_name_the_path(tmp_path):
    d = str(tmp_path)
    (tmp_path / "00000.tar").write_bytes(b"")
    with pytest.raises(ShardError, match=r"does not exist: .*00001\.tar \(from pattern"):
        expand_shards(f"{d}/{{00000..00001}}.tar")
    with pytest.raises(ShardError, match=r"glob matches no file: .*/nothing-\*\.tar"):
        expand_shards([f"{d}/00000.tar", f"{d}/nothing-*.tar"])
    with pytest.raises(ShardError, match="is not a file"):
        expand_shards(d)
    with pytest.raises(ShardError, match="no shard paths"):
        expand_shards([])
    with pytest.raises(ShardError, match="no shard paths"):
        expand_shards(f"{d}/x-*.tar", must_exist=False)
    assert issubclass(ShardError, ValueError)
    # without must_exist, plain paths are kept as they are
    kept = expand_shards(f"{d}/{{00000..00001}}.tar", must_exist=False)
    assert kept == [f"{d}/00000.tar", f"{d}/00001.tar"]


# --------------------------------------------------------------------------- ShardWriter


def test_writer_deterministic_rolling_and_offsets(tmp_path):
    samples = [(f"k{i:03d}", sample(i, 20 + i, 16, "JPEG" if i % 2 else "PNG")) for i in range(7)]

    def write(folder):
        with ShardWriter(str(tmp_path / folder / "train-%05d.tar"), maxcount=3) as w:
            for key, members in samples:
                w.write(key, members)
        return w

    a, b = write("a"), write("b")
    assert [os.path.basename(p) for p in a.paths] == ["train-00000.tar", "train-00001.tar", "train-00002.tar"]
    assert a.count == 7 and len(a.records) == 7
    for pa, pb in zip(a.paths, b.paths):
        assert open(pa, "rb").read() == open(pb, "rb").read()
    with tarfile.open(a.paths[0]) as tf:
        infos = tf.getmembers()
    assert [i.name for i in infos] == ["k000.png", "k000.txt", "k000.json", "k001.jpg", "k001.txt",
                                       "k001.json", "k002.png", "k002.txt", "k002.json"]
    assert {(i.mtime, i.uid, i.gid, i.uname, i.gname, i.mode) for i in infos} == {(0, 0, 0, "", "", 0o644)}
    for rec, (key, members) in zip(a.records, samples):
        assert rec.key == key and rec.shard == a.paths[int(key[1:]) // 3]
        assert read_member(rec.shard, rec.offset, rec.size) == members[rec.ext]
    with pytest.raises(ValueError, match="closed"):
        a.write("k999", {"png": b"x"})


def test_writer_rejects_keys_that_would_not_read_back(tmp_path):
    with ShardWriter(str(tmp_path / "x.tar")) as w:
        for key, ext in (("a.b", "png"), ("", "png"), ("a", ""), ("a", "x/y")):
            with pytest.raises(ValueError):
                w.write(key, {ext: b"1"})
        with pytest.raises(ValueError, match="no members"):
            w.write("a", {})
    with pytest.raises(ValueError, match="%d"):
        ShardWriter(str(tmp_path / "fixed.tar"), maxcount=5)


def test_read_member_short_read(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    assert read_member(str(path), 2, 3) == b"234"
    with pytest.raises(ShardError, match="f.bin"):
        read_member(str(path), 8, 5)


# --------------------------------------------------------------------------- scan_shard


def test_scan_good_shard(tmp_path):
    (path,) = make_dataset(tmp_path, 1, 5)
    refs, report, _ = scan_all([path])
    assert [r.key for r in refs] == [f"00000{j:04d}" for j in range(5)]
    assert refs[1].image_ext == "jpg" and refs[0].image_ext == "png"
    assert list(refs[0].members) == ["png", "txt", "json"]
    assert refs[2].meta == {"label": 2, "idx": 2}
    off, size = refs[3].members["txt"]
    assert read_member(path, off, size) == b"caption 3"
    assert report["seen"] == report["used"] == 5 and report["skipped"] == 0
    refs_nojson, _, _ = scan_all([path], read_json=False)
    assert all(r.meta is None for r in refs_nojson)


def test_scan_groups_like_webdataset(tmp_path):
    """Directory part kept in the key, extension case folded, odd members ignored."""
    path = tmp_path / "odd.tar"
    with tarfile.open(path, "w") as tf:
        def add(name, data=b"x"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        dir_info = tarfile.TarInfo("d")
        dir_info.type = tarfile.DIRTYPE
        tf.addfile(dir_info)
        add("d/a.JPG", image_bytes(8, 8, "JPEG"))
        add("d/a.seg.png")  # extension "seg.png": not an image member
        add("README")  # no extension: ignored, does not split the sample
        add("d/a.cls", b"3")
        add("d/b.cls", b"4")  # a sample with no image
        add("._c.jpg")  # hidden file: ignored
    refs, report, _ = scan_all([path])
    assert [(r.key, list(r.members)) for r in refs] == [("d/a", ["jpg", "seg.png", "cls"])]
    assert report["skipped_by_reason"]["missing_image"] == 1 and report["seen"] == 2


def test_scan_bad_samples_each_counted_under_its_reason(tmp_path):
    path = str(tmp_path / "bad.tar")
    good = sample(0)
    write_shard(path, [
        ("a0", good),
        ("a1", {"txt": b"no image here", "json": b"{}"}),
        ("a2", {"png": image_bytes(8, 8), "json": b"[1, 2]"}),  # json list, not an object
        ("a3", {"png": image_bytes(8, 8), "json": b"{not json"}),
        ("a4", {"png": b"these bytes are no image", "txt": b"c"}),
        ("a5", {"png": image_bytes(8, 8), "json": b"\xff\xfe\x00"}),
        ("a6", good),
    ])
    refs, report, counter = scan_all([path])
    assert [r.key for r in refs] == ["a0", "a4", "a6"]  # undecodable bytes are found only when decoding
    assert report["skipped_by_reason"] == {**dict.fromkeys(REASONS, 0), "missing_image": 1, "bad_json": 3}
    assert report["seen"] == 7 and report["used"] == 3

    counter = BadInputCounter()
    got = list(iter_samples(path, counter))
    report = counter.to_dict()
    assert_balanced(report)
    assert [s["key"] for s in got] == ["a0", "a6"]
    assert report["skipped_by_reason"]["undecodable_image"] == 1
    assert report["shards_with_skips"][0]["shard"] == path
    assert report["shards_with_skips"][0]["skipped"] == {
        "missing_image": 1, "bad_json": 3, "undecodable_image": 1}


def _tar_with(tmp_path, n):
    path = str(tmp_path / "t.tar")
    records = write_shard(path, [(f"s{i}", sample(i, 30, 30)) for i in range(n)])
    return path, records


@pytest.mark.parametrize("where", ["image_data", "json_data", "header", "boundary", "padding"])
def test_scan_truncated_tar_keeps_complete_samples(tmp_path, where):
    path, records = _tar_with(tmp_path, 6)
    infos = []
    with tarfile.open(path) as tf:
        infos = tf.getmembers()
    json3 = next(i for i in infos if i.name == "s3.json")
    cut = {
        "image_data": records[3].offset + records[3].size // 2,  # inside s3's image
        "json_data": json3.offset_data + 3,  # inside s3's last member
        "header": records[3].offset - 512 + 100,  # inside s3's image header
        "boundary": records[3].offset - 512,  # right before s3: no end-of-archive blocks
        "padding": records[4].offset - 512 - 100,  # s3's json complete, its padding cut
    }[where]
    with open(path, "r+b") as f:
        f.truncate(cut)
    refs, report, _ = scan_all([path])
    # A cut header hides whose member it was: the sample being read (s2) is skipped too.
    complete = 2 if where in ("header", "boundary") else 3
    assert [r.key for r in refs] == ["s0", "s1", "s2"][:complete]
    assert report["skipped_by_reason"]["truncated_tar"] == 1
    assert report["seen"] == complete + 1 and report["used"] == complete
    assert report["shards_with_skips"][0]["detail"]


def test_scan_corrupt_header_mid_file(tmp_path):
    path, records = _tar_with(tmp_path, 5)
    header = records[2].offset - 512
    with open(path, "r+b") as f:  # overwrite s2's image header with garbage (bad checksum)
        f.seek(header)
        f.write(b"\x01" * 512)
    refs, report, _ = scan_all([path])
    assert [r.key for r in refs] == ["s0"]  # s1 was being read when the break came: skipped too
    assert report["skipped_by_reason"]["truncated_tar"] == 1


def test_scan_zeroed_block_mid_file_is_not_a_clean_end(tmp_path):
    path, records = _tar_with(tmp_path, 4)
    with open(path, "r+b") as f:
        f.seek(records[2].offset - 512)
        f.write(b"\x00" * 512)
    refs, report, _ = scan_all([path])
    assert [r.key for r in refs] == ["s0"]
    assert report["skipped_by_reason"]["truncated_tar"] == 1


def test_scan_unreadable_shards(tmp_path):
    good, _ = _tar_with(tmp_path, 2)
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar file at all\n" * 100)
    gz = tmp_path / "compressed.tar"
    gz.write_bytes(gzip.compress(open(good, "rb").read()))
    paths = [good, str(empty), str(garbage), str(gz)]
    refs, report, counter = scan_all(paths)
    assert len(refs) == 2
    assert report["skipped_by_reason"]["unreadable_shard"] == 3
    assert report["seen"] == 5 and report["n_shards"] == 4 and report["n_unreadable_shards"] == 3
    details = {r["shard"]: r["detail"] for r in report["shards_with_skips"]}
    assert details[str(empty)] == "zero-byte file"
    assert "gzip" in details[str(gz)] and "not a tar" in details[str(garbage)]
    with pytest.raises(BadInputError, match=r"3 of 4 shards unreadable.*compressed\.tar"):
        counter.check(0.5, "scan test")


def test_scan_memory_does_not_keep_members(tmp_path):
    """tarfile keeps a list of all members unless told otherwise: peak memory must stay flat
    but for the shard's set of keys (duplicate detection: ~100 bytes a key, 1 MB for a shard of
    10,000), far below tarfile's member list. The header walk's own working set (a batch of
    headers and the read windows they lie in, ~0.5 MB) is flat too: the large shard has 12,800
    samples so that tarfile's list stands out against it."""
    small = make_dataset(tmp_path / "small", 1, 200, members_of=lambda i: {"png": b"p", "txt": b"t"})
    large = make_dataset(tmp_path / "large", 1, 12800, members_of=lambda i: {"png": b"p", "txt": b"t"})

    def peak(paths):
        counter = BadInputCounter()
        tracemalloc.start()
        for ref in scan_shard(paths[0], counter, read_json=False):
            counter.use(ref.shard)
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert counter.used == counter.seen
        return result

    peak(small)  # warm-up: imports, caches
    p_small, p_large = peak(small), peak(large)
    limit = 1.5 * p_small + 64 * 1024 + 160 * (12800 - 200)  # the key set's share: 160 bytes a key
    assert p_large < limit, (p_small, p_large)
    with tarfile.open(large[0]) as tf:  # the control: tarfile's own member list is far larger
        tracemalloc.start()
        tf.getmembers()
        control = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert control > 3 * limit, (control, limit)


# --------------------------------------------------------------------------- iter_samples, decode


def test_iter_samples_streams_dicts(tmp_path):
    paths = make_dataset(tmp_path, 2, 3)
    counter = BadInputCounter()
    got = list(iter_samples(f"{tmp_path}/{{00000..00001}}.tar", counter))
    assert [s["key"] for s in got] == [f"0000{s}000{j}" for s in (0, 1) for j in range(3)]
    first = got[1]
    assert first["shard"] == paths[0] and first["ext"] == "jpg"
    assert isinstance(first["image"], Image.Image) and first["image"].mode == "RGB"
    assert first["image"].size == (40, 30)
    assert first["caption"] == "caption 1" and first["meta"] == {"label": 1, "idx": 1}
    raw = list(iter_samples(paths, BadInputCounter(), decode=False))
    assert raw[0]["image"] == image_bytes(24, 16, "PNG", seed=0)
    report = counter.to_dict()
    assert_balanced(report)
    assert report["used"] == 6 and report["n_shards"] == 2


def test_iter_samples_no_caption_and_early_stop(tmp_path):
    path = str(tmp_path / "x.tar")
    write_shard(path, [(f"k{i}", {"webp": image_bytes(10, 12, "WEBP")}) for i in range(4)])
    counter = BadInputCounter()
    it = iter_samples(path, counter)
    s = next(it)
    assert s["caption"] is None and s["meta"] is None and s["ext"] == "webp" and s["image"].size == (10, 12)
    it.close()  # a consumer that stops early leaves balanced counts
    assert counter.seen == counter.used == 1
    assert_balanced(counter.to_dict())


def test_decode_image():
    rgba = io.BytesIO()
    Image.new("RGBA", (5, 6), (1, 2, 3, 4)).save(rgba, format="PNG")
    gray = image_bytes(7, 3, "JPEG")
    assert decode_image(rgba.getvalue()).mode == "RGB"
    assert decode_image(gray).size == (7, 3)
    with pytest.raises(ImageDecodeError):
        decode_image(b"not an image")
    with pytest.raises(ImageDecodeError):
        decode_image(gray[: len(gray) // 2])  # truncated jpeg


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_high_bit_depth_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 64 * 16).round().astype(np.uint16).reshape(16, 64)
    data = _png(Image.fromarray(ramp))
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # PIL's convert("RGB") makes it nearly white
    got = np.asarray(decode_image(data)).astype(int)
    assert got.shape == (16, 64, 3) and (got[..., 0] == got[..., 2]).all()
    assert np.abs(got[..., 0] - ramp / 257).max() <= 0.5 and got.min() == 0 and got.max() == 255
    as_int32 = to_rgb(Image.fromarray(ramp.astype(np.int32), "I"))  # 32-bit grey: taken as 16-bit
    assert np.array_equal(np.asarray(as_int32), got)
    unit = to_rgb(Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F"))  # float grey 0..1
    assert np.asarray(unit)[0, :, 1].tolist() == [0, 128, 255]
    byte = to_rgb(Image.fromarray(np.array([[0.0, 100.0, 300.0]], np.float32), "F"))  # float 0..255, clipped
    assert np.asarray(byte)[0, :, 1].tolist() == [0, 100, 255]


def test_transparency_composited_onto_the_background():
    rgba = Image.new("RGBA", (4, 2), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((1, 0), (255, 0, 0, 255))  # opaque red
    rgba.putpixel((2, 0), (0, 0, 255, 128))  # half-transparent blue
    got = np.asarray(decode_image(_png(rgba)))
    assert got[1, 0].tolist() == [255, 255, 255] and got[0, 1].tolist() == [255, 0, 0]  # white by default
    assert got[0, 2].tolist() == [127, 127, 255]
    black = np.asarray(decode_image(_png(rgba), background=(0, 0, 0)))
    assert black[1, 0].tolist() == [0, 0, 0] and black[0, 2].tolist() == [0, 0, 128]
    la = Image.new("LA", (2, 2), (50, 0))  # grey with alpha
    assert np.asarray(decode_image(_png(la), background=(10, 20, 30)))[0, 0].tolist() == [10, 20, 30]
    pal = Image.new("P", (2, 1), 0)  # a palette image whose index 1 is transparent (tRNS)
    pal.putpalette([200, 0, 0, 0, 200, 0] + [0] * 762)
    pal.putpixel((1, 0), 1)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=1)
    assert np.asarray(decode_image(buf.getvalue())).tolist() == [[[200, 0, 0], [255, 255, 255]]]
    opaque = image_bytes(5, 4, "PNG", seed=3)  # plain RGB: exactly PIL's conversion
    assert np.array_equal(np.asarray(decode_image(opaque)), np.asarray(Image.open(io.BytesIO(opaque)).convert("RGB")))


def test_duplicate_keys_skipped_after_the_first(tmp_path):
    """A key written twice (or a sample's members split by another's) is one sample: the first
    occurrence; each later one is skipped whole as duplicate_key, never sampled with the
    first one's image and no caption."""
    path = tmp_path / "dup.tar"
    with tarfile.open(path, "w") as tf:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        add("a.jpg", image_bytes(8, 8, "JPEG", seed=1))
        add("a.txt", b"first a")
        add("b.png", image_bytes(8, 8, seed=2))
        add("a.png", image_bytes(8, 8, seed=3))  # a again: its image
        add("a.json", b'{"label": 1}')
        add("c.png", image_bytes(8, 8, seed=4))
        add("c.txt", b"c")
        add("b.txt", b"b's caption, split from its image")  # b again: no image, still a duplicate
    refs, report, _ = scan_all([str(path)])
    assert [r.key for r in refs] == ["a", "b", "c"] and refs[0].members["jpg"] and refs[0].meta is None
    assert report["seen"] == 5 and report["used"] == 3
    assert report["skipped_by_reason"] == {**dict.fromkeys(REASONS, 0), "duplicate_key": 2}
    counter = BadInputCounter()
    got = list(iter_samples(str(path), counter))
    assert [(s["key"], s["caption"]) for s in got] == [("a", "first a"), ("b", None), ("c", "c")]
    assert counter.to_dict()["skipped_by_reason"]["duplicate_key"] == 2
    assert "key a met again" in counter.to_dict()["shards_with_skips"][0]["detail"]


# --------------------------------------------------------------------------- BadInputCounter


def test_counter_check_threshold_and_message():
    counter = BadInputCounter()
    for shard, n_bad in (("/data/a.tar", 0), ("/data/b.tar", 3), ("/data/c.tar", 1)):
        for i in range(10):
            counter.seen_sample(shard)
            if i < n_bad:
                counter.skip(shard, "undecodable_image" if i else "truncated_tar")
            else:
                counter.use(shard)
    counter.check(0.2, "toy")  # 4/30 = 13% passes
    with pytest.raises(BadInputError) as e:
        counter.check(0.1, "reading toy")
    msg = str(e.value)
    assert "reading toy" in msg and "max_bad_fraction=0.1" in msg and "4 of 30 samples" in msg
    assert msg.index("/data/b.tar") < msg.index("/data/c.tar")  # worst first
    assert "/data/b.tar (truncated_tar=1, undecodable_image=2)" in msg and "/data/a.tar" not in msg
    report = counter.to_dict()
    assert_balanced(report)
    assert report["skipped"] == 4 and report["n_shards"] == 3
    assert [r["shard"] for r in report["shards_with_skips"]] == ["/data/b.tar", "/data/c.tar"]
    with pytest.raises(ValueError):
        counter.check(1.5, "x")
    with pytest.raises(ValueError, match="unknown skip reason"):
        counter.skip("/data/a.tar", "cosmic_rays")


def test_counter_unreadable_share_and_identity(tmp_path):
    counter = BadInputCounter()
    for i in range(9):
        counter.add_shard(f"/d/{i}.tar")
        for _ in range(100):
            counter.seen_sample(f"/d/{i}.tar")
            counter.unsample(f"/d/{i}.tar")
    counter.seen_sample("/d/broken.tar")
    counter.skip("/d/broken.tar", "unreadable_shard", detail="zero-byte file")
    counter.check(0.1, "x")  # 1 of 10 shards: not above 10%
    with pytest.raises(BadInputError,
                       match=r"1 of 10 shards unreadable.*/d/broken.tar \(unreadable_shard=1: zero-byte"):
        counter.check(0.05, "x")  # but 1 of 901 samples alone would pass
    out = tmp_path / "bad.json"
    counter.write(str(out), extra={"dataset": "d"})
    data = json.loads(out.read_text())
    assert data["dataset"] == "d" and data["unsampled"] == 900 and data["n_unreadable_shards"] == 1
    counter.seen_sample("/d/0.tar")  # a sample met but never accounted for
    with pytest.raises(ShardError, match="do not add up"):
        counter.to_dict()
    with pytest.raises(ShardError, match="do not add up"):
        counter.check(1.0, "x")


# --------------------------------------------------------------------------- the fast header walk


def _tarfile_walk(path):
    """The reference: tarfile's own walk, as (name, offset_data, size, is_file) and how it ended."""
    members = []
    with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tf:
        while True:
            try:
                info = tf.next()
            except tarfile.TarError as e:
                return members, ("error", f"tar read error: {e}")
            if info is None:
                return members, ("end", tf.offset)
            members.append((info.name, info.offset_data, info.size, info.isfile()))


def _fast_walk(path):
    from vlmbias.shards.reader import _MEMBER_RE, _members

    end = []
    with open(path, "rb") as f:
        members = list(_members(f, os.path.getsize(path), end))
    for name, _, _, is_file, _, key, ext in members:  # the walk's key split is the regex's
        m = _MEMBER_RE.match(name)
        assert (key, ext) == (m.groups() if is_file and m else (None, None)), name
    return [m[:4] for m in members], tuple(end)


def _header_offsets(path):
    with tarfile.open(path) as tf:
        return [m.offset for m in tf.getmembers()]


def _rewrite(path, offset, start, data, fix_checksum):
    raw = bytearray(open(path, "rb").read())
    raw[offset + start:offset + start + len(data)] = data
    if fix_checksum:
        block = raw[offset:offset + 512]
        block[148:156] = b" " * 8
        raw[offset + 148:offset + 156] = b"%06o\0 " % sum(block)
    open(path, "wb").write(bytes(raw))


ODD_NAMES = ["a/b/.c", "x.y/z.tar.gz", "noext", ".hidden", "dir/sub.d/k.e.f", "a\nb/c.jpg", "a.b\n",
             "ké.jpg", "d/ké/x.png", "/.c", "//.c", "k.", "a/.b/c.d", "x.JPG", "u/v/w", "0" * 99 + ".", "d/",
             ".x.y", "d/.a.b"]


@pytest.mark.parametrize("case", ["plain", "bad_checksum", "bad_mode", "spaces_in_size", "pax", "gnu",
                                  "dirs_and_links", "cut_header", "cut_data", "late_pax", "odd_names"])
def test_fast_walk_equals_tarfile(tmp_path, case):
    """The header walk without tarfile yields tarfile's members and stops where tarfile stops,
    whatever the header: checksums, number fields, pax and GNU headers, non-file members, cuts."""
    path = str(tmp_path / "s.tar")
    if case == "odd_names":  # names in the name field itself (GNU format: utf-8, no pax headers)
        with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
            for i, name in enumerate(ODD_NAMES * 3):
                info = tarfile.TarInfo(name)
                info.size = i % 5
                if name == "d/":
                    info.type, info.size = tarfile.AREGTYPE, 0  # an old-style directory
                tf.addfile(info, io.BytesIO(bytes(info.size)))
    elif case in ("pax", "gnu", "dirs_and_links", "late_pax"):
        fmt = {"gnu": tarfile.GNU_FORMAT}.get(case, tarfile.PAX_FORMAT)
        with tarfile.open(path, "w", format=fmt) as tf:
            for i in range(600):
                name = f"{i:05d}.jpg"
                if case in ("pax", "gnu") and i % 50 == 7 or case == "late_pax" and i == 500:
                    name = "d" * 120 + f"/ké{i:05d}.jpg"  # a long, non-ascii name: pax / GNU long name
                data = bytes(i % 300)
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                if case == "dirs_and_links" and i % 100 == 3:
                    for kind, extra in ((tarfile.DIRTYPE, "/"), (tarfile.SYMTYPE, ""), (tarfile.FIFOTYPE, "")):
                        link = tarfile.TarInfo(f"{i:05d}x{kind.decode()}{extra}")
                        link.type, link.linkname = kind, "target"
                        tf.addfile(link)
    else:
        make_dataset(tmp_path, 1, 300, members_of=lambda i: {"png": bytes(i % 700), "txt": b"t"})
        os.replace(str(tmp_path / "00000.tar"), path)
        offsets = _header_offsets(path)
        target = offsets[len(offsets) // 2 + 1]
        if case == "bad_checksum":
            _rewrite(path, target, 148, b"0000001\0", fix_checksum=False)
        elif case == "bad_mode":
            _rewrite(path, target, 100, b"00 0644\0", fix_checksum=True)
        elif case == "spaces_in_size":  # a size tarfile still reads: "  1234 " (leading spaces)
            size = tarfile.open(path).getmembers()[len(offsets) // 2 + 1].size
            _rewrite(path, target, 124, b"%11o " % size, fix_checksum=True)
        elif case == "cut_header":
            os.truncate(path, target + 200)
        elif case == "cut_data":
            os.truncate(path, target + 512 + 1)
    assert _fast_walk(path) == _tarfile_walk(path)


def test_fast_walk_leaves_only_the_first_header_to_tarfile(tmp_path, monkeypatch):
    paths = make_dataset(tmp_path, 1, 200)
    calls = []
    real = tarfile.TarFile.next
    monkeypatch.setattr(tarfile.TarFile, "next", lambda self: calls.append(1) or real(self))
    members, end = _fast_walk(paths[0])
    assert len(members) == 600 and end[0] == "end" and len(calls) <= 2  # open() reads member 1, next() returns it
