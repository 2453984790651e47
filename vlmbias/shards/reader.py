"""The one reader of WebDataset tar shards in the project (``vlmbias.shards.writer`` writes them).

Shard format (what img2dataset writes): an uncompressed tar whose members are
grouped into samples by key. The key of a member is its name up to the first
'.' of its basename (the directory part is kept), the extension is the rest,
lower-cased; members of one sample are consecutive (the webdataset
convention). A sample has an image member (``jpg``, ``jpeg``, ``png`` or
``webp``; the first one met is *the* image), an optional ``txt`` caption
(utf-8) and an optional ``json`` metadata object (``label``, ``split`` and any
other attribute). Other extensions (extra members such as ``KEY.car_mask.png``,
extension ``car_mask.png``) are listed in ``SampleRef.members`` but never read
here; they do not make a sample bad. Members without an extension, hidden files and non-regular
members (directories, links) are ignored and do not start a new sample.

Bad input is skipped and counted, never silently, by a
:class:`BadInputCounter` with one of the reasons in :data:`REASONS`:

``unreadable_shard``
    zero-byte file, not a tar, compressed tar, file that cannot be opened. Its
    samples cannot be seen, so such a shard counts as ONE seen sample that is
    skipped, which keeps it visible in the sample counts; the share of
    unreadable shards is checked on its own in :meth:`BadInputCounter.check`.
``truncated_tar``
    the tar structure breaks: a member's data runs past the end of the file, a
    header is cut off or corrupt in the middle of the file, the end-of-archive
    blocks are missing (a file cut at a member boundary). The sample holding
    the broken member is skipped; when the break is a header, whose member it
    was is unknown, so the sample being read when it was met is skipped. Every
    sample complete before it is still yielded. Samples after the break
    cannot be seen and are not counted.
``missing_image``
    a sample with no image member.
``bad_json``
    a ``json`` member that does not parse or is not an object (only detected
    when json is read).
``undecodable_image``
    image bytes PIL cannot decode (counted by the readers that decode).
``duplicate_key``
    a sample whose key an earlier sample of the same shard already had (a key written twice,
    or a sample's members split by another's): the first one is kept, each later one skipped
    whole, so no sample is drawn twice or paired with another's caption and metadata.

A skipped sample gets exactly one reason, checked in this order:
``truncated_tar``, ``duplicate_key``, ``missing_image``, ``bad_json``. Every reader keeps the
identity ``seen == used + skipped + unsampled``; the counter refuses to report
when it does not hold.
"""

from __future__ import annotations

import glob
import io
import itertools
import json
import json.scanner
import mmap
import os
import re
import struct
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Iterator, Mapping, NamedTuple

import numpy as np
from braceexpand import braceexpand
from PIL import Image

from vlmbias.core.io import write_json

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
_IMAGE_EXTS = frozenset(IMAGE_EXTS)
REASONS = ("missing_image", "truncated_tar", "bad_json", "undecodable_image", "unreadable_shard", "duplicate_key")

#: json members larger than this are not read and count as ``bad_json``.
MAX_JSON_BYTES = 16 * 1024 * 1024

# webdataset's split of a member name into (key, extension).
_MEMBER_RE = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")
_GLOB_CHARS = frozenset("*?[")
_BLOCK = tarfile.BLOCKSIZE
# Magic numbers of compressed files, to say why a shard is unreadable.
_COMPRESSED_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


class ShardError(ValueError):
    """Shard input that cannot be used: missing paths, inconsistent counts, too few samples."""


class BadInputError(ShardError):
    """The share of bad input passed ``max_bad_fraction``; the message names the shards."""


class ImageDecodeError(ValueError):
    """Image bytes that PIL cannot decode."""


# --------------------------------------------------------------------------- paths


def _has_glob(path: str) -> bool:
    return any(c in _GLOB_CHARS for c in path)


