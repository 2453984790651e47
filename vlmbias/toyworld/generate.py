"""Rendering and shard writing.

Sample ``index`` of source ``name`` is drawn from its own generator seeded with
``(seed, crc32(name), index)`` (``sample_seed``), so a sample does not depend on how samples
are split over shards. ``generate_source`` writes a source's samples as WebDataset tar
shards through the project's shard writer (``vlmbias.shards.writer.ShardWriter``): for
every sample ``KEY.jpg`` (or ``KEY.png``), ``KEY.txt`` and ``KEY.json``, then the component's
extra members as PNG (``Content.extras``, e.g. ``KEY.car_mask.png``), if any.
"""

from __future__ import annotations

import io
import json
import os
import re
import zlib
from collections import Counter

import numpy as np
from PIL import Image
from tqdm import tqdm

from vlmbias.shards.writer import ShardWriter
from vlmbias.toyworld.scenes import COMPONENTS
from vlmbias.toyworld.signatures import apply_signature, apply_texture, scaled
from vlmbias.toyworld.sources import SHARED_CONTENT, _spec


def sample_seed(name: str, index: int, seed: int) -> np.random.SeedSequence:
    """The seed sequence of one sample: (seed, crc32(name), index); stable across runs."""
    if index < 0 or seed < 0:
        raise ValueError("index and seed must be >= 0")
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8")), int(index)])


def _child_rng(name: str, index: int, seed: int, k: int) -> np.random.Generator:
    """The generator of a sample's child seed ``k`` (0-3: frame, content, look, metadata; 4: the
    planner; 5: shared content; 6: texture), each drawn alone so that adding one leaves the others."""
    return np.random.default_rng(sample_seed(name, index, seed).spawn(k + 1)[k])


def _check_difficulty(name: str, shared_content: float, signature_strength: float,
                      texture_strength: float = 0.0) -> None:
    if not 0.0 <= shared_content <= 1.0:
        raise ValueError(f"shared_content must be in [0, 1], got {shared_content}")
    if signature_strength < 0:
        raise ValueError(f"signature_strength must be >= 0, got {signature_strength}")
    if texture_strength < 0:
        raise ValueError(f"texture_strength must be >= 0, got {texture_strength}")
    if (shared_content, signature_strength, texture_strength) != (0.0, 1.0, 0.0) and not _spec(name).web:
        raise ValueError(f"toy source {name!r} is not a web stand-in: shared_content, signature_strength and "
                         "texture_strength apply to yfcc, cc, datacomp, laion and wit only")


def _render_sample(name: str, index: int, image_size: int, seed: int, shared_content: float = 0.0,
                   signature_strength: float = 1.0, texture_strength: float = 0.0):
    spec = _spec(name)
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    ss_frame, ss_content, ss_sig, ss_meta = sample_seed(name, index, seed).spawn(4)
    rng_frame = np.random.default_rng(ss_frame)
    component = spec.pick_component(rng_frame)
    shared = False
    if shared_content > 0:  # an extra child seed (the planner's is the fifth): the other draws unchanged
        rng_shared = _child_rng(name, index, seed, 5)
        if rng_shared.random() < shared_content:
            component, shared = SHARED_CONTENT[int(rng_shared.integers(len(SHARED_CONTENT)))], True
    w, h = spec.canvas_size(rng_frame, image_size)
    if spec.planner is not None:  # an extra child seed: the other four (and old bytes) unchanged
        plan = spec.planner(_child_rng(name, index, seed, 4), index)
        content = COMPONENTS[component](np.random.default_rng(ss_content), w, h, **plan)
    else:
        content = COMPONENTS[component](np.random.default_rng(ss_content), w, h)
    rng_sig = np.random.default_rng(ss_sig)
    signature = scaled(spec.signature, signature_strength)
    image = apply_signature(content.image.convert("RGB"), signature, rng_sig)
    if texture_strength > 0:  # its own child seed (the seventh): the look's draws unchanged
        image = apply_texture(image, signature, texture_strength, _child_rng(name, index, seed, 6))
    if image.size != (w, h):
        raise RuntimeError(f"component {component!r} returned size {image.size}, expected {(w, h)}")
    key = f"{name}_{index:07d}"
    meta = {"key": key, "source": name, "content": component, "caption": content.caption,
            "width": w, "height": h, **content.attrs}
    if shared_content > 0:
        meta["shared_content"] = shared
    if spec.meta_hook is not None:
        meta.update(spec.meta_hook(np.random.default_rng(ss_meta), index, dict(meta)))
    buf = io.BytesIO()
    if spec.image_format == "png":
        image.save(buf, format="PNG", optimize=False, compress_level=6)
    else:
        lo, hi = signature.jpeg_quality
        image.save(buf, format="JPEG", quality=int(rng_sig.integers(lo, hi + 1)))
    data = buf.getvalue()
    extras = _encode_extras(component, content.extras, data, (w, h))
    return image, content.caption, meta, spec.image_format, data, extras


