"""Helpers for the shard and sampling tests: tiny PIL images and WebDataset shards."""

from __future__ import annotations

import io
import json
import os

from PIL import Image

from vlmbias.shards.writer import ShardWriter, WrittenSample


def image_bytes(width: int, height: int, fmt: str = "PNG", seed: int = 0) -> bytes:
    """A small image whose pixels depend on ``seed`` (distinct bytes for distinct seeds)."""
    image = Image.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    image.putpixel((0, 0), (seed % 256, (seed // 256) % 256, 7))
    buf = io.BytesIO()
    image.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def sample(index: int, width: int = 24, height: int = 16, fmt: str = "PNG", caption: bool = True,
           **meta) -> dict[str, bytes]:
    """Members of one ordinary sample: image, caption and json metadata (label = index % 3)."""
    ext = "png" if fmt == "PNG" else "jpg"
    members = {ext: image_bytes(width, height, fmt, seed=index)}
    if caption:
        members["txt"] = f"caption {index}".encode()
    members["json"] = json.dumps({"label": index % 3, "idx": index, **meta}).encode()
    return members


def write_shard(path: str, samples: list[tuple[str, dict[str, bytes]]]) -> list[WrittenSample]:
    """Write ``(key, members)`` samples into one tar; return the image records."""
    with ShardWriter(str(path)) as writer:
        for key, members in samples:
            writer.write(key, members)
    return writer.records


def make_dataset(folder, n_shards: int, per_shard: int, sizes=((24, 16), (40, 30), (16, 20)),
                 split_of=None, members_of=None) -> list[str]:
    """``n_shards`` shards of ``per_shard`` samples; returns their paths.

    Sample ``i`` (global index) has size ``sizes[i % len(sizes)]``, jpg when i is odd,
    meta ``split`` ``split_of(i)`` when given; ``members_of(i)`` overrides everything.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for s in range(n_shards):
        samples = []
        for j in range(per_shard):
            i = s * per_shard + j
            if members_of is not None:
                members = members_of(i)
            else:
                w, h = sizes[i % len(sizes)]
                extra = {"split": split_of(i)} if split_of else {}
                members = sample(i, w, h, "JPEG" if i % 2 else "PNG", **extra)
            samples.append((f"{s:05d}{j:04d}", members))
        path = os.path.join(str(folder), f"{s:05d}.tar")
        write_shard(path, samples)
        paths.append(path)
    return paths


def assert_balanced(report: dict) -> None:
    """The counter report's identity, re-checked from its numbers."""
    assert report["seen"] == report["used"] + report["skipped"] + report["unsampled"]
    assert report["skipped"] == sum(report["skipped_by_reason"].values())
    assert report["identity_holds"] is True
