"""Seeded uniform sampling of a dataset's shards into train/val sample shards plus an index.

The protocol of Liu & He (appendix A), made streaming and seeded:

1. Pass 1 streams the tar headers of every shard (:func:`vlmbias.shards.reader.scan_shard`).
   Each valid sample gets the priority :func:`sample_priority` (a hash of seed,
   dataset name, shard basename and key: deterministic and independent of the
   shard order). Samples whose metadata ``split`` differs from
   ``source_split`` are not eligible ("if a dataset already has pre-defined
   train/val splits, we only sample from its train split"; our train AND val
   are both drawn from it, disjoint); they count as unsampled. A bounded heap
   keeps the K lowest priorities,
   K = n_train + n_val + ceil(max_bad_fraction * (n_train + n_val)) + 8:
   memory is O(K), whatever the number of shards and images.
   img2dataset's per-shard ``.parquet`` (keys, captions, download status) is not read: it
   lists neither member offsets nor the tar's own state (a truncated tar, a bad json), and at
   the paper's sizes every shard holds candidates (1.01 M of LAION-2B's ~2.3 B: ~4 in a
   10,000-sample shard), so every header would be walked anyway; it could replace only the
   json parse, ~11% of the pass (``python -m vlmbias.bench sample``).
2. Pass 2 decodes the candidates in priority order; undecodable ones are
   skipped and counted. The first ``n_val`` decodable ones form the val
   split, the next ``n_train`` the train split: the val set does not change
   with ``n_train`` and a smaller train set is a prefix of a larger one.
   Candidates left over and samples never drawn count as unsampled. If
   the candidates run out before both splits are full while eligible samples
   remain, the headers are scanned again for the next candidates in the same
   priority order (rare: only when many candidates are undecodable).
3. Images whose shorter side is above ``max_side`` are resized (bicubic) so
   that it equals ``max_side`` and re-encoded (png, or jpeg); smaller images
   keep their original bytes and extension (never upscaled or re-encoded), unless their
   decoding does more than PIL's plain RGB conversion: images of more than 8 bits per channel
   (scaled to 8 bits, not clipped) and transparent ones (composited onto
   ``alpha_background``, white by default: ``sampling.alpha_background``) are stored as
   decoded, in the resized format, so every reader sees what was decided here
   (:func:`vlmbias.shards.reader.to_rgb`).
   Extra members of a sample (any extension but the image's, another image's, ``txt`` and
   ``json``; e.g. ``car_mask.png``) are carried to the output under the same names, their
   bytes unchanged; when the image was resized, an extra member whose name ends in an image
   extension is taken to be pixel-aligned with the image and resized to the image's new size
   (nearest for single-channel images such as masks, bicubic otherwise) and re-encoded in its
   extension's format. An undecodable one then skips the sample as ``undecodable_image``.
4. Output: ``out_dir/shards/{split}-{i:05d}.tar`` (rank order), ``out_dir/index.parquet``
   (columns :data:`INDEX_COLUMNS`) and ``out_dir/bad_input.json``.

Labeled datasets with their own splits (Waterbirds, CelebA, ImageNet val): with ``splits``
(``{"train": n1, "val": n2, "test": n3}``) the source's predefined splits are KEPT instead: each
split named is its own candidate pool (same priorities, same single header pass, same decoding
and bad-input counting), filled with the first ``n`` decodable samples whose json ``split`` is
that name, and written as our split of the same name (``{split}-{i:05d}.tar``, keys
``{dataset}-{split}-{rank:08d}``).

Ties in priority (only for samples with the same shard basename and key, e.g.
two download runs with the same layout in two folders) are broken by the
sorted rank of the full shard path, then the sample's position in its shard.
"""

from __future__ import annotations

import glob
import hashlib
import heapq
import io
import json
import math
import os
import re
from typing import Callable, Mapping

import pandas as pd
from PIL import Image
from tqdm import tqdm

