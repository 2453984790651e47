"""The spec of one dataset-classification run, resolved from config alone (no torch).

A run is identified by a readable id built from its settings
(``yfcc+cc+datacomp__convnext_t__n1000000``, ``...__aug-no_aug``, ``...__corr-blur_3``, and
``...__seed1`` for a table's further seeds, ``with_seed``); two
tables that need the same run (t01's YCD row, t02's ConvNeXt-T row, t05's default/1M cell...)
share one job. The spec of a run is everything the training script needs, fully resolved
(model spec, recipe with the augmentation preset merged, corruption, the dataset views, seed),
and is passed to the rule as ``params``, so a change of any setting reruns exactly the runs it
touches.

A run's classes are *views* of sampled datasets: a whole dataset (``yfcc``), or one of P
disjoint parts of it (``yfcc.0of3``: the images whose rank within their split is 0 mod P), which
is how t07's pseudo-datasets are drawn from one source.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from vlmbias.core.config import ConfigError
from vlmbias.train import corruptions

# The material's six datasets, in its order, with the letters its tables use.
PAPER_DATASETS = ["yfcc", "cc", "datacomp", "wit", "laion", "imagenet"]
LETTERS = {"yfcc": "Y", "cc": "C", "datacomp": "D", "wit": "W", "laion": "L", "imagenet": "I"}

MODEL_LABELS = {"alexnet": "AlexNet", "vgg16": "VGG-16", "resnet50": "ResNet-50", "vit_s": "ViT-S",
                "convnext_t": "ConvNeXt-T"}
_VIEW_RE = re.compile(r"^(?P<dataset>.+)\.(?P<part>\d+)of(?P<parts>\d+)$")


class PlanError(ConfigError):
    """A dataset-classification setting that does not resolve; the message names it."""


def letter(config: dict, dataset: str) -> str:
    entry = config["datasets"].get(dataset) or {}
    return entry.get("letter") or LETTERS.get(dataset) or dataset[:1].upper()


def combo_key(config: dict, datasets: list[str]) -> str:
    return "".join(letter(config, d) for d in datasets)


def parse_view(view: str) -> dict[str, Any]:
    """``yfcc`` -> whole dataset; ``yfcc.1of3`` -> part 1 of 3 of it."""
    m = _VIEW_RE.match(view)
    if m:
        part, parts = int(m["part"]), int(m["parts"])
        if not 0 <= part < parts:
            raise PlanError(f"bad dataset view {view!r}")
        return {"dataset": m["dataset"], "part": part, "parts": parts}
    return {"dataset": view, "part": None, "parts": None}


def run_id(views: list[str], model: str, n_train: int, aug: str = "default",
           corruption: str = "none", samples_seen: int | None = None) -> str:
    parts = ["+".join(views), model, f"n{n_train}"]
    if aug != "default":
        parts.append(f"aug-{aug}")
    if corruption != "none":
        parts.append(f"corr-{corruption}")
    if samples_seen is not None:
        parts.append(f"ss{int(samples_seen)}")
    return "__".join(parts)


def resolve_recipe(config: dict, aug: str = "default") -> dict:
    recipe = copy.deepcopy(config["train"])
    presets = config.get("augmentations") or {}
    if aug != "default" and aug not in presets:
        raise PlanError(f"augmentation preset {aug!r} is not defined under 'augmentations'")
    recipe["augment"] = {**(recipe.get("augment") or {}), **(presets.get(aug) or {})}
    return recipe


def resolve_corruption(config: dict, name: str) -> dict | None:
    if name == "none":
        return None
    presets = config.get("corruptions") or {}
    if name not in presets:
        raise PlanError(f"corruption {name!r} is not defined under 'corruptions'")
    try:
        corruptions.check(presets[name])
    except corruptions.CorruptionError as e:
        raise PlanError(f"corruptions.{name}: {e}") from None
    return dict(presets[name])


def with_budget(recipe: dict, samples_seen: int) -> dict:
    """``recipe`` at another samples-seen budget, its warmup scaled with it (the same share)."""
    base = int(recipe["samples_seen"])
    return {**recipe, "samples_seen": int(samples_seen),
            "warmup_samples": int(round(int(recipe.get("warmup_samples", 0)) * int(samples_seen) / base))}


def run_spec(config: dict, views: list[str], model: str, n_train: int | None = None,
             aug: str = "default", corruption: str = "none", samples_seen: int | None = None) -> dict[str, Any]:
    """One dataset-classification run. ``samples_seen``: a table's own budget in place of
    ``train.samples_seen`` (the warmup scaled with it; the run id says ``ss<N>``); ``None`` or
    the config's own budget: the shared run."""
    parsed = [parse_view(v) for v in views]
    for v in parsed:
        if v["dataset"] not in config["datasets"]:
            raise PlanError(f"dataset {v['dataset']!r} is used by an experiment but not "
                                  f"defined under 'datasets' (defined: {sorted(config['datasets'])})")
    if model not in config["models"]:
        raise PlanError(f"model {model!r} is used by an experiment but not defined under "
                              f"'models' (defined: {sorted(config['models'])})")
    n_train = int(n_train or config["sampling"]["n_train"])
    for v in parsed:
        available = config["sampling"]["n_train"] // (v["parts"] or 1)
        if n_train > available:
            raise PlanError(
                f"a run needs {n_train} training images per class from {v['dataset']} but "
                f"sampling.n_train gives {available}" + (f" per part of {v['parts']}" if v["parts"] else ""))
    mspec = copy.deepcopy(config["models"][model])
    recipe = resolve_recipe(config, aug)
    if aug != "default" and recipe == resolve_recipe(config, "default"):
        aug = "default"  # a preset that changes nothing is the default run: one job, not two
    if samples_seen is not None and int(samples_seen) == int(recipe["samples_seen"]):
        samples_seen = None  # the config's own budget: the shared run
    if samples_seen is not None:
        recipe = with_budget(recipe, samples_seen)
    if "input_size" in mspec:
        if mspec.get("upsample"):
            raise PlanError(f"model {model!r}: 'upsample' and 'input_size' exclude each other")
        recipe["input_size"] = mspec.pop("input_size")
    classes = [letter(config, v["dataset"]) + (f"{v['part']}" if v["parts"] else "") for v in parsed]
    return {"run_id": run_id(views, model, n_train, aug, corruption, samples_seen),
            "family": "dataset_classification", "datasets": list(views), "views": parsed,
            "classes": classes, "model_name": model, "model": mspec, "n_train": n_train,
            "aug": aug, "corruption_name": corruption,
            "corruption": resolve_corruption(config, corruption), "recipe": recipe,
            "seed": int(config["seed"])}


def with_seed(spec: dict, seed: int) -> dict:
    """The same run under another seed (model init, augmentation, batch order; the sampled
    images stay the same): ``<run id>__seed<seed>``; the spec itself for its own seed, so a
    table's first seed shares its run with every single-seed table."""
    if int(seed) == int(spec["seed"]):
        return spec
    return {**copy.deepcopy(spec), "run_id": f"{spec['run_id']}__seed{int(seed)}", "seed": int(seed)}


def sample_datasets(spec: dict) -> list[str]:
    """The sampled datasets a run reads, each once, in class order."""
    return list(dict.fromkeys(v["dataset"] for v in spec["views"]))
