"""How fast one CPU core feeds a training run: decode + the paper's training transform.

``python -m vlmbias.bench loader [--format png|jpeg|both] [--size 500x375] [--quality 95]
[--model-throughput 3000] [--image PATH] [--seconds 3] [--configfile config/paper.yaml]``

One image as the sampler stores it (``sampling.resized_format``: PNG, or JPEG at
``sampling.jpeg_quality``; encoded by the sampler's own encoder), decoded by the shard reader's
``decode_image`` and put through the run's training transform (``vlmbias.train.recipe.
train_transform`` of the config's recipe: for paper.yaml RandomResizedCrop 224, flip,
RandAugment rand-m9-mstd0.5-inc1, normalise), in this process on one thread, repeated for
``--seconds``: images/s per core, decode alone and decode + transform. A loader worker is one
such process, so the cores (workers) one GPU needs is the model's images/s over that rate.

The image: ``--image`` (resized to ``--size`` as the sampler would store it), or a seeded
procedural photo stand-in: 1/f colour noise over several octaves plus sensor noise, whose PNG is
about as large as a photo's (the issue's 500x375 photo: 363 KB as PNG, 84 KB as JPEG q95).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time

import numpy as np
import torch
import yaml
from PIL import Image

from vlmbias.shards.reader import decode_image
from vlmbias.shards.sampler import _encode
from vlmbias.train import recipe as R

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FORMATS = {"png": "PNG", "jpeg": "JPEG"}


def photo_stand_in(width: int, height: int, seed: int = 0) -> Image.Image:
    """A seeded RGB image with a photo's statistics: 1/f colour noise (octaves of bicubically
    upsampled noise, amplitude proportional to scale) plus per-pixel sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    for octave in range(2, 9):
        cells = 2 ** octave
        small = rng.normal(size=(max(2, cells * height // width), cells, 3)).astype(np.float32)
        small[..., 1:] = 0.6 * small[..., :1] + 0.4 * small[..., 1:]  # correlated channels
        up = np.stack([np.asarray(Image.fromarray(small[..., c]).resize((width, height), Image.Resampling.BICUBIC))
                       for c in range(3)], -1)
        img += up * (40.0 / cells ** 0.5)
    img += rng.normal(scale=4.0, size=img.shape)
    return Image.fromarray(np.clip(img + 128, 0, 255).astype(np.uint8))


def paper_recipe(configfile: str | pathlib.Path) -> dict:
    """The training recipe (``train`` with its default augmentation) of a config file."""
    from vlmbias.dsc.spec import resolve_recipe

    with open(configfile) as f:
        return resolve_recipe(yaml.safe_load(f), "default")


def rate(fn, data: bytes, seconds: float, min_images: int = 20) -> float:
    """Images/s of ``fn(data)`` on this thread (after 3 warm-up calls)."""
    for _ in range(3):
        fn(data)
    n, t0 = 0, time.perf_counter()
    while n < min_images or time.perf_counter() - t0 < seconds:
        fn(data)
        n += 1
    return n / (time.perf_counter() - t0)


def measure(image: Image.Image, fmt: str, quality: int, recipe: dict, seconds: float) -> dict:
    """Encoded size and per-core rates (decode; decode + training transform) of one format."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    data = _encode(image, FORMATS[fmt], quality)
    transform = R.train_transform(recipe)
    torch.manual_seed(0)
    return {"format": fmt if fmt == "png" else f"jpeg q{quality}", "bytes": len(data),
            "decode": rate(decode_image, data, seconds),
            "decode+transform": rate(lambda d: transform(decode_image(d)), data, seconds)}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="python -m vlmbias.bench loader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=["png", "jpeg", "both"], default="both")
    ap.add_argument("--size", default="500x375", help="WIDTHxHEIGHT of the stored image")
    ap.add_argument("--quality", type=int, default=95, help="JPEG quality (sampling.jpeg_quality)")
    ap.add_argument("--model-throughput", type=float, default=3000.0,
                    help="images/s one GPU trains on (ConvNeXt-T, bf16, H100: a few thousand)")
    ap.add_argument("--image", help="a real image file instead of the procedural stand-in")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    ap.add_argument("--configfile", default=str(ROOT / "config/paper.yaml"), help="whose train recipe")
    a = ap.parse_args(argv)
    try:
        width, height = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        ap.error(f"--size must be WIDTHxHEIGHT, e.g. 500x375, got {a.size!r}")
    if not 1 <= a.quality <= 100:
        ap.error(f"--quality must be 1..100, got {a.quality}")
    if a.image:
        image = Image.open(a.image).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    else:
        image = photo_stand_in(width, height)
    recipe = paper_recipe(a.configfile)
    torch.set_num_threads(1)
    rows = [measure(image, f, a.quality, recipe, a.seconds)
            for f in (["png", "jpeg"] if a.format == "both" else [a.format])]
    aug = R.augment_settings(recipe)
    print(f"{width}x{height} {'image ' + a.image if a.image else 'procedural photo stand-in'}; "
          f"training transform of {pathlib.Path(a.configfile).name}: {recipe['input_size']} px, "
          f"RandomResizedCrop {aug['random_crop']}, hflip {aug['hflip']}, {aug['auto_augment']}; "
          f"one process, one thread")
    print(f"{'format':10s} {'KB':>6s} {'decode img/s':>13s} {'+transform img/s':>17s} "
          f"{'cores per GPU at ' + format(a.model_throughput, '.0f') + ' img/s':>30s}")
    for r in rows:
        r["cores_per_gpu"] = math.ceil(a.model_throughput / r["decode+transform"])
        print(f"{r['format']:10s} {r['bytes'] / 1000:6.0f} {r['decode']:13.0f} {r['decode+transform']:17.0f} "
              f"{r['cores_per_gpu']:30d}")
    return rows
