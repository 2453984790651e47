"""What tells toy sources apart (by default the web stand-ins of t06): linear probes on simple
image statistics, under each corruption of t06 (a diagnostic; it prints figures, the workflow
does not run it).

Each source's images are rendered as their shards hold them (the config's ``toyworld`` seed,
size, and for the web stand-ins ``shared_content`` and ``signature_strength``), decoded,
corrupted as t06 corrupts its validation images (``vlmbias.dsc.spec.resolve_corruption``, one
fixed draw per image: ``vlmbias.shards.dataset.seeded_draw``), and brought to the model's input
by the config's dataset-classification evaluation transform (``vlmbias.train.recipe.eval_transform``
of ``train:``; normalised, which the probe's standardisation undoes). Three families of features:

- ``colour``: each channel's mean and standard deviation (6 numbers), the global colour
  statistics that colour jitter rewrites and a 5x5-pixel image keeps;
- ``tiny``: the image average-pooled to 5x5 pixels (75 numbers): layout and colour, no texture;
- ``texture``: each channel's mean absolute and RMS residual after a 3x3 box blur, divided by
  the channel's standard deviation (6 numbers): noise, JPEG and sharpness relative to the
  image's contrast, so that a brightness or contrast change cancels out.

A softmax regression on standardised features (L-BFGS, L2 1e-3), trained on two thirds of each
source's images, is scored on the other third (every third image): the accuracy (%) says how
much of the separation a cue family alone carries, and how much of it a corruption destroys.
The material's sources lose little to colour jitter (3.6 points) and more to low resolution
(6-16; Liu & He Table 5): a toy world like them would have ``colour`` carry little of the
separation and ``texture`` much.

    python -m vlmbias.toyworld.cues --configfile config/config.yaml [--n 600]
    python -m vlmbias.toyworld.cues --configfile config/config.yaml config/subtle_cues.yaml \
        --sources subtle_cast subtle_grain subtle_soft
"""

from __future__ import annotations

import argparse
import io
from typing import Callable

import torch
from PIL import Image

from vlmbias.core.config import ConfigError, load_config, toy_difficulty
from vlmbias.dsc.spec import PlanError, resolve_corruption, resolve_recipe
from vlmbias.shards.dataset import seeded_draw
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


def decoded(sources: list[str], n: int, config: dict) -> tuple[list[Image.Image], torch.Tensor]:
    """(samples 0..n-1 of every source, decoded as their shards hold them; source index), drawn
    with the config's toyworld seed and image size and each source's difficulty knobs
    (``vlmbias.core.config.toy_difficulty``)."""
    tw = config["toyworld"]
    out, ys = [], []
    for k, name in enumerate(sources):
        for i in range(n):
            data, _, _ = render_encoded(name, i, int(tw["image_size"]), int(tw["seed"]),
                                        **toy_difficulty(config, name))
            out.append(Image.open(io.BytesIO(data)).convert("RGB"))
            ys.append(k)
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
    ap = argparse.ArgumentParser(prog="python -m vlmbias.toyworld.cues", description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                    help="config files, later ones overlaid as Snakemake does and validated against config/schema.yaml; "
                         "their toyworld: and corruptions:")
    ap.add_argument("--sources", nargs="+", default=["yfcc", "cc", "datacomp"])
    ap.add_argument("--n", type=int, default=600, help="images per source (a third of them validation)")
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
    print(f"linear probes on {args.n} images per source of {', '.join(args.sources)} "
          f"({recipe['input_size']} px; chance {100 / len(args.sources):.1f}%), validation accuracy %")
    print(f"{'corruption':18s}" + "".join(f"{k:>9s}" for k in FEATURES), flush=True)
    imgs, y = decoded(args.sources, args.n, cfg)
    for name, spec in specs.items():
        x = prepared(imgs, transform, spec)
        print(f"{name:18s}" + "".join(f"{probe_accuracy(fn(x), y):9.1f}" for fn in FEATURES.values()), flush=True)


if __name__ == "__main__":
    main()
