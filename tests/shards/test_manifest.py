"""Tests of vlmbias.shards.manifest: a dataset's shard listing, its digest, the manifest file."""

from __future__ import annotations

import os

import pytest

from vlmbias.shards.manifest import digest, listing, read_manifest, write_manifest
from vlmbias.shards.reader import ShardError


@pytest.fixture
def shards(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for i, size in enumerate((10, 20, 30)):
        (d / f"{i:05d}.tar").write_bytes(b"x" * size)
    return d


def test_listing_digest_and_round_trip(shards, tmp_path):
    entries = listing(str(shards / "{00000..00002}.tar"))
    assert [(os.path.basename(p), s) for p, s, _ in entries] == [("00000.tar", 10), ("00001.tar", 20),
                                                                  ("00002.tar", 30)]
    assert listing(str(shards / "*.tar")) == entries  # a glob: sorted matches
    d0 = digest(entries)
    assert d0.startswith("3 shards, sha256 ") and digest(listing(str(shards / "*.tar"))) == d0
    out = str(tmp_path / "m.tsv")
    write_manifest(out, entries)
    assert read_manifest(out) == [p for p, _, _ in entries]

    st = os.stat(shards / "00001.tar")  # touched: another digest, and the manifest no longer matches
    os.utime(shards / "00001.tar", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert digest(listing(str(shards / "*.tar"))) != d0
    with pytest.raises(ShardError, match=r"1 shard\(s\) changed or gone.*00001\.tar.*rerun"):
        read_manifest(out)
    assert read_manifest(out, verify=False) == [p for p, _, _ in entries]
    (shards / "00003.tar").write_bytes(b"")  # added
    assert digest(listing(str(shards / "*.tar"))).startswith("4 shards")
    os.remove(shards / "00000.tar")  # removed: the listing names it
    with pytest.raises(ShardError, match=r"does not exist: .*00000\.tar"):
        listing(str(shards / "{00000..00003}.tar"))
    with pytest.raises(ShardError, match="shard path is not a file"):
        listing(str(shards))


def test_bad_manifests_are_named(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n")
    with pytest.raises(ShardError, match="not a shard manifest"):
        read_manifest(str(bad))
    bad.write_text("path\tsize\tmtime_ns\n/x.tar\tten\t1\n")
    with pytest.raises(ShardError, match="line 2: expected path, size, mtime_ns"):
        read_manifest(str(bad))
    bad.write_text("path\tsize\tmtime_ns\n")
    with pytest.raises(ShardError, match="lists no shard"):
        read_manifest(str(bad))
    with pytest.raises(ShardError, match="no shards"):
        write_manifest(str(tmp_path / "empty.tsv"), [])