def expand_shards(patterns: str | list[str], must_exist: bool = True) -> list[str]:
    """Expand shard patterns into a de-duplicated list of paths, order preserved.

    Each pattern may be a plain path, a brace pattern (``/d/{00000..00099}.tar``)
    and/or a glob (``*``, ``?``, ``[``; matches sorted, files only). With
    ``must_exist``, a path that is not a file or a glob matching no file raises
    :class:`ShardError` naming it. An empty result always raises.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    out: dict[str, None] = {}
    for pattern in patterns:
        pattern = os.fspath(pattern)
        for path in braceexpand(os.path.expanduser(pattern)):
            if _has_glob(path) and not os.path.isfile(path):
                matches = sorted(p for p in glob.glob(path) if os.path.isfile(p))
                if not matches and must_exist:
                    where = path if path == pattern else f"{path} (from {pattern})"
                    raise ShardError(f"shard glob matches no file: {where}")
                out.update(dict.fromkeys(matches))
                continue
            if must_exist and not os.path.isfile(path):
                why = "is not a file" if os.path.exists(path) else "does not exist"
                where = path if path == pattern else f"{path} (from pattern {pattern})"
                raise ShardError(f"shard path {why}: {where}")
            out[path] = None
    if not out:
        raise ShardError(f"no shard paths from {list(patterns)!r}")
    return list(out)


# --------------------------------------------------------------------------- counting


@dataclass
class _ShardCount:
    seen: int = 0
    used: int = 0
    unsampled: int = 0
    skipped: Counter = field(default_factory=Counter)
    detail: str | None = None

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


class BadInputCounter:
    """Counts samples seen, used, skipped (by reason) and unsampled, per shard and in total.

    ``seen`` counts every sample met; each must end up ``used``, ``skipped`` or
    ``unsampled`` (eligible but not drawn by the sampler). An unreadable shard
    counts as one seen sample skipped as ``unreadable_shard``.
    """

    def __init__(self) -> None:
        self._shards: dict[str, _ShardCount] = {}

    def _get(self, shard: str) -> _ShardCount:
        count = self._shards.get(shard)
        if count is None:
            count = self._shards[shard] = _ShardCount()
        return count

    def add_shard(self, shard: str) -> None:
        """Register a shard (so that shards with no samples count in the number of shards)."""
        self._get(shard)

    def seen_sample(self, shard: str) -> None:
        self._get(shard).seen += 1

    def skip(self, shard: str, reason: str, n: int = 1, detail: str | None = None) -> None:
        """Count ``n`` skipped samples of ``shard``; ``detail`` (first one kept) explains it."""
        if reason not in REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; expected one of {REASONS}")
        count = self._get(shard)
        count.skipped[reason] += n
        if detail and count.detail is None:
            count.detail = detail

    def use(self, shard: str, n: int = 1) -> None:
        self._get(shard).used += n

    def unsample(self, shard: str, n: int = 1) -> None:
        self._get(shard).unsampled += n

    # totals
    @property
    def seen(self) -> int:
        return sum(c.seen for c in self._shards.values())

    @property
    def used(self) -> int:
        return sum(c.used for c in self._shards.values())

    @property
    def unsampled(self) -> int:
        return sum(c.unsampled for c in self._shards.values())

    @property
    def skipped(self) -> int:
        return sum(c.n_skipped for c in self._shards.values())

    def skipped_by_reason(self) -> dict[str, int]:
        total = Counter()
        for c in self._shards.values():
            total.update(c.skipped)
        return {reason: total[reason] for reason in REASONS}

    @property
    def n_shards(self) -> int:
        return len(self._shards)

    def unreadable_shards(self) -> list[str]:
        return [s for s, c in self._shards.items() if c.skipped["unreadable_shard"]]

    def _verify_identity(self) -> None:
        broken = [
            (s, c) for s, c in self._shards.items() if c.seen != c.used + c.n_skipped + c.unsampled
        ]
        if broken:
            s, c = broken[0]
            raise ShardError(
                f"bad-input counts do not add up (seen == used + skipped + unsampled) for "
                f"{len(broken)} shard(s), e.g. {s}: {c.seen} != {c.used} + {c.n_skipped} + "
                f"{c.unsampled}; samples were lost or counted twice"
            )

    def _worst(self) -> list[tuple[str, _ShardCount]]:
        rows = [(s, c) for s, c in self._shards.items() if c.n_skipped]
        return sorted(rows, key=lambda sc: (-sc[1].n_skipped, sc[0]))

    def to_dict(self) -> dict:
        """JSON-able report; raises :class:`ShardError` if the counts do not add up."""
        self._verify_identity()
        seen, skipped, n_unreadable = self.seen, self.skipped, len(self.unreadable_shards())
        shards = []
        for s, c in self._worst():
            row = {
                "shard": s,
                "seen": c.seen,
                "used": c.used,
                "unsampled": c.unsampled,
                "skipped": {r: c.skipped[r] for r in REASONS if c.skipped[r]},
            }
            if c.detail:
                row["detail"] = c.detail
            shards.append(row)
        return {
            "seen": seen,
            "used": self.used,
            "skipped": skipped,
            "unsampled": self.unsampled,
            "skipped_by_reason": self.skipped_by_reason(),
            "bad_fraction": skipped / seen if seen else 0.0,
            "identity": "seen == used + skipped + unsampled",
            "identity_holds": True,
            "n_shards": self.n_shards,
            "n_unreadable_shards": n_unreadable,
            "unreadable_shard_fraction": n_unreadable / self.n_shards if self.n_shards else 0.0,
            "shards_with_skips": shards,
        }

    @staticmethod
    def _describe(rows: list[tuple[str, _ShardCount]], limit: int = 10) -> str:
        parts = []
        for s, c in rows[:limit]:
            reasons = ", ".join(f"{r}={c.skipped[r]}" for r in REASONS if c.skipped[r])
            detail = f": {c.detail}" if c.detail else ""
            parts.append(f"{s} ({reasons}{detail})")
        if len(rows) > limit:
            parts.append(f"... and {len(rows) - limit} more shard(s)")
        return "; ".join(parts)

    def check(self, max_bad_fraction: float, what: str) -> None:
        """Raise :class:`BadInputError` when too much input was bad.

        Fails when skipped/seen > ``max_bad_fraction`` or when the share of
        unreadable shards among all shards > ``max_bad_fraction``. The message
        names ``what`` was being read, the threshold and the offending shards,
        worst first, with their counts per reason.
        """
        if not 0.0 <= max_bad_fraction <= 1.0:
            raise ValueError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        self._verify_identity()
        problems = []
        seen, skipped = self.seen, self.skipped
        if seen and skipped / seen > max_bad_fraction:
            problems.append(
                f"{skipped} of {seen} samples skipped ({skipped / seen:.2%}); worst shards: "
                + self._describe(self._worst())
            )
        unreadable = self.unreadable_shards()
        if self.n_shards and len(unreadable) / self.n_shards > max_bad_fraction:
            rows = sorted(((s, self._shards[s]) for s in unreadable), key=lambda sc: sc[0])
            problems.append(
                f"{len(unreadable)} of {self.n_shards} shards unreadable "
                f"({len(unreadable) / self.n_shards:.2%}): " + self._describe(rows)
            )
        if problems:
            raise BadInputError(
                f"{what}: bad input above max_bad_fraction={max_bad_fraction:g}: " + " | ".join(problems)
            )

    def state(self) -> dict:
        """The per-shard counts as JSON-able data, for :meth:`merge` (a chunk of a scan)."""
        return {s: {"seen": c.seen, "used": c.used, "unsampled": c.unsampled, "skipped": dict(c.skipped),
                    "detail": c.detail} for s, c in self._shards.items()}

    def merge(self, state: Mapping) -> None:
        """Add another counter's :meth:`state` (counts per shard add up; a shard's first detail
        is kept)."""
        for s, c in state.items():
            count = self._get(s)
            count.seen += c["seen"]
            count.used += c["used"]
            count.unsampled += c["unsampled"]
            count.skipped.update(c["skipped"])
            if c.get("detail") and count.detail is None:
                count.detail = c["detail"]

    def write(self, path: str, extra: Mapping | None = None) -> None:
        """Write :meth:`to_dict` (plus ``extra`` keys) as JSON to ``path``."""
        write_json(path, {**(extra or {}), **self.to_dict()}, indent=2)


# --------------------------------------------------------------------------- reading


class SampleRef(NamedTuple):
    """Where one sample lies in a shard: ``members`` maps ext -> (offset of data, size)."""

    shard: str
    key: str
    members: dict[str, tuple[int, int]]
    meta: dict | None

    @property
    def image_ext(self) -> str:
        """Extension of the sample's image member (the first one in the tar)."""
        return next(ext for ext in self.members if ext in IMAGE_EXTS)


