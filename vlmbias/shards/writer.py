"""The one writer of WebDataset tar shards in the project (the sampler's output, the toy world's
raw shards). ``vlmbias.shards.reader`` reads what it writes."""

from __future__ import annotations

import io
import os
import tarfile
from typing import Mapping, NamedTuple

from vlmbias.shards.reader import _BLOCK, _MEMBER_RE, IMAGE_EXTS


class WrittenSample(NamedTuple):
    """Where a written sample's image member lies: read it with ``read_member(shard, offset, size)``."""

    shard: str
    key: str
    ext: str
    offset: int
    size: int


class ShardWriter:
    """Write samples into deterministic WebDataset tars, rolling to a new file every ``maxcount``.

    ``pattern`` is a %-format with one integer field (``out/train-%05d.tar``),
    or a plain path when ``maxcount`` is None (one file); ``start`` is the
    number of the first file. Tar members get
    mtime 0, uid/gid 0, empty user/group names and mode 0o644, so the same
    samples give byte-identical files. Rolling files are created at their first
    sample; a single file (``maxcount`` None) exists after ``close`` even with no
    sample (an empty shard). ``paths`` lists the files, ``records`` gives one
    :class:`WrittenSample` per written sample that has an image member, in write order.

    Each file is written as ``<path>.tmp`` and renamed when it is complete, so a killed job
    never leaves a shard that looks whole; used as a context manager, an exception removes
    the file being written.
    """

    def __init__(self, pattern: str, maxcount: int | None = None, start: int = 0) -> None:
        if maxcount is not None and maxcount < 1:
            raise ValueError(f"maxcount must be >= 1 or None, got {maxcount}")
        try:
            names = {pattern % start, pattern % (start + 1)}
        except TypeError:
            names = {pattern}
        if maxcount is not None and len(names) < 2:
            raise ValueError(f"shard name pattern needs one %d-style field to roll over: {pattern!r}")
        self.pattern, self.maxcount, self._next_index = pattern, maxcount, start
        self.paths: list[str] = []
        self.records: list[WrittenSample] = []
        self.count = 0
        self._file = None
        self._tar: tarfile.TarFile | None = None
        self._in_file = 0
        self._closed = False

    def _path(self, index: int) -> str:
        return self.pattern if self.maxcount is None else self.pattern % index

    def _open_next(self) -> None:
        self._close_current()
        path = self._path(self._next_index)
        self._next_index += 1
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = open(f"{path}.tmp", "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
        self._in_file = 0
        self.paths.append(path)

    def _close_current(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._file.close()
            os.replace(f"{self.paths[-1]}.tmp", self.paths[-1])
            self._tar = self._file = None

    def write(self, key: str, members: Mapping[str, bytes]) -> None:
        """Write one sample: members ``{key}.{ext}`` in the order given."""
        if not members:
            raise ValueError(f"sample {key!r} has no members")
        for ext in members:
            m = _MEMBER_RE.match(f"{key}.{ext}")
            if not ext or m is None or (m.group(1), m.group(2)) != (key, ext):
                raise ValueError(f"key {key!r} / extension {ext!r} would not read back as one sample")
        if self._closed:
            raise ValueError(f"{self.pattern}: writer is closed")
        if self._tar is None or (self.maxcount is not None and self._in_file >= self.maxcount):
            self._open_next()
        image = None
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            self._tar.addfile(info, io.BytesIO(data))
            self._tar.members = []
            if image is None and ext.lower() in IMAGE_EXTS:
                padded = -(-len(data) // _BLOCK) * _BLOCK
                image = WrittenSample(self.paths[-1], key, ext.lower(), self._tar.offset - padded, len(data))
        if image is not None:
            self.records.append(image)
        self._in_file += 1
        self.count += 1

    def close(self) -> None:
        if self.maxcount is None and not self.paths and not self._closed:
            self._open_next()  # a single shard with no sample is an empty tar, not a missing file
        self._close_current()
        self._closed = True

    def abort(self) -> None:
        """Stop writing and remove the file in progress (complete files stay)."""
        if self._tar is not None:
            self._tar.close()
            self._file.close()
            os.remove(f"{self.paths.pop()}.tmp")
            self._tar = self._file = None
        self._closed = True

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