from vlmbias.shards.reader import (
    ALPHA_BACKGROUND,
    IMAGE_EXTS,
    BadInputCounter,
    ImageDecodeError,
    ShardError,
    decode_image,
    expand_shards,
    needs_conversion,
    read_member,
    scan_shard,
    to_rgb,
)
from vlmbias.core.io import read_json, write_json
from vlmbias.shards.writer import ShardWriter

#: Columns of ``index.parquet``, in order.
INDEX_COLUMNS = (
    "key", "dataset", "split", "rank", "label", "source_shard", "source_key", "shard",
    "offset", "size", "ext", "width", "height", "resized", "caption", "metadata",
)
SPLITS = ("val", "train")  # filled in this order
_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")
_INT_RE = re.compile(r"-?\d+")
_FORMATS = {"png": ("PNG", "png"), "jpeg": ("JPEG", "jpg"), "jpg": ("JPEG", "jpg")}
_EXTRA_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}  # an extra member's last extension


def sample_priority(seed: int, name: str, shard: str, key: str) -> int:
    """Priority of a sample: the first 8 bytes (big-endian uint64) of
    blake2b(f"{seed}\\x00{name}\\x00{basename(shard)}\\x00{key}")."""
    text = f"{seed}\x00{name}\x00{os.path.basename(shard)}\x00{key}"
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape")).digest()[:8], "big")


def _shard_priority(seed: int, name: str, shard: str) -> Callable[[str], int]:
    """:func:`sample_priority` of one shard's keys, the shard's prefix hashed once."""
    head = hashlib.blake2b(f"{seed}\x00{name}\x00{os.path.basename(shard)}\x00".encode("utf-8", "surrogateescape"))
    copy, from_bytes = head.copy, int.from_bytes

    def priority(key: str) -> int:
        h = copy()
        h.update(key.encode("utf-8", "surrogateescape"))
        return from_bytes(h.digest()[:8], "big")

    return priority


def _label(meta: dict | None):
    """meta["label"] when it is int-like (int, integral float, digit string), else NA."""
    value = (meta or {}).get("label")
    if isinstance(value, bool) or value is None:
        return pd.NA
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    return pd.NA


def _resize(image: Image.Image, max_side: int) -> Image.Image | None:
    """The image with its shorter side brought down to ``max_side``, or None if already small.

    The longer side follows torchvision's ``Resize(max_side)``: int(max_side * long / short).
    """
    w, h = image.size
    short, long = min(w, h), max(w, h)
    if short <= max_side:
        return None
    new_long = int(max_side * long / short)
    size = (max_side, new_long) if w <= h else (new_long, max_side)
    return image.resize(size, Image.Resampling.BICUBIC)