def _unreadable_detail(magic: bytes, error: Exception | None) -> str:
    for prefix, kind in _COMPRESSED_MAGIC:
        if magic.startswith(prefix):
            return f"{kind}-compressed file; shards must be uncompressed tar"
    return f"not a tar file ({error})" if error else "not a tar file"


def _tar_end_problem(f, start: int, file_size: int) -> str | None:
    """Why the bytes from ``start`` (where tarfile stopped) are not a clean tar end, or None.

    A clean end is at least one zero block and nothing but zeros after it. No
    end at all means the file was cut at a member boundary (every tar writer,
    tarfile and GNU tar included, writes the end-of-archive blocks).
    """
    rest = file_size - start
    if rest == 0:
        return "no end-of-archive blocks: file cut at a member boundary"
    if rest < _BLOCK:
        return f"tar header cut off at byte {start}"
    f.seek(start)
    while chunk := f.read(1 << 16):
        if chunk.count(0) != len(chunk):
            return f"corrupt tar header at byte {start}"
    return None


_JSON_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # what json.loads runs, without its wrapping


def _parse_json(data: bytes) -> dict | None:
    """``json.loads(data)`` when it is an object, else None (invalid, not an object, nested
    too deep)."""
    try:
        if data[:1] == b"{" and data[1:2] != b"\0":  # what json.loads detects as utf-8, decoded alike
            text = data.decode("utf-8", "surrogatepass")
            meta, end = _JSON_SCAN(text, 0)
            if end != len(text) and text[end:].strip(" \t\n\r"):  # json.loads: "Extra data"
                return None
        else:
            meta = json.loads(data)
    except (ValueError, StopIteration, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return meta if isinstance(meta, dict) else None


# Typeflags the Python path handles: regular files (REGTYPE, AREGTYPE, CONTTYPE) and the builtin
# non-file types whose size tarfile does not skip (links, devices, directories, fifos).
_REGULAR = frozenset(b"0\x007")
_NO_DATA = frozenset(b"123456")
_DEFER = frozenset(b"LKSxgX")  # GNU long name/link, sparse, pax: tarfile's work
_DEFER_TYPES = frozenset(bytes([c]) for c in _DEFER)
_SMALL, _SMALL_EXTS = 4096, (".json", ".txt")  # small members read with their header
_BATCH = 256  # members yielded at once (and walked per call of the compiled walk)
#: header fields holding numbers: mode, uid, gid, size, mtime, devmajor, devminor (the checksum at
#: 148..156 is checked on its own); the compiled walk (tarwalk) checks the same ones
NUMBER_FIELDS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337), (337, 345))
# name, the size field's first 11 bytes and its 12th, typeflag, the ustar prefix's first byte
_HEADER = struct.Struct("100s24x11sB20xB188xB")


