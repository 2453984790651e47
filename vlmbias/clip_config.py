"""The ``clip`` section of the config, as plain data: model specs, class lists, the toy CLIP's
recipe, the embedding jobs, and the cross-checks the schema cannot do.

Snakemake resolves all of this while it parses the workflow, so nothing here imports torch or
open_clip unless the config names something only open_clip can vouch for (a non-toy
architecture, a pretrained tag, the ImageNet class list). ``vlmbias.clip`` (the loader, the
zero-shot classifier, the toy CLIP's training) builds on it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "data" / "open_clip"
#: open_clip architectures this package adds (file stems under MODEL_CONFIG_DIR).
TOY_ARCHS = tuple(sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json")))
SPEC_KEYS = ("open_clip", "pretrained", "checkpoint", "train")
#: Named class lists a dataset entry may give as ``classes: <name>`` (attributes of open_clip).
CLASS_LISTS: dict[str, str] = {"imagenet": "IMAGENET_CLASSNAMES"}
#: Template sets ``vlmbias.clip.templates`` knows (checked here by name, without open_clip).
TEMPLATE_SET_NAMES = ("openai_imagenet", "simple_imagenet", "toy")


class ClipError(ValueError):
    """A CLIP spec, checkpoint or dataset that cannot be used; the message names it."""


def check_spec(spec: Mapping, where: str = "clip model") -> None:
    """Raise :class:`ClipError` naming ``where`` when ``spec`` is not a usable model spec.

    Checks the architecture name is known to open_clip, that at most one weight source is
    given, that a pretrained tag is one open_clip knows for that architecture, and that a
    checkpoint file exists. Does not download anything."""
    if not isinstance(spec, Mapping):
        raise ClipError(f"{where}: a model spec must be a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ClipError(f"{where}: unknown keys {unknown}; known: {list(SPEC_KEYS)}")
    arch = spec.get("open_clip")
    if not arch:
        raise ClipError(f"{where}: 'open_clip' (an open_clip model name) is required")
    if arch not in TOY_ARCHS or spec.get("pretrained"):  # open_clip itself only when needed
        import open_clip

        from vlmbias.clip import register_model_configs

        register_model_configs()
        if arch not in open_clip.list_models():
            raise ClipError(f"{where}: unknown open_clip model {arch!r} (toy models: {list(TOY_ARCHS)}; "
                            f"open_clip.list_models() has {len(open_clip.list_models())} names)")
    sources = [k for k in ("pretrained", "checkpoint", "train") if spec.get(k)]
    if len(sources) > 1:
        raise ClipError(f"{where}: give at most one of pretrained / checkpoint / train, got {sources}")
    tag = spec.get("pretrained")
    if tag:
        import open_clip

        tags = open_clip.list_pretrained_tags_by_model(arch)
        if tag not in tags:
            raise ClipError(f"{where}: {arch} has no pretrained tag {tag!r} (known: {tags}); "
                            "for weights on disk use 'checkpoint: PATH'")
    ckpt = spec.get("checkpoint")
    if ckpt and not os.path.isfile(ckpt):
        raise ClipError(f"{where}: checkpoint {ckpt} does not exist")


def class_names(dataset_spec: Mapping) -> list[str]:
    """Class names of a dataset entry of the config (index = the json ``label``).

    ``classes:`` in the entry wins: a list, or a named list (``imagenet``: open_clip's 1000
    OpenAI ImageNet class names). Otherwise a toy-world source gives its own list
    (:func:`vlmbias.toyworld.class_names`)."""
    classes = dataset_spec.get("classes")
    if isinstance(classes, str):
        if classes not in CLASS_LISTS:
            raise ClipError(f"unknown class list {classes!r} (known: {sorted(CLASS_LISTS)}, or give a list)")
        import open_clip

        return list(getattr(open_clip, CLASS_LISTS[classes]))
    if classes:
        return [str(c) for c in classes]
    if dataset_spec.get("toy"):
        from vlmbias import toyworld

        return toyworld.class_names(dataset_spec["toy"])
    raise ClipError(f"dataset {dict(dataset_spec)} has no class names: add 'classes: [...]' "
                    f"(or 'classes: imagenet')")


CLIP_RECIPE_DEFAULTS: dict[str, Any] = {
    "optimizer": "adamw", "betas": [0.9, 0.98], "eps": 1.0e-6, "weight_decay": 0.2,
    "lr": 5.0e-4, "min_lr": 0.0, "batch_size": 256, "samples_seen": 100_000,
    "warmup_samples": 10_000, "scale": [0.5, 1.0], "device": "auto", "num_workers": 0,
    "cache_images": True,
}
TRAIN_KEYS = set(CLIP_RECIPE_DEFAULTS) | {"data", "micro_batch_size", "eval_batch_size"}


def clip_recipe(train_cfg: Mapping) -> dict:
    """The resolved training recipe of a toy CLIP (defaults, then the config's keys)."""
    unknown = sorted(set(train_cfg) - TRAIN_KEYS)
    if unknown:
        raise ClipError(f"unknown clip train keys {unknown}; known: {sorted(TRAIN_KEYS)}")
    recipe = {**copy.deepcopy(CLIP_RECIPE_DEFAULTS), **copy.deepcopy(dict(train_cfg))}
    if not recipe.get("data"):
        raise ClipError("clip train: 'data' (dataset -> splits of image-caption pairs) is required")
    return recipe


def clip_section(config: Mapping) -> dict:
    return dict(config.get("clip") or {})


def dataset_split_names(config: Mapping, dataset: str) -> list[str]:
    """The splits a sampled dataset has: its own (``splits:``) or the sampler's train/val."""
    entry = config["datasets"][dataset]
    return list(entry["splits"]) if entry.get("splits") else ["train", "val"]


def embed_jobs(config: Mapping) -> list[tuple[str, str, str]]:
    """(model, dataset, split) of every image-embedding file the config asks for."""
    c = clip_section(config)
    return [(m, d, s) for m in (c.get("models") or {}) for d, splits in (c.get("embed") or {}).items()
            for s in splits]


def check_config(config: Mapping) -> None:
    """Cross-checks of the ``clip`` section beyond the schema; raises ClipError naming the key."""
    c = clip_section(config)
    if not c:
        return
    datasets = config.get("datasets") or {}

    def need_split(where: str, dataset: str, split: str) -> None:
        if dataset not in datasets:
            raise ClipError(f"{where}: dataset {dataset!r} is not defined under 'datasets' "
                            f"(defined: {sorted(datasets)})")
        names = dataset_split_names(config, dataset)
        if split not in names:
            raise ClipError(f"{where}: dataset {dataset!r} has no split {split!r} (its splits: {names})")

    if c.get("templates", "toy") not in TEMPLATE_SET_NAMES:
        raise ClipError(f"clip.templates: unknown template set {c['templates']!r} (known: {list(TEMPLATE_SET_NAMES)})")
    zs = c.get("zero_shot")
    if zs:
        need_split("clip.zero_shot", zs["dataset"], zs["split"])
        try:
            class_names(datasets[zs["dataset"]])
        except (ClipError, ValueError) as e:
            raise ClipError(f"clip.zero_shot: dataset {zs['dataset']!r}: {e}") from None
    for d, splits in (c.get("embed") or {}).items():
        for s in splits:
            need_split("clip.embed", d, s)
    for name, spec in (c.get("models") or {}).items():
        where = f"clip.models.{name}"
        check_spec(spec, where)
        if spec.get("train"):
            try:
                recipe = clip_recipe(spec["train"])
            except ClipError as e:
                raise ClipError(f"{where}.train: {e}") from None
            for d, splits in recipe["data"].items():
                for s in splits:
                    need_split(f"{where}.train.data", d, s)
                    if zs and (d, s) == (zs["dataset"], zs["split"]):
                        raise ClipError(f"{where}.train.data trains on {d}/{s}, the zero-shot "
                                        "evaluation set (clip.zero_shot)")