def _encode(image: Image.Image, fmt: str, jpeg_quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt in ("JPEG", "WEBP"):
        image.save(buf, format=fmt, quality=jpeg_quality)
    else:
        image.save(buf, format="PNG")
    return buf.getvalue()


def _extras(path: str, key: str, locs: tuple, size: tuple[int, int] | None, jpeg_quality: int) -> dict[str, bytes]:
    """A sample's extra members for the output (see the module doc, step 3): their bytes, or,
    when the image was resized to ``size``, images among them resized alike and re-encoded."""
    out = {}
    for ext, loc in locs:
        data = read_member(path, *loc)
        fmt = _EXTRA_FORMATS.get(ext.rsplit(".", 1)[-1])
        if size is not None and fmt is not None:
            try:
                image = decode_image(data, mode=None)
            except ImageDecodeError as e:
                raise ImageDecodeError(f"extra member {key}.{ext}: {e}") from e
            single = image.mode in ("1", "L", "P", "I", "I;16", "F")
            image = image.resize(size, Image.Resampling.NEAREST if single else Image.Resampling.BICUBIC)
            if fmt == "JPEG" and image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            data = _encode(image, fmt, jpeg_quality)
        out[ext] = data
    return out


def _collect_candidates(
    shards: list[str],
    name: str,
    seed: int,
    pool_of: Callable[[dict | None], str | None],
    k: Mapping[str, int],
    counter: BadInputCounter,
    after: Mapping[str, tuple] | None,
    progress: bool,
    indices: range | None = None,
) -> tuple[dict[str, list[tuple]], list[int]]:
    """Pass 1: per pool, the k[pool] eligible samples of lowest (priority, shard rank, position)
    above ``after[pool]``.

    ``pool_of(meta)`` names the pool a sample belongs to, or None when it is not eligible (it
    counts as unsampled in ``counter``); samples of pools not in ``k`` are passed over. Returns
    the candidates of each pool in ascending order, as tuples
    ``(order, shard_index, key, image_ext, image_loc, txt_loc, json_loc, extra_locs)`` with
    ``order = (priority, shard_rank, position)`` and ``extra_locs`` the ``(ext, loc)`` of the
    extra members, and the number of eligible samples per shard. ``indices`` scans only those
    shards (a chunk; ranks and indices stay those of the full list).
    """
    shard_rank = {path: r for r, path in enumerate(sorted(shards))}
    heaps: dict[str, list[tuple]] = {pool: [] for pool in k}  # max-heaps on order through negation
    eligible = [0] * len(shards)
    indices = range(len(shards)) if indices is None else indices
    bar = tqdm(indices, desc=f"{name}: scanning shards", unit="shard", disable=not progress)
    for si in bar:
        path = shards[si]
        priority, rank = _shard_priority(seed, name, path), shard_rank[path]
        n_eligible = n_unsampled = 0
        for position, ref in enumerate(scan_shard(path, counter, read_json=True)):
            _, key, members, meta = ref
            if (pool := pool_of(meta)) is None:
                n_unsampled += 1
                continue
            n_eligible += 1
            if (heap := heaps.get(pool)) is None:
                continue
            p, size = priority(key), k[pool]
            full = len(heap) >= size
            if full and p > -heap[0][0][0]:  # above the heap's largest priority: the common case
                continue
            order = (p, rank, position)
            if after is not None and pool in after and order <= after[pool]:
                continue
            neg = (-p, -rank, -position)
            if full and neg <= heap[0][0]:
                continue
            ext = ref.image_ext
            extra = tuple((e, loc) for e, loc in members.items() if e not in (*IMAGE_EXTS, "txt", "json"))
            item = (neg, si, key, ext, members[ext], members.get("txt"), members.get("json"), extra)
            if full:
                heapq.heapreplace(heap, item)
            else:
                heapq.heappush(heap, item)
        eligible[si] += n_eligible
        if n_unsampled:
            counter.unsample(path, n_unsampled)
    bar.close()
    candidates = {pool: sorted(((-a, -b, -c), *rest) for (a, b, c), *rest in heap) for pool, heap in heaps.items()}
    return candidates, eligible


def _margin(n: int, max_bad_fraction: float) -> int:
    return math.ceil(max_bad_fraction * n) + 8


def _heap_sizes(plan: Mapping[str, list], max_bad_fraction: float) -> tuple[dict[str, int], dict[str, int]]:
    """(images each pool must give, candidates pass 1 keeps per pool: that plus the margin)."""
    need = {pool: sum(n for _, n in outs) for pool, outs in plan.items()}
    return need, {pool: n + _margin(n, max_bad_fraction) for pool, n in need.items()}


def _plan(name: str, n_train: int, n_val: int, source_split: str | None,
          splits: Mapping[str, int] | None) -> tuple[dict[str, int], dict[str, list], Callable]:
    """Quotas per output split, the pools that fill them and ``pool_of(meta)`` (see
    :func:`sample_dataset`); raises ValueError on bad sizes or names."""
    if splits is not None:
        if not splits:
            raise ValueError(f"dataset {name!r}: 'splits' is empty; name at least one split")
        bad = [s for s in splits if not _NAME_RE.fullmatch(str(s))]
        if bad:
            raise ValueError(f"dataset {name!r}: split names must match [A-Za-z0-9_-]+ (they name "
                             f"shards): {bad}")
        quotas = {str(s): int(n) for s, n in splits.items()}
        if min(quotas.values()) < 0 or sum(quotas.values()) == 0:
            raise ValueError(f"dataset {name!r}: split sizes must be >= 0 with at least one image, got {quotas}")
        # one pool per source split, each filling our split of the same name
        plan = {s: [(s, n)] for s, n in quotas.items() if n > 0}

        def pool_of(meta):
            split = (meta or {}).get("split")
            return split if isinstance(split, str) and split in quotas else None
    else:
        if n_train < 0 or n_val < 0 or n_train + n_val == 0:
            raise ValueError(f"need n_train >= 0, n_val >= 0 and at least one image, got {n_train}, {n_val}")
        quotas = {"val": n_val, "train": n_train}
        plan = {"": [("val", n_val), ("train", n_train)]}  # one pool: val first, then train

        def pool_of(meta):
            if meta is None or source_split is None:
                return ""
            split = meta.get("split")
            return None if split is not None and split != source_split else ""
    return quotas, plan, pool_of


def sample_dataset(
    name: str,
    shard_paths: list[str],
    out_dir: str,
    n_train: int,
    n_val: int,
    seed: int,
    max_side: int,
    max_bad_fraction: float,
    source_split: str | None = "train",
    samples_per_shard: int = 10000,
    resized_format: str = "png",
    jpeg_quality: int = 95,
    progress: bool = True,
    splits: Mapping[str, int] | None = None,
    alpha_background: tuple[int, int, int] = ALPHA_BACKGROUND,
    scans: list[str] | None = None,
) -> pd.DataFrame:
    """Draw ``n_val`` + ``n_train`` images of one dataset (see the module doc) and write them.

    ``shard_paths`` may hold patterns (expanded with :func:`expand_shards`).
    ``source_split`` None disables the pre-defined-split filter. Stale
    split shards (``train-*.tar``, ``val-*.tar``, ...) in ``out_dir/shards`` are removed
    first. Raises :class:`BadInputError` when bad input passes
    ``max_bad_fraction`` (naming the shards) and :class:`ShardError` when the
    dataset has too few eligible decodable images. Returns the index frame
    (also written to ``out_dir/index.parquet``).

    ``splits`` (e.g. ``{"train": 4000, "val": 1000, "test": 1000}``) keeps the dataset's
    OWN predefined splits instead (labeled datasets: Waterbirds, CelebA, ImageNet val): from
    the samples whose json ``split`` is that name, the first ``n`` decodable ones in priority
    order form our split of the same name; ``n_train``, ``n_val`` and ``source_split`` are then
    not used, and samples of other (or no) splits count as unsampled. A split of 0 images is
    allowed (an empty split: no shard, no index row).

    ``scans``: the files :func:`scan_chunk` wrote for every chunk of the same shard list and
    arguments; pass 1 is then their merge (the k lowest priorities of all chunks' k lowest, the
    counts added up), exactly what the single scan gives.
    """
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"dataset name must match [A-Za-z0-9_-]+ (it is part of sample keys): {name!r}")
    quotas, plan, pool_of = _plan(name, n_train, n_val, source_split, splits)
    alpha_background = tuple(int(c) for c in alpha_background)
    if len(alpha_background) != 3 or not all(0 <= c <= 255 for c in alpha_background):
        raise ValueError(f"alpha_background must be 3 values in 0..255 (R, G, B), got {alpha_background}")
    if max_side < 1 or samples_per_shard < 1:
        raise ValueError(f"max_side and samples_per_shard must be >= 1, got {max_side}, {samples_per_shard}")
    if resized_format.lower() not in _FORMATS:
        raise ValueError(f"resized_format must be png or jpeg, got {resized_format!r}")
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise ValueError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
    pil_format, resized_ext = _FORMATS[resized_format.lower()]

    shards = expand_shards(shard_paths)
    shard_dir = os.path.join(out_dir, "shards")
    inputs = {os.path.realpath(p) for p in shards}
    out_splits = list(dict.fromkeys([*SPLITS, *quotas]))
    stale = [p for s in out_splits for p in glob.glob(os.path.join(glob.escape(shard_dir), f"{s}-*.tar"))]
    if any(os.path.realpath(p) in inputs for p in stale):
        raise ValueError(f"output folder {shard_dir} holds input shards; choose another out_dir")
    for path in stale:
        os.remove(path)

    counter = BadInputCounter()
    need, k = _heap_sizes(plan, max_bad_fraction)
    total = sum(need.values())
    if scans is None:
        candidates, eligible = _collect_candidates(
            shards, name, seed, pool_of, k, counter, after=None, progress=progress
        )
    else:
        candidates, eligible = _merge_scans(scans, shards, k, counter)
    processed = [0] * len(shards)
    rows: dict[str, list] = {c: [] for c in INDEX_COLUMNS}
    writers = {
        s: ShardWriter(os.path.join(shard_dir, f"{s}-%05d.tar"), maxcount=samples_per_shard) for s in quotas
    }
    done = dict.fromkeys(quotas, 0)
    bar = tqdm(total=total, desc=f"{name}: sampling images", unit="img", disable=not progress)
    try:
        for pool, outs in plan.items():
            pool_done = 0
            pool_cands = candidates[pool]
            while True:
                order = None
                for order, si, key, ext, (offset, size), txt_loc, json_loc, extra_locs in pool_cands:
                    path = shards[si]
                    processed[si] += 1
                    data = read_member(path, offset, size)
                    try:
                        stored = decode_image(data, mode=None)
                        converted = needs_conversion(stored)
                        image = to_rgb(stored, alpha_background)
                        del stored
                        resized = _resize(image, max_side)
                        extras = _extras(path, key, extra_locs, None if resized is None else resized.size,
                                         jpeg_quality)
                    except ImageDecodeError as e:
                        counter.skip(path, "undecodable_image", detail=f"{key}: {e}")
                        continue
                    counter.use(path)
                    split = next(s for s, n in outs if done[s] < n)
                    rank = done[split]
                    done[split] += 1
                    pool_done += 1
                    meta = json.loads(read_member(path, *json_loc)) if json_loc else {}
                    caption = read_member(path, *txt_loc).decode("utf-8", "replace") if txt_loc else None
                    if resized is not None:
                        image, data, ext = resized, _encode(resized, pil_format, jpeg_quality), resized_ext
                    elif converted:  # kept at its size, but stored as decided here (see step 3)
                        data, ext = _encode(image, pil_format, jpeg_quality), resized_ext
                    out_key = f"{name}-{split}-{rank:08d}"
                    out_meta = {**meta, "dataset": name, "split": split, "source_shard": path, "source_key": key}
                    members = {ext: data}
                    if caption is not None:
                        members["txt"] = caption.encode("utf-8")
                    members["json"] = json.dumps(out_meta, ensure_ascii=False).encode("utf-8")
                    members.update(extras)
                    writer = writers[split]
                    writer.write(out_key, members)
                    record = writer.records[-1]
                    for column, value in (
                        ("key", out_key), ("dataset", name), ("split", split), ("rank", rank),
                        ("label", _label(meta)), ("source_shard", path), ("source_key", key),
                        ("shard", f"shards/{os.path.basename(record.shard)}"), ("offset", record.offset),
                        ("size", record.size), ("ext", ext), ("width", image.width),
                        ("height", image.height), ("resized", resized is not None), ("caption", caption),
                        ("metadata", json.dumps(meta, ensure_ascii=False)),
                    ):
                        rows[column].append(value)
                    bar.update(1)
                    if pool_done == need[pool]:
                        break
                if pool_done == need[pool] or order is None:
                    break
                # Candidates ran out (many undecodable): fetch the next ones in priority order.
                missing = need[pool] - pool_done
                more, _ = _collect_candidates(
                    shards, name, seed, pool_of, {pool: missing + _margin(missing, max_bad_fraction)},
                    BadInputCounter(), after={pool: order}, progress=progress,
                )
                pool_cands = more[pool]
                if not pool_cands:
                    break
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()

    for si, path in enumerate(shards):
        if eligible[si] > processed[si]:
            counter.unsample(path, eligible[si] - processed[si])
    counter.check(max_bad_fraction, what=f"sampling dataset {name!r}")
    short = {s: (done[s], n) for s, n in quotas.items() if done[s] < n}
    if short:
        by_reason = {r: n for r, n in counter.skipped_by_reason().items() if n}
        if splits is None:
            what = (f"has only {sum(done.values())} eligible decodable images, {total} needed "
                    f"(n_val={n_val}, n_train={n_train})")
            source = f"source split {source_split!r}"
        else:
            what = ("has too few eligible decodable images in its own splits (" +
                    ", ".join(f"{s!r}: {d} of {n}" for s, (d, n) in short.items()) + ")")
            source = f"json split in {sorted(quotas)}"
        raise ShardError(
            f"dataset {name!r} {what}: {counter.seen} samples seen in {len(shards)} shards, "
            f"{sum(eligible)} eligible ({source}), skipped {by_reason or 0}"
        )

    frame = _frame(rows)
    frame.to_parquet(os.path.join(out_dir, "index.parquet"), index=False)
    extra = {"dataset": name, "n_train": n_train, "n_val": n_val, "seed": seed, "source_split": source_split,
             "n_eligible": sum(eligible), "n_candidates": sum(k.values())}
    if splits is not None:
        extra.update(n_train=None, n_val=None, source_split=None, splits=quotas)
    counter.write(os.path.join(out_dir, "bad_input.json"), extra=extra)
    return frame