def _valid_header(block: bytes) -> bool:
    """Whether :mod:`tarfile` accepts the header: its number fields parse (``nti``) and its
    checksum is the unsigned or the signed sum of the block (``calc_chksums``)."""
    try:
        for a, b in NUMBER_FIELDS:
            tarfile.nti(block[a:b])
        return tarfile.nti(block[148:156]) in tarfile.calc_chksums(block)
    except tarfile.HeaderError:
        return False


def _number(field: bytes) -> int | None:
    """tarfile's ``nti`` (a header's number field: octal or base-256); None where it refuses it."""
    try:
        return tarfile.nti(field)
    except tarfile.HeaderError:
        return None


_Member = tuple  # (name, offset_data, size, is_file, small member's bytes or None, key, ext)


def _split(name: str) -> tuple[str, str] | tuple[None, None]:
    """A member name's (key, extension) as webdataset splits it; (None, None) for a name without
    an extension or a hidden file's."""
    m = _MEMBER_RE.match(name)
    return m.groups() if m is not None else (None, None)


def _members(f, file_size: int, end: list) -> Iterator[_Member]:
    """The shard's tar members one by one: :func:`_member_batches` unbatched."""
    return itertools.chain.from_iterable(_member_batches(f, file_size, end))


def _member_batches(f, file_size: int, end: list) -> Iterator[list[_Member]]:
    """The shard's tar members, in batches of up to :data:`_BATCH`, as ``(name, offset_data, size, is_file,
    data, key, ext)``, exactly as :meth:`tarfile.TarFile.next` walks them (``data``: a small json or txt
    member's bytes, read with its header, else None; ``key`` and ``ext`` as :func:`_split` splits
    the name, None for members that are not regular files); ``end`` receives how the walk ended:
    ``("end", offset)`` where ``next`` returns None (an end-of-archive block, a header cut off or
    invalid past the first) or ``("error", message)`` where it raises.

    Over a read-only memory map of the file, without tarfile's per-member objects: runs of plain
    headers (regular files written as GNU tar and tarfile write them) go through the compiled
    :func:`vlmbias.shards.tarwalk.walk_plain`; each header it leaves is handled here in Python,
    one at a time (its checksum and number fields checked by tarfile's own ``nti`` and
    ``calc_chksums``). The first header and headers tarfile handles on its own (pax, GNU long
    names, sparse) are left to :mod:`tarfile`, which goes on from there; it raises what
    :func:`tarfile.open` raises on a file that is not a tar. (A shard truncated by another
    process while it is being walked ends the process with SIGBUS: shards are not written in
    place.)
    """
    from vlmbias.shards.tarwalk import KNOWN_EXTS, TEXT_FROM, walk_plain  # numba: imported where shards are read

    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        out = np.empty((_BATCH, 6), dtype=np.int64)
        batch: list[_Member] = []
        offset, stop = 0, None
        while True:
            if offset:
                n, offset = walk_plain(np.frombuffer(mm, dtype=np.uint8), offset, out)
                for h, name_len, key_len, size, ext_id, same_key in out[:n].tolist():
                    data = h + _BLOCK
                    if ext_id >= 0:  # an ASCII name "key.ext", ext one of KNOWN_EXTS
                        if not same_key:  # else: the previous member's key
                            key = mm[h:h + key_len].decode("ascii")
                        ext = KNOWN_EXTS[ext_id]
                        name = key + "." + ext
                        small = mm[data:data + size] if ext_id >= TEXT_FROM and size <= _SMALL else None
                    else:
                        name = mm[h:h + name_len].decode("utf-8", "surrogateescape")
                        key, ext = (name[:key_len], name[key_len + 1:]) if key_len > 0 else _split(name)
                        small = mm[data:data + size] if size <= _SMALL and name.endswith(_SMALL_EXTS) else None
                    batch.append((name, data, size, True, small, key, ext))
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
                if n == _BATCH:
                    continue  # the walk stopped only because ``out`` was full
            # the header at ``offset`` is not plain (or the first): as tarfile's next() reads it
            if offset == 0:
                kind = -1  # the first header: tarfile's (it decides whether the file is a tar at all)
            else:
                if offset > file_size:
                    stop = ("error", "tar read error: unexpected end of data")
                    break
                if file_size - offset < _BLOCK:
                    stop = ("end", offset)  # cut off / end of file
                    break
                header = mm[offset:offset + _BLOCK]
                raw_name, size11, term, kind, prefixed = _HEADER.unpack_from(header)
                if not raw_name[0] and header.count(0) == _BLOCK:
                    stop = ("end", offset)  # an end-of-archive block
                    break
                size = None
                if not term:  # the size field as both tars write it: "%011o\\0"
                    try:
                        size = int(size11, 8)
                    except ValueError:
                        pass
                if size is None and (size := _number(header[124:136])) is None:
                    stop = ("end", offset)  # an invalid header past the first ends tarfile's walk
                    break
            if kind == -1 or kind in _DEFER:
                if batch:
                    yield batch
                    batch = []
                f.seek(offset)
                tf = tarfile.open(fileobj=f, mode="r:")  # starts at the file's position
                first = offset == 0
                while True:
                    try:
                        info = tf.next()
                    except (tarfile.TarError, OSError, ValueError) as e:
                        end[:] = ("error", f"tar read error: {e}")
                        return
                    tf.members = []  # tarfile keeps every member otherwise
                    if info is None:
                        end[:] = ("end", tf.offset)
                        return
                    is_file = info.isfile()
                    yield [(info.name, info.offset_data, info.size, is_file, None,
                            *(_split(info.name) if is_file else (None, None)))]
                    if first and info.type not in _DEFER_TYPES:  # back to the fast walk after member 1
                        offset = tf.offset
                        break
                continue
            if not _valid_header(header):
                stop = ("end", offset)  # an invalid header past the first ends tarfile's walk
                break
            name = raw_name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if kind != 48:  # "0", a regular file, needs none of this
                if kind == 0 and name.endswith("/"):
                    kind = 53  # tarfile: an old-style directory
                if kind == 53:
                    name = name.rstrip("/")
            if prefixed:
                prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if prefix:
                    name = prefix + "/" + name
            data = offset + _BLOCK
            if kind in _REGULAR:
                small = (mm[data:data + size] if size <= _SMALL and data + size <= file_size
                         and name.endswith(_SMALL_EXTS) else None)
                batch.append((name, data, size, True, small, *_split(name)))
                offset = data + -(-size // _BLOCK) * _BLOCK
            elif kind in _NO_DATA:
                batch.append((name, data, size, False, None, None, None))
                offset = data
            else:  # a type tarfile does not know: its data is skipped
                batch.append((name, data, size, False, None, None, None))
                offset = data + -(-size // _BLOCK) * _BLOCK
        if batch:
            yield batch
        end[:] = stop


def _scan(
    path: str, counter: BadInputCounter, read_json: bool, read_payload: bool
) -> Iterator[tuple[SampleRef, dict[str, bytes]]]:
    """Stream a shard's headers; yield complete valid samples with the payloads asked for.

    ``read_payload`` loads the first image member and the ``txt`` member into
    the payload dict (``json`` is parsed into ``meta`` when ``read_json``).
    Counts ``seen`` and skips; the caller counts used/unsampled. The headers are walked by
    :func:`_member_batches`.
    """
    counter.add_shard(path)

    def unreadable(detail: str) -> None:
        counter.seen_sample(path)
        counter.skip(path, "unreadable_shard", detail=detail)

    try:
        f = open(path, "rb")
    except OSError as e:
        unreadable(f"cannot open: {e}")
        return
    with f:
        fd = f.fileno()
        file_size = os.fstat(fd).st_size
        if file_size == 0:
            unreadable("zero-byte file")
            return
        magic = os.pread(fd, 8, 0)
        end: list = []
        batches = _member_batches(f, file_size, end)
        try:
            first = next(batches, None)
        except (tarfile.TarError, OSError, ValueError) as e:
            unreadable(_unreadable_detail(magic, e))
            return
        members = itertools.chain(first or (), itertools.chain.from_iterable(batches))

        def read(offset: int, size: int, small: bytes | None) -> bytes:
            return os.pread(fd, size, offset) if small is None else small

        def finish(key, members, payload, meta, bad_json, has_image, duplicate):
            if duplicate:
                counter.skip(path, "duplicate_key", detail=f"key {key} met again")
            elif not has_image:
                counter.skip(path, "missing_image")
            elif bad_json:
                counter.skip(path, "bad_json")
            else:
                return SampleRef(path, key, members, meta), payload
            return None

        # the sample being read (one at a time; members of a sample are consecutive)
        key = members_of = payload = meta = None
        bad_json = has_image = duplicate = False
        broken: str | None = None
        keys: set[str] = set()  # the shard's keys so far (one shard's worth: memory stays bounded)
        count = counter._get(path)  # the shard's counts, bumped in place: one sample seen at a time
        for name, offset_data, size, is_file, small, k, ext in members:
            if k is None:  # not a regular file, no extension, a hidden file
                continue
            if k != key:
                if key is not None and (done := finish(key, members_of, payload, meta, bad_json, has_image,
                                                       duplicate)) is not None:
                    yield done
                key, members_of, payload, meta = k, {}, {}, None
                bad_json = has_image = False
                duplicate = k in keys
                keys.add(k)
                count.seen += 1
            if offset_data + size > file_size:
                broken = f"member {name} runs past the end of the file"
                break
            ext = ext.lower()
            if duplicate or ext in members_of:
                continue  # a repeated extension: the first one wins; a duplicate's members: none read
            members_of[ext] = (offset_data, size)
            if ext in _IMAGE_EXTS:
                if read_payload and not has_image:
                    payload[ext] = read(offset_data, size, small)
                has_image = True
            elif ext == "json":
                if read_json:
                    meta = _parse_json(read(offset_data, size, small)) if size <= MAX_JSON_BYTES else None
                    bad_json = meta is None
            elif ext == "txt" and read_payload:
                payload[ext] = read(offset_data, size, small)
        else:
            broken = end[1] if end[0] == "error" else _tar_end_problem(f, end[1], file_size)
        if broken is not None:
            if key is None:
                counter.seen_sample(path)  # nothing complete was met: keep the break visible
            counter.skip(path, "truncated_tar", detail=broken)
        elif key is not None and (done := finish(key, members_of, payload, meta, bad_json, has_image,
                                                 duplicate)) is not None:
            yield done


def scan_shard(path: str, counter: BadInputCounter, read_json: bool = True) -> Iterator[SampleRef]:
    """Stream one shard's tar headers and yield its valid samples as :class:`SampleRef`.

    Data is seeked over; only ``json`` members are read (when ``read_json``;
    without it ``meta`` is None and bad json goes unnoticed). Counts every
    sample met as seen and every bad one as skipped (see the module doc);
    never raises on bad input. The caller counts the yielded samples as
    used or unsampled. Memory grows with the shard's number of keys only (the set that finds
    duplicate keys), not with its members or data.
    """
    return map(itemgetter(0), _scan(path, counter, read_json=read_json, read_payload=False))


def read_member(path: str, offset: int, size: int) -> bytes:
    """Read ``size`` bytes at ``offset`` of ``path`` (a member's data, random access)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    if len(data) != size:
        raise ShardError(f"{path}: wanted {size} bytes at offset {offset}, file has only {len(data)}")
    return data


#: The colour transparent pixels are composited onto (``sampling.alpha_background``): white, as a
#: browser shows a transparent PNG. It is itself a low-level signature (the material lists DataComp's
#: transparent backgrounds), so the choice is the config's.
ALPHA_BACKGROUND = (255, 255, 255)
_HIGH_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def needs_conversion(image: Image.Image) -> bool:
    """Whether :func:`to_rgb` does more than PIL's ``convert("RGB")`` for ``image``: more than
    8 bits per channel, or transparency."""
    return image.mode in (*_HIGH_BIT, "F") or has_alpha(image)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def to_rgb(image: Image.Image, background: tuple[int, int, int] = ALPHA_BACKGROUND) -> Image.Image:
    """``image`` as 8-bit RGB. PIL's ``convert("RGB")`` clips high-bit-depth grey to 255 (a 16-bit
    ramp 0..65535 becomes nearly white) and drops alpha, showing whatever colour the transparent
    pixels hold; here 16-bit and 32-bit integer grey (``I;16*``, ``I``: taken as 0..65535) are
    scaled by 255 / 65535, float grey (``F``) taken as 0..1 when its maximum is at most 1 and as
    0..255 otherwise, and transparent images (an alpha band, or a palette / grey / RGB image with a
    ``transparency`` entry) composited onto ``background``."""
    if image.mode in _HIGH_BIT:
        a = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.round(np.clip(a, 0, 65535) * (255 / 65535)).astype(np.uint8), "L")
    elif image.mode == "F":
        a = np.nan_to_num(np.asarray(image, dtype=np.float64))
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        image = Image.fromarray(np.round(np.clip(a * scale, 0, 255)).astype(np.uint8), "L")
    if has_alpha(image):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def decode_image(data: bytes, mode: str | None = "RGB",
                 background: tuple[int, int, int] = ALPHA_BACKGROUND) -> Image.Image:
    """Decode image bytes into a fully loaded PIL image in ``mode`` (None: the stored mode, e.g.
    a mask's "L"; no EXIF transpose). "RGB" goes through :func:`to_rgb` (high bit depths
    scaled, transparency composited onto ``background``).

    Raises :class:`ImageDecodeError` on any failure, truncated images and
    PIL's decompression-bomb limit included.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if mode == "RGB":
                return to_rgb(im, background)
            return im.convert(mode) if mode is not None else im.copy()
    except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        message = re.sub(r" at 0x[0-9a-fA-F]+>", ">", str(e))  # no object address: counts reproduce
        raise ImageDecodeError(f"cannot decode image ({type(e).__name__}: {message})") from e


def iter_samples(paths: str | list[str], counter: BadInputCounter, decode: bool = True) -> Iterator[dict]:
    """Stream every valid sample of the shards, in shard order, in constant memory.

    Yields ``{shard, key, image, ext, caption, meta}`` where ``image`` is an RGB
    PIL image (or the raw bytes when ``decode`` is False: the caller then owns
    decoding, the sample already counts as used), ``caption`` the utf-8 ``txt``
    member (undecodable bytes replaced) or None, ``meta`` the json object or
    None. Yielded samples count as used; undecodable images as skipped.
    """
    for path in expand_shards(paths):
        for ref, payload in _scan(path, counter, read_json=True, read_payload=True):
            ext = ref.image_ext
            image = payload[ext]
            if decode:
                try:
                    image = decode_image(image)
                except ImageDecodeError as e:
                    counter.skip(path, "undecodable_image", detail=f"{ref.key}: {e}")
                    continue
            caption = payload.get("txt")
            counter.use(path)
            yield {
                "shard": path,
                "key": ref.key,
                "image": image,
                "ext": ext,
                "caption": None if caption is None else caption.decode("utf-8", errors="replace"),
                "meta": ref.meta,
            }
