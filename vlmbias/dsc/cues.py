"""What tells datasets apart (by default t06's three, YFCC, CC and DataComp): linear probes on
simple image statistics, under each corruption of t06 (a diagnostic; it prints figures, the
workflow does not run it).

Each dataset of the config is read from what the workflow reads: a toy-world source rendered as
its shards hold it (the config's ``toyworld`` seed and size, and for the web stand-ins
``shared_content``, ``signature_strength`` and ``texture_strength``), or a dataset of your own
raw shards, its valid samples taken from up to ``--n`` shards spread evenly over its shard list
(the same share from each, in shard order), decoded by the one shard reader (an undecodable image is skipped and
counted, as the sampler counts it; the sampler's resize to ``sampling.max_side`` is left out,
since the evaluation transform below resizes every image to the model's input anyway).
Each image is corrupted as t06 corrupts its validation images
(``vlmbias.dsc.spec.resolve_corruption``, one fixed draw per image:
``vlmbias.shards.dataset.seeded_draw``) and brought to the model's input by the config's
dataset-classification evaluation transform (``vlmbias.train.recipe.eval_transform`` of
``train:``; normalised, which the probe's standardisation undoes). Three families of features:

- ``colour``: each channel's mean and standard deviation (6 numbers), the global colour
  statistics that colour jitter rewrites and a 5x5-pixel image keeps;
- ``tiny``: the image average-pooled to 5x5 pixels (75 numbers): layout and colour, no texture;
- ``texture``: each channel's mean absolute and RMS residual after a 3x3 box blur, divided by
  the channel's standard deviation (6 numbers): noise, JPEG and sharpness relative to the
  image's contrast, so that a brightness or contrast change cancels out.

A softmax regression on standardised features (L-BFGS, L2 1e-3), trained on two thirds of each
dataset's images, is scored on the other third (every third image): the accuracy (%) says how
much of the separation a cue family alone carries, and how much of it a corruption destroys.
The material's sources lose little to colour jitter (3.6 points) and more to low resolution
(6-16; Liu & He Table 5): a toy world like them would have ``colour`` carry little of the
separation and ``texture`` much.

    python -m vlmbias.dsc.cues --configfile config/config.yaml [--n 600]
    python -m vlmbias.dsc.cues --configfile config/config.yaml config/subtle_cues.yaml \
        --datasets subtle_cast subtle_grain subtle_soft
    python -m vlmbias.dsc.cues --configfile config/paper.yaml --datasets yfcc cc datacomp wit laion imagenet
"""

from __future__ import annotations

import argparse
import math
from itertools import islice
from typing import Callable

import torch
from PIL import Image

from vlmbias.core.config import ConfigError, dataset_shard_paths, load_config, toy_difficulty, toy_source
from vlmbias.dsc.spec import PlanError, resolve_corruption, resolve_recipe
from vlmbias.shards.dataset import seeded_draw
from vlmbias.shards.reader import BadInputCounter, ShardError, decode_image, iter_samples
from vlmbias.train import corruptions as C
from vlmbias.train import recipe as R
from vlmbias.toyworld.generate import render_encoded