_EXTRA_RE = re.compile(r"[a-z0-9_]+\.png")


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _encode_extras(component: str, extras: dict, data: bytes, size: tuple[int, int]) -> dict[str, bytes]:
    """A component's extra members as PNG bytes (see ``Content.extras``); functions get the image
    as written, decoded from ``data``."""
    out: dict[str, bytes] = {}
    written = None
    for member, value in extras.items():
        if not isinstance(member, str) or not _EXTRA_RE.fullmatch(member):
            raise ValueError(f"component {component!r}: extra member {member!r} must be a lower-case name "
                             f"ending in '.png' (e.g. 'car_mask.png')")
        if callable(value):
            if written is None:
                written = Image.open(io.BytesIO(data)).convert("RGB")
            value = value(written)
        if not isinstance(value, Image.Image) or value.size != size:
            got = value.size if isinstance(value, Image.Image) else type(value).__name__
            raise RuntimeError(f"component {component!r}: extra member {member!r} is {got}, expected an image "
                               f"of size {size}")
        out[member] = _png(value)
    return out


def render(name: str, index: int, image_size: int, seed: int, shared_content: float = 0.0,
           signature_strength: float = 1.0, texture_strength: float = 0.0) -> tuple[Image.Image, str, dict, str]:
    """One sample of a source: (image before encoding, caption, json metadata, image extension)."""
    _check_difficulty(name, shared_content, signature_strength, texture_strength)
    image, caption, meta, ext, _, _ = _render_sample(name, index, image_size, seed, shared_content,
                                                     signature_strength, texture_strength)
    return image, caption, meta, ext


def render_encoded(name: str, index: int, image_size: int, seed: int, shared_content: float = 0.0,
                   signature_strength: float = 1.0, texture_strength: float = 0.0) -> tuple[bytes, str, dict]:
    """One sample's image as its shard holds it: (encoded bytes, extension, json metadata)."""
    _check_difficulty(name, shared_content, signature_strength, texture_strength)
    _, _, meta, ext, data, _ = _render_sample(name, index, image_size, seed, shared_content, signature_strength,
                                              texture_strength)
    return data, ext, meta


def _split_counts(n: int, k: int) -> list[int]:
    q, r = divmod(n, k)
    return [q + (1 if i < r else 0) for i in range(k)]


_SUMMARY_FIELDS = ("content", "people", "setting", "style", "split", "class_name", "shared_content")


def generate_source(name: str, n_images: int, shard_paths: list[str], image_size: int = 64, seed: int = 0,
                    progress: bool = False, shared_content: float = 0.0, signature_strength: float = 1.0,
                    texture_strength: float = 0.0) -> dict:
    """Write ``n_images`` samples of source ``name`` into the given tar shards.

    Samples ``0..n_images-1`` are split as evenly as possible over ``shard_paths`` in order
    (earlier shards take the remainder). Returns a summary with per-shard counts and counts
    per content component and group attribute.

    The world's difficulty, for the web stand-ins only (``SourceSpec.web``): ``shared_content``
    is the share of images drawn from the content every web source shows (``SHARED_CONTENT``)
    instead of the source's own mixture; ``signature_strength`` scales the source's low-level
    look toward neutral (``signatures.scaled``); ``texture_strength`` adds the source's fine
    texture (grain, mottling, sharpening: ``signatures.apply_texture``) at that multiple of its
    registered one. The defaults (0, 1, 0) leave every byte as it was.
    """
    spec = _spec(name)
    _check_difficulty(name, shared_content, signature_strength, texture_strength)
    if isinstance(shard_paths, (str, bytes, os.PathLike)):
        raise TypeError("shard_paths must be a list of paths")
    shard_paths = [os.fspath(p) for p in shard_paths]
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    if not shard_paths:
        raise ValueError("shard_paths is empty")
    counts = _split_counts(int(n_images), len(shard_paths))
    tally: dict[str, Counter] = {f: Counter() for f in _SUMMARY_FIELDS}
    fmt = Counter()
    bar = None
    if progress:
        bar = tqdm(total=n_images, desc=f"toy {name}", unit="img")
    index = 0
    shards = []
    try:
        for path, count in zip(shard_paths, counts):
            with ShardWriter(path) as writer:  # an exception removes the shard being written
                for i in range(index, index + count):
                    _, caption, meta, ext, data, extras = _render_sample(name, i, image_size, seed, shared_content,
                                                                         signature_strength, texture_strength)
                    writer.write(meta["key"], {ext: data, "txt": caption.encode("utf-8"),
                                               "json": json.dumps(meta, sort_keys=True).encode("utf-8"), **extras})
                    fmt[ext] += 1
                    for f in _SUMMARY_FIELDS:
                        if f in meta:
                            tally[f][str(meta[f])] += 1
                    if bar is not None:
                        bar.update(1)
            shards.append({"path": path, "n_images": count, "first_index": index})
            index += count
    finally:
        if bar is not None:
            bar.close()
    return {
        "source": name,
        "n_images": int(n_images),
        "image_size": int(image_size),
        "seed": int(seed),
        "image_format": spec.image_format,
        "shared_content": float(shared_content),
        "signature_strength": float(signature_strength),
        "texture_strength": float(texture_strength),
        "shards": shards,
        "formats": dict(sorted(fmt.items())),
        "counts": {f: dict(sorted(c.items())) for f, c in tally.items() if c},
    }