def chunk_range(n_shards: int, chunk: int, n_chunks: int) -> range:
    """The shard indices of ``chunk`` (0-based) of ``n_chunks`` contiguous slices of the list."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} is not in 0..{n_chunks - 1}")
    return range(chunk * n_shards // n_chunks, (chunk + 1) * n_shards // n_chunks)


_SCAN_COLUMNS = ("pool", "priority", "shard_rank", "position", "si", "key", "ext", "offset", "size",
                 "txt_offset", "txt_size", "json_offset", "json_size", "extras")


def scan_chunk(name: str, shard_paths: list[str], chunk: int, n_chunks: int, out_path: str, seed: int,
               n_train: int, n_val: int, max_bad_fraction: float, source_split: str | None = "train",
               splits: Mapping[str, int] | None = None, progress: bool = True) -> None:
    """Pass 1 of :func:`sample_dataset` over one chunk (:func:`chunk_range`) of the dataset's
    shards: writes ``out_path`` (parquet: the chunk's candidates per pool, the k lowest orders
    with their members' locations) and ``out_path + ".json"`` (its bad-input counts per shard and
    eligible samples per shard), for ``sample_dataset(..., scans=[...])`` to merge."""
    _, plan, pool_of = _plan(name, n_train, n_val, source_split, splits)
    shards = expand_shards(shard_paths)
    indices = chunk_range(len(shards), chunk, n_chunks)
    _, k = _heap_sizes(plan, max_bad_fraction)
    counter = BadInputCounter()
    candidates, eligible = _collect_candidates(shards, name, seed, pool_of, k, counter, after=None,
                                               progress=progress, indices=indices)
    rows = []
    for pool, cands in candidates.items():
        for (priority, rank, position), si, key, ext, loc, txt, js, extra in cands:
            rows.append((pool, priority, rank, position, si, key, ext, *loc, *(txt or (-1, -1)),
                         *(js or (-1, -1)), json.dumps([[e, *l] for e, l in extra])))
    frame = pd.DataFrame(rows, columns=_SCAN_COLUMNS).astype(
        {"pool": "str", "priority": "uint64", "key": "str", "ext": "str", "extras": "str"})
    frame.to_parquet(out_path, index=False)
    write_json(out_path + ".json", {
        "dataset": name, "n_shards": len(shards), "chunk": chunk, "n_chunks": n_chunks,
        "eligible": {str(si): eligible[si] for si in indices}, "counts": counter.state()})


def _merge_scans(scans: list[str], shards: list[str], k: Mapping[str, int],
                 counter: BadInputCounter) -> tuple[dict[str, list[tuple]], list[int]]:
    """:func:`_collect_candidates`'s result from the chunks :func:`scan_chunk` wrote."""
    eligible = [0] * len(shards)
    covered: list[int] = []
    pools: dict[str, list[tuple]] = {pool: [] for pool in k}
    for path in scans:
        meta = read_json(path + ".json")
        if meta["n_shards"] != len(shards):
            raise ShardError(f"{path}: a scan of {meta['n_shards']} shards, the dataset has {len(shards)}")
        counter.merge(meta["counts"])
        for si, n in meta["eligible"].items():
            eligible[int(si)] = n
            covered.append(int(si))
        frame = pd.read_parquet(path)
        for r in frame.itertuples(index=False):
            if r.pool not in pools:
                raise ShardError(f"{path}: candidates of pool {r.pool!r}, not one of {sorted(pools)}")
            loc = lambda o, n: None if o < 0 else (int(o), int(n))  # noqa: E731
            pools[r.pool].append(((int(r.priority), int(r.shard_rank), int(r.position)), int(r.si), r.key,
                                  r.ext, (int(r.offset), int(r.size)), loc(r.txt_offset, r.txt_size),
                                  loc(r.json_offset, r.json_size),
                                  tuple((e, (o, n)) for e, o, n in json.loads(r.extras))))
    if sorted(covered) != list(range(len(shards))):
        raise ShardError(f"the scans {scans} do not cover each of the {len(shards)} shards exactly once")
    return {pool: sorted(c)[:k[pool]] for pool, c in pools.items()}, eligible


