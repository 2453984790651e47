"""The ``clip`` section of the config, as plain data: model specs, class lists, the toy CLIP's
recipe, the embedding jobs, and the cross-checks the schema cannot do.

Snakemake resolves all of this while it parses the workflow, so nothing here imports torch or
open_clip: architecture names are checked against open_clip's model-config files (what
``open_clip.list_models()`` lists) found on disk without importing it; a pretrained tag is
checked by the loader (``vlmbias.clip.load.load_clip``) before anything is downloaded, and a
named class list (``classes: imagenet``) is read from open_clip when a job asks for the names.
The rest of ``vlmbias.clip`` (loading, templates, zero-shot, pre-training, the embedding
cache) builds on it.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from vlmbias.core.config import ConfigError
from vlmbias.core.paths import clip_model

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
#: open_clip architectures this package adds (file stems under MODEL_CONFIG_DIR).
TOY_ARCHS = tuple(sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json")))
SPEC_KEYS = ("open_clip", "pretrained", "checkpoint", "train")
#: Named class lists a dataset entry may give as ``classes: <name>`` (attributes of open_clip).
CLASS_LISTS: dict[str, str] = {"imagenet": "IMAGENET_CLASSNAMES"}
#: Template sets ``vlmbias.clip.templates`` knows (checked here by name, without open_clip).
TEMPLATE_SET_NAMES = ("openai_imagenet", "simple_imagenet", "toy", "plain")


class ClipError(ConfigError):
    """A CLIP spec, checkpoint or dataset that cannot be used; the message names it."""


@lru_cache(maxsize=1)
def open_clip_archs() -> tuple[str, ...]:
    """The architectures ``open_clip.create_model`` knows: its model-config files (found without
    importing open_clip) and the toy ones this package registers."""
    found = importlib.util.find_spec("open_clip")
    names = set(TOY_ARCHS)
    for folder in (found.submodule_search_locations or []) if found else []:
        names.update(p.stem for p in Path(folder, "model_configs").glob("*.json"))
    return tuple(sorted(names))


def check_spec(spec: Mapping, where: str = "clip model") -> None:
    """Raise :class:`ClipError` naming ``where`` when ``spec`` is not a usable model spec.

    Checks the architecture name is known to open_clip, that at most one weight source is
    given and that a checkpoint file exists (a pretrained tag: ``check_pretrained_tag``, by the
    loader). Does not download anything."""
    if not isinstance(spec, Mapping):
        raise ClipError(f"{where}: a model spec must be a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ClipError(f"{where}: unknown keys {unknown}; known: {list(SPEC_KEYS)}")
    arch = spec.get("open_clip")
    if not arch:
        raise ClipError(f"{where}: 'open_clip' (an open_clip model name) is required")
    if arch not in open_clip_archs():
        raise ClipError(f"{where}: unknown open_clip model {arch!r} (toy models: {list(TOY_ARCHS)}; "
                        f"open_clip has {len(open_clip_archs())} model configs)")
    sources = [k for k in ("pretrained", "checkpoint", "train") if spec.get(k)]
    if len(sources) > 1:
        raise ClipError(f"{where}: give at most one of pretrained / checkpoint / train, got {sources}")
    ckpt = spec.get("checkpoint")
    if ckpt and not os.path.isfile(ckpt):
        raise ClipError(f"{where}: checkpoint {ckpt} does not exist")


def check_pretrained_tag(spec: Mapping, where: str = "clip model") -> None:
    """A pretrained tag must be one open_clip knows for the architecture (imports open_clip)."""
    tag = spec.get("pretrained")
    if tag:
        import open_clip  # a job's check, never the parser's

        tags = open_clip.list_pretrained_tags_by_model(spec["open_clip"])
        if tag not in tags:
            raise ClipError(f"{where}: {spec['open_clip']} has no pretrained tag {tag!r} (known: {tags}); "
                            "for weights on disk use 'checkpoint: PATH'")


def check_classes(dataset_spec: Mapping) -> None:
    """The entry names its classes (a list, a known named list) or is a labeled toy source."""
    classes = dataset_spec.get("classes")
    if isinstance(classes, str):
        if classes not in CLASS_LISTS:
            raise ClipError(f"unknown class list {classes!r} (known: {sorted(CLASS_LISTS)}, or give a list)")
    elif not classes:
        class_names(dataset_spec)


def class_names(dataset_spec: Mapping) -> list[str]:
    """Class names of a dataset entry of the config (index = the json ``label``).

    ``classes:`` in the entry wins: a list, or a named list (``imagenet``: open_clip's 1000
    OpenAI ImageNet class names). Otherwise a toy-world source gives its own list
    (:func:`vlmbias.toyworld.class_names`)."""
    classes = dataset_spec.get("classes")
    if isinstance(classes, str):
        check_classes(dataset_spec)
        import open_clip  # the named lists are open_clip's; only jobs ask for them

        return list(getattr(open_clip, CLASS_LISTS[classes]))
    if classes:
        return [str(c) for c in classes]
    if dataset_spec.get("toy"):
        from vlmbias import toyworld  # the generator's registry, only for toy sources

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


def section(config: Mapping) -> dict:
    return dict(config.get("clip") or {})


def dataset_split_names(config: Mapping, dataset: str) -> list[str]:
    """The splits a sampled dataset has: its own (``splits:``) or the sampler's train/val."""
    entry = config["datasets"][dataset]
    return list(entry["splits"]) if entry.get("splits") else ["train", "val"]


