"""A dataset's shard manifest: its raw shards with their sizes and modification times, the one
input of its ``sample`` job in place of the shards themselves.

Why: the paper config names ~388,000 shard files; as declared inputs Snakemake stats and tracks
every one of them at every invocation (a dry run took 46-62 s on 2 cores, most of it Snakemake's
per-input work). With a manifest the workflow lists the shards once per dataset while it parses
(:func:`listing`: one ``os.stat`` a shard) and passes their :func:`digest` to rule
``shard_manifest`` as a parameter; Snakemake's params rerun trigger then rewrites the manifest,
and so re-samples the dataset, exactly when a shard is added, removed, resized or touched.

Format: a TSV with the header ``path size mtime_ns``, one row per shard in the expanded
pattern order (:func:`vlmbias.shards.reader.expand_shards`). :func:`read_manifest` checks the
shards still match it, so a shard changed between the manifest and the sampling job stops the
job with its name instead of being sampled unnoticed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Sequence

from vlmbias.shards.reader import ShardError, expand_shards

HEADER = ("path", "size", "mtime_ns")
Entry = tuple[str, int, int]


def _stat(path: str, pattern: str | None = None) -> Entry:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        why = "does not exist" if st is None else "is not a file"
        raise ShardError(f"shard path {why}: {path}" + (f" (from pattern {pattern})" if pattern else ""))
    return path, st.st_size, st.st_mtime_ns


def listing(patterns: str | Sequence[str]) -> list[Entry]:
    """``(path, size, mtime_ns)`` of every shard the patterns name (paths, brace ranges, globs;
    raises :class:`ShardError` naming a missing one)."""
    pattern = patterns if isinstance(patterns, str) else None
    return [_stat(p, pattern) for p in expand_shards(patterns, must_exist=False)]


def digest(entries: Sequence[Entry]) -> str:
    """A short hash of a listing: changes when a shard is added, removed, resized or touched."""
    h = hashlib.sha256()
    for path, size, mtime in entries:
        h.update(f"{path}\t{size}\t{mtime}\n".encode())
    return f"{len(entries)} shards, sha256 {h.hexdigest()[:16]}"


def write_manifest(path: str, entries: Sequence[Entry]) -> None:
    if not entries:
        raise ShardError(f"{path}: no shards to write into the manifest")
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("\t".join(HEADER) + "\n")
        for p, size, mtime in entries:
            if "\t" in p or "\n" in p:
                raise ShardError(f"shard path with a tab or newline cannot be listed: {p!r}")
            f.write(f"{p}\t{size}\t{mtime}\n")
    os.replace(tmp, path)


def read_manifest(path: str, verify: bool = True) -> list[str]:
    """The shard paths of a manifest, in order. With ``verify``, every shard must still have
    the size and mtime listed: a changed or missing one raises :class:`ShardError` naming it
    (rerun the workflow: the manifest is rewritten and the dataset re-sampled)."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(header) != HEADER:
            raise ShardError(f"{path}: not a shard manifest (header {header}, expected {list(HEADER)})")
        rows = []
        for n, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].lstrip("-").isdigit():
                raise ShardError(f"{path}, line {n}: expected path, size, mtime_ns; got {line.strip()!r}")
            rows.append((parts[0], int(parts[1]), int(parts[2])))
    if not rows:
        raise ShardError(f"{path}: the manifest lists no shard")
    if verify:
        changed = []
        for p, size, mtime in rows:
            try:
                st = os.stat(p)
                ok = st.st_size == size and st.st_mtime_ns == mtime
            except OSError:
                ok = False
            if not ok:
                changed.append(p)
        if changed:
            raise ShardError(f"{len(changed)} shard(s) changed or gone since {path} was written, e.g. "
                             f"{changed[:3]}: rerun the workflow to list and sample them again")
    return [p for p, _, _ in rows]
