"""The reader's compiled fast path: a run of plain tar headers walked without Python per member.

:func:`walk_plain` (numba, compiled once and cached) follows a shard's headers over a memory map
of the file from a given offset and records each *plain* header it meets: a regular file
(typeflag ``0``, ``7`` or NUL, not an old-style directory), a name in the name field alone (no
ustar prefix), every number field as GNU tar and Python's ``tarfile`` write it (octal digits or
NULs, then a NUL or a space), the size as ``"%011o\\0"``, the checksum as ``"%06o\\0 "`` and
equal to the unsigned sum of the block, its data inside the file. It stops at the first header
that is anything else (an end-of-archive block, a link, a pax or GNU long-name header, a field
written another way, a bad checksum, a member running past the end) and leaves that header to the
reader's Python path (:func:`vlmbias.shards.reader._member_batches`), which handles it as
:mod:`tarfile` does and calls the walk again after it. So the walk decides nothing the Python
path would decide otherwise: it only takes over the common case, where both agree by
construction (tests/shards compare the reader with ``tarfile`` on malformed tars of every kind).

Why compiled: in Python a header costs ~1.9 µs to slice, unpack and check, three members a sample;
here the walk runs at the speed of touching each header's memory (~0.6 µs a header, most of it
the page-table and cache misses of a header every few KiB). The memory map touches only the pages
holding headers (and small members read with them): the image bytes between are skipped, not
read, so a shard of large images costs its headers, as with ``tar tf``.
"""

from __future__ import annotations

import numba
import numpy as np

from vlmbias.shards.reader import NUMBER_FIELDS  # the reader's table (it imports this module lazily)

BLOCK = 512


def _jit(fn):
    """``numba.njit``, cached on disk (next to this file, else in the user's cache folder); where
    neither can be written (a read-only install, no home), compiled once per process instead."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)




@_jit
def _octal(c) -> bool:
    return 48 <= c <= 55


#: extensions the walk names by their index (written exactly so, lower case)
KNOWN_EXTS = ("jpg", "jpeg", "png", "webp", "json", "txt")
TEXT_FROM = 4  # KNOWN_EXTS[TEXT_FROM:]: the text members (json, txt)
_KNOWN = np.zeros((len(KNOWN_EXTS), 4), dtype=np.uint8)
_KNOWN_LEN = np.array([len(e) for e in KNOWN_EXTS], dtype=np.int64)
for _i, _ext in enumerate(KNOWN_EXTS):
    _KNOWN[_i, :len(_ext)] = np.frombuffer(_ext.encode(), dtype=np.uint8)


@_jit
def _known_ext(buf, start, stop) -> int:
    """Index in :data:`KNOWN_EXTS` of the extension ``buf[start:stop]``, -1 for another one."""
    for i in range(_KNOWN.shape[0]):
        if _KNOWN_LEN[i] == stop - start:
            match = True
            for j in range(stop - start):
                match &= buf[start + j] == _KNOWN[i, j]
            if match:
                return i
    return -1


@_jit
def _unsigned_sum(buf, h) -> int:
    """The header checksum of the block at ``h``: its unsigned sum with the checksum field as
    eight spaces."""
    total = 256
    for j in range(h, h + 148):
        total += buf[j]
    for j in range(h + 156, h + BLOCK):
        total += buf[j]
    return total


@_jit
def walk_plain(buf: np.ndarray, offset: int, out: np.ndarray) -> tuple[int, int]:
    """Walk plain headers of ``buf`` (the whole file, uint8) from ``offset``.

    Fills ``out[i] = (header offset, name length, key length, size, extension id, same key)``
    for up to ``len(out)`` members and returns ``(n, offset)``: how many were recorded and the
    offset of the next header, the first one not walked (not plain, past the end of ``buf``, or
    ``out`` full). The key length is where the reader's key / extension split falls (the first
    "." of the basename, ``reader._MEMBER_RE``'s match) for an ASCII name without newlines whose
    basename starts with no "."; -1 for every other name, which the reader splits with the
    regular expression. Where the key length is known: the extension id is the extension's index
    in :data:`KNOWN_EXTS` (-1: another one) and "same key" is 1 when the member before it in
    ``out`` has the same key.
    """
    if out.shape[1] != 6:
        raise ValueError("walk_plain: out must have 6 columns")
    n, cap, end = 0, out.shape[0], buf.shape[0]
    pending, pending_at = 0, -1  # the unsigned sum of the header at pending_at, computed ahead
    while n < cap and offset + BLOCK <= end:
        h = offset
        kind = buf[h + 156]
        if buf[h] == 0 or buf[h + 345] != 0 or not (kind == 48 or kind == 0 or kind == 55):
            break  # empty name (an end block?), a ustar prefix, not a regular file
        size = 0
        ok = buf[h + 135] == 0
        for j in range(h + 124, h + 135):  # the size: eleven octal digits, then a NUL
            ok &= _octal(buf[j])
            size = size * 8 + (buf[j] - 48)
        nxt = h + BLOCK + (size + BLOCK - 1) // BLOCK * BLOCK
        total = pending if pending_at == h else _unsigned_sum(buf, h)
        if ok and nxt + BLOCK <= end:  # the next header's sum now: its cache misses overlap this one's checks
            pending, pending_at = _unsigned_sum(buf, nxt), nxt
        for a, b in NUMBER_FIELDS:
            for j in range(h + a, h + b - 1):
                ok &= buf[j] == 0 or _octal(buf[j])
            ok &= buf[h + b - 1] == 0 or buf[h + b - 1] == 32
        chk = 0
        for j in range(h + 148, h + 154):  # the checksum: six octal digits, a NUL, a space
            ok &= _octal(buf[j])
            chk = chk * 8 + (buf[j] - 48)
        if not (ok and buf[h + 154] == 0 and buf[h + 155] == 32):
            break
        if total != chk:
            break
        name_len, slash, plain_name = 1, -1, buf[h] < 128 and buf[h] != 10
        while name_len < 100 and buf[h + name_len] != 0:
            c = buf[h + name_len]
            plain_name &= c < 128 and c != 10  # ASCII without newlines
            if c == 47:
                slash = name_len
            name_len += 1
        if kind == 0 and buf[h + name_len - 1] == 47:
            break  # an old-style directory ("name/" as a regular file)
        key_len = -1  # the key: up to the first "." of the basename, when the basename starts with none
        if plain_name and slash + 1 < name_len and buf[h + slash + 1] != 46:
            for j in range(slash + 2, name_len):
                if buf[h + j] == 46:
                    key_len = j
                    break
        ext_id = -1
        same_key = 0
        if key_len > 0:
            ext_id = _known_ext(buf, h + key_len + 1, h + name_len)
            p = n - 1  # the previous member recorded, when it has the same key
            if n and out[p, 2] == key_len:
                same_key = 1
                for j in range(key_len):
                    if buf[out[p, 0] + j] != buf[h + j]:
                        same_key = 0
                        break
        if nxt > end:
            break  # its data runs past the end of the file: the Python path says so
        out[n, 0] = h
        out[n, 1] = name_len
        out[n, 2] = key_len
        out[n, 3] = size
        out[n, 4] = ext_id
        out[n, 5] = same_key
        n += 1
        offset = nxt
    return n, offset
