"""Seeded uniform sampling of a dataset's shards into train/val sample shards plus an index.

The protocol of Liu & He (appendix A), made streaming and seeded:

1. Pass 1 streams the tar headers of every shard (:func:`vlmbias.shards.scan_shard`).
   Each valid sample gets the priority :func:`sample_priority` (a hash of seed,
   dataset name, shard basename and key: deterministic and independent of the
   shard order). Samples whose metadata ``split`` differs from
   ``source_split`` are not eligible ("if a dataset already has pre-defined
   train/val splits, we only sample from its train split"; our train AND val
   are both drawn from it, disjoint); they count as unsampled. A bounded heap
   keeps the K lowest priorities,
   K = n_train + n_val + ceil(max_bad_fraction * (n_train + n_val)) + 8:
   memory is O(K), whatever the number of shards and images.
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
   keep their original bytes and extension (never upscaled or re-encoded).
4. Output: ``out_dir/shards/{split}-{i:05d}.tar`` (rank order), ``out_dir/index.parquet``
   (columns :data:`INDEX_COLUMNS`) and ``out_dir/bad_input.json``.

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

import pandas as pd
from PIL import Image
from tqdm import tqdm

from vlmbias.shards import (
    BadInputCounter,
    ImageDecodeError,
    ShardError,
    ShardWriter,
    decode_image,
    expand_shards,
    read_member,
    scan_shard,
)

#: Columns of ``index.parquet``, in order.
INDEX_COLUMNS = (
    "key", "dataset", "split", "rank", "label", "source_shard", "source_key", "shard",
    "offset", "size", "ext", "width", "height", "resized", "caption", "metadata",
)
SPLITS = ("val", "train")  # filled in this order
_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")
_INT_RE = re.compile(r"-?\d+")
_FORMATS = {"png": ("PNG", "png"), "jpeg": ("JPEG", "jpg"), "jpg": ("JPEG", "jpg")}


def sample_priority(seed: int, name: str, shard: str, key: str) -> int:
    """Priority of a sample: the first 8 bytes (big-endian uint64) of
    blake2b(f"{seed}\\x00{name}\\x00{basename(shard)}\\x00{key}")."""
    text = f"{seed}\x00{name}\x00{os.path.basename(shard)}\x00{key}"
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogateescape")).digest()[:8], "big")


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
    if fmt == "JPEG":
        image.save(buf, format="JPEG", quality=jpeg_quality)
    else:
        image.save(buf, format="PNG")
    return buf.getvalue()


def _collect_candidates(
    shards: list[str],
    name: str,
    seed: int,
    source_split: str | None,
    k: int,
    counter: BadInputCounter,
    after: tuple | None,
    progress: bool,
) -> tuple[list[tuple], list[int]]:
    """Pass 1: the k eligible samples of lowest (priority, shard rank, position) above ``after``.

    Returns the candidates in ascending order, as tuples
    ``(order, shard_index, key, image_ext, image_loc, txt_loc, json_loc)`` with
    ``order = (priority, shard_rank, position)``, and the number of eligible
    samples per shard. Ineligible samples count as unsampled in ``counter``.
    """
    shard_rank = {path: r for r, path in enumerate(sorted(shards))}
    heap: list[tuple] = []  # max-heap on order through negation
    eligible = [0] * len(shards)
    bar = tqdm(shards, desc=f"{name}: scanning shards", unit="shard", disable=not progress)
    for si, path in enumerate(bar):
        for position, ref in enumerate(scan_shard(path, counter, read_json=True)):
            split = (ref.meta or {}).get("split")
            if source_split is not None and split is not None and split != source_split:
                counter.unsample(path)
                continue
            eligible[si] += 1
            order = (sample_priority(seed, name, path, ref.key), shard_rank[path], position)
            if after is not None and order <= after:
                continue
            neg = (-order[0], -order[1], -order[2])
            if len(heap) >= k and neg <= heap[0][0]:
                continue
            ext = ref.image_ext
            item = (neg, si, ref.key, ext, ref.members[ext], ref.members.get("txt"), ref.members.get("json"))
            if len(heap) < k:
                heapq.heappush(heap, item)
            else:
                heapq.heapreplace(heap, item)
    bar.close()
    candidates = sorted(((-a, -b, -c), *rest) for (a, b, c), *rest in heap)
    return candidates, eligible


def _margin(n: int, max_bad_fraction: float) -> int:
    return math.ceil(max_bad_fraction * n) + 8


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
) -> pd.DataFrame:
    """Draw ``n_val`` + ``n_train`` images of one dataset (see the module doc) and write them.

    ``shard_paths`` may hold patterns (expanded with :func:`expand_shards`).
    ``source_split`` None disables the pre-defined-split filter. Stale
    ``train-*.tar`` / ``val-*.tar`` files in ``out_dir/shards`` are removed
    first. Raises :class:`BadInputError` when bad input passes
    ``max_bad_fraction`` (naming the shards) and :class:`ShardError` when the
    dataset has too few eligible decodable images. Returns the index frame
    (also written to ``out_dir/index.parquet``).
    """
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"dataset name must match [A-Za-z0-9_-]+ (it is part of sample keys): {name!r}")
    if n_train < 0 or n_val < 0 or n_train + n_val == 0:
        raise ValueError(f"need n_train >= 0, n_val >= 0 and at least one image, got {n_train}, {n_val}")
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
    stale = [p for s in SPLITS for p in glob.glob(os.path.join(glob.escape(shard_dir), f"{s}-*.tar"))]
    if any(os.path.realpath(p) in inputs for p in stale):
        raise ValueError(f"output folder {shard_dir} holds input shards; choose another out_dir")
    for path in stale:
        os.remove(path)

    counter = BadInputCounter()
    need = {"val": n_val, "train": n_train}
    total = n_val + n_train
    k = total + _margin(total, max_bad_fraction)
    candidates, eligible = _collect_candidates(
        shards, name, seed, source_split, k, counter, after=None, progress=progress
    )
    processed = [0] * len(shards)
    rows: dict[str, list] = {c: [] for c in INDEX_COLUMNS}
    writers = {
        s: ShardWriter(os.path.join(shard_dir, f"{s}-%05d.tar"), maxcount=samples_per_shard) for s in SPLITS
    }
    done = {"val": 0, "train": 0}
    bar = tqdm(total=total, desc=f"{name}: sampling images", unit="img", disable=not progress)
    try:
        while True:
            for order, si, key, ext, (offset, size), txt_loc, json_loc in candidates:
                path = shards[si]
                processed[si] += 1
                data = read_member(path, offset, size)
                try:
                    image = decode_image(data)
                except ImageDecodeError as e:
                    counter.skip(path, "undecodable_image", detail=f"{key}: {e}")
                    continue
                counter.use(path)
                split = "val" if done["val"] < n_val else "train"
                rank = done[split]
                done[split] += 1
                meta = json.loads(read_member(path, *json_loc)) if json_loc else {}
                caption = read_member(path, *txt_loc).decode("utf-8", "replace") if txt_loc else None
                resized = _resize(image, max_side)
                if resized is not None:
                    image, data, ext = resized, _encode(resized, pil_format, jpeg_quality), resized_ext
                out_key = f"{name}-{split}-{rank:08d}"
                out_meta = {**meta, "dataset": name, "split": split, "source_shard": path, "source_key": key}
                members = {ext: data}
                if caption is not None:
                    members["txt"] = caption.encode("utf-8")
                members["json"] = json.dumps(out_meta, ensure_ascii=False).encode("utf-8")
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
                if done["train"] == n_train and done["val"] == n_val:
                    break
            left = sum(eligible) - sum(processed)
            if sum(done.values()) == total or left == 0:
                break
            # Candidates ran out (many undecodable): fetch the next ones in priority order.
            missing = total - sum(done.values())
            candidates, _ = _collect_candidates(
                shards, name, seed, source_split, missing + _margin(missing, max_bad_fraction),
                BadInputCounter(), after=order, progress=progress,
            )
            if not candidates:
                raise ShardError(f"dataset {name!r}: shards changed while being sampled: {shards[:3]} ...")
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()

    for si, path in enumerate(shards):
        if eligible[si] > processed[si]:
            counter.unsample(path, eligible[si] - processed[si])
    counter.check(max_bad_fraction, what=f"sampling dataset {name!r}")
    if sum(done.values()) < total:
        by_reason = {r: n for r, n in counter.skipped_by_reason().items() if n}
        raise ShardError(
            f"dataset {name!r} has only {sum(done.values())} eligible decodable images, "
            f"{total} needed (n_val={n_val}, n_train={n_train}): {counter.seen} samples seen in "
            f"{len(shards)} shards, {sum(eligible)} eligible (source split {source_split!r}), "
            f"skipped {by_reason or 0}"
        )

    frame = _frame(rows)
    frame.to_parquet(os.path.join(out_dir, "index.parquet"), index=False)
    counter.write(
        os.path.join(out_dir, "bad_input.json"),
        extra={"dataset": name, "n_train": n_train, "n_val": n_val, "seed": seed,
               "source_split": source_split, "n_eligible": sum(eligible), "n_candidates": k},
    )
    return frame


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