def _frame(rows: dict[str, list]) -> pd.DataFrame:
    """The index DataFrame with its fixed dtypes."""
    dtypes = {
        "rank": "int64", "label": "Int64", "offset": "int64", "size": "int64",
        "width": "int64", "height": "int64", "resized": "bool",
    }
    return pd.DataFrame({c: pd.Series(rows[c], dtype=dtypes.get(c, "str")) for c in INDEX_COLUMNS})


def load_index(sample_dir: str) -> pd.DataFrame:
    """Read ``sample_dir/index.parquet``; the ``shard`` column is relative to ``sample_dir``."""
    path = os.path.join(sample_dir, "index.parquet")
    frame = pd.read_parquet(path)
    if tuple(frame.columns) != INDEX_COLUMNS:
        raise ShardError(f"{path}: columns {list(frame.columns)} differ from {list(INDEX_COLUMNS)}")
    return frame


def split_frame(index: pd.DataFrame, split: str, n: int | None = None) -> pd.DataFrame:
    """The rows of ``split`` ordered by rank, the first ``n`` per dataset (all when n is None).

    Raises :class:`ShardError` naming the dataset when it has fewer than ``n`` rows.
    """
    rows = index[index["split"] == split]
    parts = []
    for dataset in pd.unique(index["dataset"]):
        part = rows[rows["dataset"] == dataset].sort_values("rank", kind="stable")
        if n is not None:
            if n > len(part):
                raise ShardError(
                    f"dataset {dataset!r} has {len(part)} {split} images in its sample index, {n} asked for; "
                    f"sample it again with a larger n_{split}"
                )
            part = part.iloc[:n]
        parts.append(part)
    if not parts:
        raise ShardError("the sample index is empty")
    return pd.concat(parts).reset_index(drop=True)
