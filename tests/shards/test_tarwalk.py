"""Tests of vlmbias.shards.tarwalk: the compiled walk takes plain headers only and stops at the first other one."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from vlmbias.shards.tarwalk import KNOWN_EXTS, TEXT_FROM, walk_plain


def _tar(members, fmt=tarfile.GNU_FORMAT) -> tuple[np.ndarray, list[int]]:
    """A tar of ``members`` ((name, size) or TarInfo) as a uint8 array, and its header offsets."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tf:
        for m in members:
            info = m if isinstance(m, tarfile.TarInfo) else tarfile.TarInfo(m[0])
            if not isinstance(m, tarfile.TarInfo):
                info.size = m[1]
            tf.addfile(info, io.BytesIO(bytes(info.size)) if info.isfile() else None)
    data = raw.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        offsets = [m.offset for m in tf.getmembers()]
    return np.frombuffer(data, dtype=np.uint8).copy(), offsets


def _walk(buf, offset=0, cap=64):
    out = np.zeros((cap, 6), dtype=np.int64)
    n, nxt = walk_plain(buf, offset, out)
    return out[:n].tolist(), nxt


def test_plain_members_recorded_with_name_key_extension_and_size():
    buf, offsets = _tar([("k1.jpg", 700), ("k1.json", 12), ("d/k2.tar.gz", 0), ("d/k2.TXT", 1), ("d/k2.txt", 2),
                         ("noext", 3), ("k3.webp", 4)])
    rows, nxt = _walk(buf)
    jpg, json_, txt, webp = (KNOWN_EXTS.index(e) for e in ("jpg", "json", "txt", "webp"))
    assert rows == [  # header offset, name length, key length, size, extension id, same key as before
        [offsets[0], 6, 2, 700, jpg, 0], [offsets[1], 7, 2, 12, json_, 1],
        [offsets[2], 11, 4, 0, -1, 0], [offsets[3], 8, 4, 1, -1, 1], [offsets[4], 8, 4, 2, txt, 1],
        [offsets[5], 5, -1, 3, -1, 0],  # no extension: the reader's regex decides (none)
        [offsets[6], 7, 2, 4, webp, 0]]  # "k3" after a name without a key
    assert nxt == offsets[6] + 1024  # the end-of-archive block: left to the reader
    assert KNOWN_EXTS[TEXT_FROM:] == ("json", "txt")  # the members the reader reads with their header
    with pytest.raises(ValueError, match="6 columns"):
        walk_plain(buf, 0, np.zeros((4, 4), dtype=np.int64))


@pytest.mark.parametrize("case", ["directory", "symlink", "long_name", "bad_checksum", "spaces_in_size",
                                  "base256_size", "prefix", "past_the_end"])
def test_stops_at_the_first_header_that_is_not_plain(case):
    odd = tarfile.TarInfo("k2.jpg")
    odd.size = 10
    fmt = tarfile.GNU_FORMAT
    if case == "directory":
        odd.type = tarfile.DIRTYPE
    elif case == "symlink":
        odd.type, odd.linkname = tarfile.SYMTYPE, "k1.jpg"
    elif case == "long_name":
        odd.name = "d" * 150 + ".jpg"  # a GNU long-name header first
    elif case == "prefix":
        odd.name, fmt = "p" * 120 + "/k2.jpg", tarfile.USTAR_FORMAT
    buf, offsets = _tar([("k1.jpg", 100), odd, ("k3.jpg", 5)], fmt)
    h = offsets[1] if case != "long_name" else offsets[0] + 1024
    if case == "bad_checksum":
        buf[h + 148:h + 156] = np.frombuffer(b"0000001\0", np.uint8)
    elif case in ("spaces_in_size", "base256_size"):
        field = b"%11o " % 10 if case == "spaces_in_size" else b"\x80" + bytes(10) + b"\x0a"
        buf[h + 124:h + 136] = np.frombuffer(field, np.uint8)
        buf[h + 148:h + 156] = 32
        buf[h + 148:h + 156] = np.frombuffer(b"%06o\0 " % int(buf[h:h + 512].sum()), np.uint8)
    elif case == "past_the_end":
        buf = buf[:h + 512 + 5]  # k2.jpg's ten bytes cut
    else:  # still a tar tarfile reads whole (the walk only leaves the header to the reader)
        assert len(tarfile.open(fileobj=io.BytesIO(buf.tobytes())).getmembers()) == 3
    rows, nxt = _walk(buf, offsets[0])
    assert [r[0] for r in rows] == [offsets[0]] and nxt == h


def test_full_output_stops_the_walk_at_the_next_header():
    buf, offsets = _tar([(f"{i:03d}.txt", i) for i in range(10)])
    rows, nxt = _walk(buf, 0, cap=4)
    assert [r[0] for r in rows] == offsets[:4] and nxt == offsets[4]
    rows, nxt = _walk(buf, nxt, cap=64)
    assert [r[0] for r in rows] == offsets[4:]


def test_without_a_writable_cache_it_compiles_per_process():
    code = """
import numba
real = numba.njit
def njit(*a, **kw):
    if kw.get("cache"):
        raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
    return real(*a, **kw)
numba.njit = njit
from vlmbias.shards import tarwalk
import numpy as np
print(tarwalk.walk_plain(np.zeros(1024, np.uint8), 0, np.zeros((1, 6), np.int64)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(0, 0)"