def colour(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


def tiny(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.adaptive_avg_pool2d(x, 5).flatten(1)


def texture(x: torch.Tensor) -> torch.Tensor:
    r = x - torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    scale = x.std((2, 3)) + 1e-3     # relative to the channel's contrast: a gain or contrast change cancels
    return torch.cat([r.abs().mean((2, 3)) / scale, r.pow(2).mean((2, 3)).sqrt() / scale], 1)


FEATURES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"colour": colour, "tiny": tiny, "texture": texture}


def toy_images(source: str, n: int, config: dict) -> list[Image.Image]:
    """Samples 0..n-1 of a toy-world source, decoded as its shards hold them, drawn with the
    config's toyworld seed and image size and the source's difficulty knobs
    (``vlmbias.core.config.toy_difficulty``)."""
    tw = config["toyworld"]
    out = []
    for i in range(n):
        data, _, _ = render_encoded(source, i, int(tw["image_size"]), int(tw["seed"]), **toy_difficulty(config, source))
        out.append(decode_image(data))
    return out


def shard_images(paths: list[str], n: int, max_bad_fraction: float, what: str) -> list[Image.Image]:
    """Up to ``n`` valid images of raw shards: an equal share from each of up to ``n`` shards
    spread evenly over ``paths``, each in shard order (a shard that holds fewer
    leaves its rest to the shards after it, then to the shards not picked, in order).
    Undecodable images and bad members are skipped and counted; more than ``max_bad_fraction``
    of those seen is an error naming the worst shards (``BadInputCounter.check``)."""
    m = min(n, len(paths))
    picked = list(dict.fromkeys(paths[round(i * (len(paths) - 1) / max(1, m - 1))] for i in range(m)))
    taken = set(picked)
    rest = [p for p in paths if p not in taken]
    counter = BadInputCounter()
    out: list[Image.Image] = []
    for i, path in enumerate(picked + rest):
        if len(out) == n:
            break
        quota = math.ceil((n - len(out)) / (len(picked) - i)) if i < len(picked) else n - len(out)
        out += [s["image"] for s in islice(iter_samples([path], counter), quota)]
    counter.check(max_bad_fraction, what)
    return out


def decoded(datasets: list[str], n: int, config: dict) -> tuple[list[Image.Image], torch.Tensor]:
    """(``n`` images of each dataset of the config, as the workflow reads them; dataset index):
    a toy source's samples 0..n-1 (``toy_images``) or images of the dataset's raw shards
    (``shard_images`` of ``core.config.dataset_shard_paths``: the user's patterns expanded and
    checked, or an official UrbanCars folder's converted shards). A dataset with fewer than 3
    images (two to fit, one to score) is an error naming it."""
    entries = config.get("datasets") or {}
    out, ys = [], []
    for k, name in enumerate(datasets):
        if name not in entries:
            raise ConfigError(f"datasets.{name}: not in the config (it has: {', '.join(entries) or 'none'})")
        entry = entries[name]
        if toy_source(entry):
            imgs = toy_images(toy_source(entry), n, config)
        else:
            imgs = shard_images(dataset_shard_paths(config, name), n, float(config.get("max_bad_fraction", 0.0)),
                                f"datasets.{name}")
        if len(imgs) < 3:
            raise ConfigError(f"datasets.{name}: {len(imgs)} readable images, the probe needs at least 3")
        out += imgs
        ys += [k] * len(imgs)
    return out, torch.tensor(ys)


def prepared(imgs: list[Image.Image], transform: Callable, corruption: dict | None, seed: int = 0) -> torch.Tensor:
    """[N, 3, H, W]: each image corrupted (a fixed draw per image, as a t06 validation image) and
    transformed."""
    corrupt = C.build(corruption)
    return torch.stack([transform(seeded_draw(corrupt, im, seed, i) if corrupt else im)
                        for i, im in enumerate(imgs)])


def probe_accuracy(feats: torch.Tensor, y: torch.Tensor, l2: float = 1e-3) -> float:
    """Validation accuracy (%) of a softmax regression on standardised ``feats``: every third
    sample of each class (in order) is validation, the rest train."""
    val = torch.zeros(len(y), dtype=torch.bool)
    for c in torch.unique(y):
        val[(y == c).nonzero().flatten()[::3]] = True
    tr = ~val
    if len(torch.unique(y[tr])) < 2 or not val.any():
        raise ValueError("probe_accuracy needs two classes in train and a non-empty validation third")
    mu, sd = feats[tr].mean(0), feats[tr].std(0) + 1e-6
    f = ((feats - mu) / sd).double()
    k = int(y.max()) + 1
    w = torch.zeros(f.shape[1], k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(f[tr] @ w + b, y[tr]) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((f[val] @ w + b).argmax(1) == y[val]).double().mean() * 100)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m vlmbias.dsc.cues", description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                    help="config files, later ones overlaid as Snakemake does and validated against config/schema.yaml; "
                         "their toyworld: and corruptions:")
    ap.add_argument("--datasets", nargs="+", default=["yfcc", "cc", "datacomp"], help="names from the config's datasets:")
    ap.add_argument("--n", type=int, default=600, help="images per dataset (a third of them validation)")
    ap.add_argument("--input-size", type=int, default=None, help="default: the config's train.input_size")
    ap.add_argument("--corruptions", nargs="*", default=None,
                    help="names from the config's corruptions: (default: all of them), besides none")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.configfile)
    except ConfigError as e:
        raise SystemExit(str(e)) from None
    names = list(cfg.get("corruptions") or {}) if args.corruptions is None else args.corruptions
    try:
        specs = {name: resolve_corruption(cfg, name) for name in ["none", *names]}
    except PlanError as e:
        raise SystemExit(f"{' + '.join(args.configfile)}: no corruption of that name ({e})") from None
    recipe = resolve_recipe(cfg)
    if args.input_size is not None:
        recipe["input_size"] = args.input_size
    transform = R.eval_transform(recipe)
    try:
        imgs, y = decoded(args.datasets, args.n, cfg)
    except (ConfigError, ShardError) as e:
        raise SystemExit(f"{' + '.join(args.configfile)}: {e}") from None
    counts = torch.bincount(y).tolist()
    print(f"linear probes on {', '.join(f'{d} ({c})' for d, c in zip(args.datasets, counts))} images "
          f"({recipe['input_size']} px; chance {100 / len(args.datasets):.1f}%), validation accuracy %")
    print(f"{'corruption':18s}" + "".join(f"{k:>9s}" for k in FEATURES), flush=True)
    for name, spec in specs.items():
        x = prepared(imgs, transform, spec)
        print(f"{name:18s}" + "".join(f"{probe_accuracy(fn(x), y):9.1f}" for fn in FEATURES.values()), flush=True)


if __name__ == "__main__":
    main()