def models(config: Mapping) -> dict:
    return dict(section(config).get("models") or {})


def need_models(config: Mapping, where: str, names) -> None:
    """The CLIPs a family section names must be defined under clip.models."""
    known = models(config)
    for m in names:
        if m not in known:
            raise ClipError(f"{where}: {m!r} is not in clip.models ({sorted(known)})")


def weights_file(config: Mapping, name: str) -> str:
    """The weights file a job of CLIP ``name`` reads: the workflow's own checkpoint, a local
    checkpoint, or "" (a pretrained tag, found by open_clip; random init)."""
    spec = models(config)[name]
    return clip_model(name) if spec.get("train") else (spec.get("checkpoint") or "")


def weights_input(config: Mapping, name: str) -> dict:
    """{"weights": file} for a job of CLIP ``name``, or nothing when it reads no file."""
    weights = weights_file(config, name)
    return {"weights": weights} if weights else {}


def train_datasets(config: Mapping, name: str) -> list[str]:
    """The datasets a CLIP trained in the workflow reads: its pairs and the zero-shot set."""
    datasets = list(models(config)[name]["train"]["data"])
    zs = section(config).get("zero_shot")
    return datasets + [zs["dataset"]] if zs else datasets


def zero_shot_params(config: Mapping) -> dict | None:
    """Dataset, split, its config entry (class names are resolved by the job) and template-set
    name of the zero-shot evaluation, or None."""
    zs = section(config).get("zero_shot")
    if not zs:
        return None
    return {**zs, "dataset_spec": config["datasets"][zs["dataset"]],
            "templates": section(config).get("templates", "toy")}


def split_names(config: Mapping) -> list[str]:
    """Every split a sampled dataset of the config has."""
    names = {"train", "val"}
    for entry in config["datasets"].values():
        names |= set(entry.get("splits") or {})
    return sorted(names)


def targets(config: Mapping) -> list[str]:
    """Every CLIP output the config asks for: trained models, embeddings, zero-shot accuracies."""
    out = [f"results/clip/{m}/metrics.json" for m, spec in models(config).items() if spec.get("train")]
    out += [f"results/embeddings/{m}/{d}/{s}.npz" for m, d, s in embed_jobs(config)]
    if section(config).get("zero_shot"):
        out += [f"results/clip/{m}/zeroshot.json" for m in models(config)]
    return out


def embed_jobs(config: Mapping) -> list[tuple[str, str, str]]:
    """(model, dataset, split) of every image-embedding file the config asks for."""
    c = section(config)
    return [(m, d, s) for m in (c.get("models") or {}) for d, splits in (c.get("embed") or {}).items()
            for s in splits]


def check(config: Mapping) -> None:
    """Cross-checks of the ``clip`` section beyond the schema; raises ClipError naming the key."""
    c = section(config)
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
            check_classes(datasets[zs["dataset"]])
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
