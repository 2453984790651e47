"""The ``lle`` section of the config -> jobs (no torch).

``lle.urbancars`` (t14): every method of the registry (``methods.yaml`` beside this module: the
material's rows and a GroupDRO oracle), or the ones listed, trained on the UrbanCars(-like)
dataset through the one loop, each over the table's seeds (``seeds: N``, ``vlmbias.core.seeds``),
one job per (method, seed): ``results/lle/urbancars/<method>/seed<s>/metrics.json``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import resources
from typing import Mapping

import yaml

from vlmbias.core.config import ConfigError, need_dataset
from vlmbias.core.paths import sample_dir
from vlmbias.core.seeds import table_seeds
from vlmbias.lle.metrics import SELECTION_KEYS as SELECTION_RULES

#: the UrbanCars recipe of the official code (research notes §3.3), applied over config ``train``
#: before ``lle.urbancars.train``: SGD (torch's, momentum 0.9, not Nesterov) at a constant lr,
#: plain CE, no crop (flip + normalisation only).
URBANCARS_RECIPE = {"optimizer": "momentum", "momentum": 0.9, "lr": 1.0e-3, "weight_decay": 1.0e-4,
                    "sched": "constant", "warmup_samples": 0, "label_smoothing": 0.0, "crop_pct": 1.0,
                    "augment": {"random_crop": False, "hflip": 0.5, "auto_augment": None, "color_jitter": 0.0,
                                "mixup": 0.0, "cutmix": 0.0}}


@lru_cache(maxsize=1)
def registry() -> dict[str, dict]:
    """The method registry, in table order."""
    with resources.files("vlmbias.lle").joinpath("methods.yaml").open() as f:
        return yaml.safe_load(f)


def section(config: Mapping) -> dict:
    return dict(config.get("lle") or {})


def urbancars(config: Mapping) -> dict:
    return dict(section(config).get("urbancars") or {})


def methods(config: Mapping) -> list[str]:
    """The methods t14 runs, in the registry's order: ``methods`` (a list, or a mapping method ->
    overrides) or every registered one."""
    chosen = urbancars(config).get("methods")
    reg = registry()
    if chosen is None:
        return list(reg)
    return [m for m in reg if m in chosen]


def seeds(config: Mapping) -> list[int]:
    return table_seeds(urbancars(config), int(config.get("seed", 0)), "lle.urbancars.")


def run_dir(method: str, seed: int) -> str:
    return f"results/lle/urbancars/{method}/seed{seed}"


def metrics_paths(config: Mapping) -> list[str]:
    return [f"{run_dir(m, s)}/metrics.json" for m in methods(config) for s in seeds(config)]


def _recipe_with(config: Mapping, *layers: Mapping | None, input_size: int | None = None) -> dict:
    """Config ``train`` with each layer applied in order (``augment`` merged key by key), and the
    input size when given."""
    r = copy.deepcopy(dict(config["train"]))
    for layer in layers:
        layer = copy.deepcopy(dict(layer or {}))
        aug = {**(r.get("augment") or {}), **(layer.pop("augment", None) or {})}
        r.update(layer)
        r["augment"] = aug
    if input_size is not None:
        r["input_size"] = int(input_size)
    return r


def recipe(config: Mapping) -> dict:
    u = urbancars(config)
    model = config["models"][u["model"]]
    return _recipe_with(config, URBANCARS_RECIPE, u.get("train"), input_size=model.get("input_size"))


def method_params(config: Mapping, method: str) -> dict:
    chosen = urbancars(config).get("methods")
    over = (chosen.get(method) or {}) if isinstance(chosen, Mapping) else {}
    return {**copy.deepcopy(registry()[method].get("params") or {}), **copy.deepcopy(over.get("params") or {})}


def run_spec(config: Mapping, method: str, seed: int) -> dict:
    """Everything one (method, seed) job needs, resolved."""
    u, entry = urbancars(config), registry()[method]
    model = copy.deepcopy(config["models"][u["model"]])
    model.pop("input_size", None)
    return {"method": method, "row": entry["row"], "module": entry["module"],
            "group_labels": bool(entry.get("group_labels")), "params": method_params(config, method),
            "seed": int(seed), "dataset": u["dataset"], "model": model, "recipe": recipe(config),
            "selection": u.get("selection", "both"), "bg_ratio": float(u.get("bg_ratio", 0.95)),
            "coobj_ratio": float(u.get("coobj_ratio", 0.95)),
            "splits": {"train": "train", "val": "val", "test": "test", **(u.get("splits") or {})}}


def urbancars_sample_dir(config: Mapping) -> str:
    return sample_dir(urbancars(config)["dataset"])


def check(config: Mapping) -> None:
    """Cross-references the schema cannot check: the dataset and model exist, the methods are
    registered, the selection rule is the official one's, the seeds are valid."""
    check_imagenet(config)
    u = urbancars(config)
    if not u:
        return
    need_dataset(config, "lle.urbancars.dataset", u.get("dataset"))
    if u.get("model") not in (config.get("models") or {}):
        raise ConfigError(f"lle.urbancars.model: {u.get('model')!r} is not in models "
                          f"({sorted(config.get('models') or {})})")
    chosen = u.get("methods")
    if chosen is not None:
        unknown = sorted(set(chosen) - set(registry()))
        if unknown:
            raise ConfigError(f"lle.urbancars.methods: unknown {unknown}; registered: {list(registry())}")
        if not chosen:
            raise ConfigError("lle.urbancars.methods: empty; name at least one method (or drop the key for all)")
    if u.get("selection", "both") not in SELECTION_RULES:
        raise ConfigError(f"lle.urbancars.selection: {u.get('selection')!r} is not one of {list(SELECTION_RULES)}")
    seeds(config)


# ---------------------------------------------------------------------------- t15 (ImageNet)

#: the LLR recipe of the official ImageNet code for ResNet-50 (research notes §3.2): SGD momentum
#: 0.9, wd 1e-4, cosine decay, RandomResizedCrop + flip; lr and budget come from the config.
LLR_RECIPE = {"optimizer": "momentum", "momentum": 0.9, "weight_decay": 1.0e-4, "sched": "cosine",
              "warmup_samples": 0, "label_smoothing": 0.0,
              "augment": {"random_crop": True, "hflip": 0.5, "auto_augment": None, "color_jitter": 0.0,
                          "mixup": 0.0, "cutmix": 0.0}}
IMAGENET_SET_NAMES = ("train", "train_stylized", "val", "val_stylized", "val_rendition", "val_mixed_same",
                      "val_mixed_rand")


@lru_cache(maxsize=1)
def imagenet_registry() -> dict[str, dict]:
    with resources.files("vlmbias.lle").joinpath("imagenet_methods.yaml").open() as f:
        return yaml.safe_load(f)


def imagenet(config: Mapping) -> dict:
    return dict(section(config).get("imagenet") or {})


def imagenet_sets(config: Mapping) -> dict[str, dict]:
    """Set name -> {dataset, split}: ``sets.<name>`` (a split of ``dataset``, or {dataset, split}),
    by default the split of the same name of ``dataset``."""
    im = imagenet(config)
    given = im.get("sets") or {}
    out = {}
    for name in IMAGENET_SET_NAMES:
        s = given.get(name, name)
        out[name] = {"dataset": im.get("dataset"), "split": s} if isinstance(s, str) else dict(s)
    return out


def imagenet_datasets(config: Mapping) -> list[str]:
    return list(dict.fromkeys(s["dataset"] for s in imagenet_sets(config).values()))


def imagenet_backbones(config: Mapping) -> dict[str, dict]:
    return dict(imagenet(config).get("backbones") or {})


def imagenet_methods(config: Mapping, backbone: str) -> list[str]:
    chosen = imagenet_backbones(config)[backbone].get("methods") or imagenet(config).get("methods")
    reg = imagenet_registry()
    return list(reg) if chosen is None else [m for m in reg if m in chosen]


def imagenet_seeds(config: Mapping, method: str) -> list[int]:
    """The table's seeds; ``as_is`` trains nothing, so it has one."""
    seeds_ = table_seeds(imagenet(config), int(config.get("seed", 0)), "lle.imagenet.")
    return seeds_[:1] if not imagenet_registry()[method]["blocks"] else seeds_


def imagenet_run_dir(backbone: str, method: str, seed: int) -> str:
    return f"results/lle/imagenet/{backbone}/{method}/seed{seed}"


def imagenet_backbone_weights(config: Mapping, backbone: str) -> list[str]:
    """The weights the workflow trains for a backbone (``pretrain:`` set), else nothing."""
    if imagenet_backbones(config)[backbone].get("pretrain") is None:
        return []
    return [f"results/lle/imagenet/{backbone}/backbone/model.pt"]


def imagenet_trained_backbones(config: Mapping) -> list[str]:
    return [b for b in imagenet_backbones(config) if imagenet_backbone_weights(config, b)]


def imagenet_metrics_paths(config: Mapping) -> list[str]:
    return [f"{imagenet_run_dir(b, m, s)}/metrics.json" for b in imagenet_backbones(config)
            for m in imagenet_methods(config, b) for s in imagenet_seeds(config, m)]


def imagenet_clip_models(config: Mapping) -> list[str]:
    return list(imagenet(config).get("clip") or [])


def imagenet_clip_paths(config: Mapping) -> list[str]:
    return [f"results/lle/imagenet/clip/{c}/metrics.json" for c in imagenet_clip_models(config)]


def _imagenet_common(config: Mapping, backbone: str) -> dict:
    im, bb = imagenet(config), imagenet_backbones(config)[backbone]
    model = copy.deepcopy(config["models"][bb["model"]])
    size = int(bb.get("input_size") or model.pop("input_size", None) or im.get("input_size") or config["train"]["input_size"])
    model.pop("input_size", None)
    sets = {k: {"sample_dir": sample_dir(v["dataset"]), "split": v["split"], "dataset": v["dataset"]}
            for k, v in imagenet_sets(config).items()}
    return {"backbone_name": backbone, "backbone": model, "num_classes": int(im["num_classes"]),
            "carton": int(im["carton"]), "sets": sets, "rendition_classes": im.get("rendition_classes"),
            "in9_map": im.get("in9_map"), "input_size": size}


def imagenet_backbone_spec(config: Mapping, backbone: str) -> dict:
    """The toy backbone's ERM training: config ``train`` + ``backbones.<b>.pretrain``."""
    c = _imagenet_common(config, backbone)
    bb = imagenet_backbones(config)[backbone]
    return {**c, "name": backbone, "seed": int(config.get("seed", 0)),
            "recipe": _recipe_with(config, bb.get("pretrain"), input_size=c["input_size"])}


def imagenet_run_spec(config: Mapping, backbone: str, method: str, seed: int) -> dict:
    """One (backbone, method, seed) LLR run: config ``train`` + the official LLR recipe +
    ``lle.imagenet.train`` + ``lle.imagenet.method_train.<method>`` + ``backbones.<b>.train``."""
    c = _imagenet_common(config, backbone)
    im, bb, entry = imagenet(config), imagenet_backbones(config)[backbone], imagenet_registry()[method]
    method_def = {k: copy.deepcopy(entry[k]) for k in ("blocks", "heads", "watermark_p") if k in entry}
    return {**c, "method": method, "row": entry["row"], "method_def": method_def, "seed": int(seed),
            "recipe": _recipe_with(config, LLR_RECIPE, im.get("train"), (im.get("method_train") or {}).get(method),
                                   bb.get("train"), input_size=c["input_size"])}


def imagenet_clip_spec(config: Mapping, clip: str) -> dict:
    im = imagenet(config)
    return {"clip": clip, "num_classes": int(im["num_classes"]), "carton": int(im["carton"]),
            "rendition_classes": im.get("rendition_classes"), "in9_map": im.get("in9_map"),
            "dataset_spec": dict(config["datasets"][imagenet_sets(config)["val"]["dataset"]]),
            "templates": (config.get("clip") or {}).get("templates", "toy")}


def imagenet_embeddings(config: Mapping, clip: str) -> dict[str, str]:
    """The embedding-cache files a CLIP row reads: every evaluation set, and val under ImageNet-W."""
    sets = imagenet_sets(config)
    out = {name: f"results/embeddings/{clip}/{sets[name]['dataset']}/{sets[name]['split']}.npz"
           for name in ("val", "val_stylized", "val_rendition", "val_mixed_same", "val_mixed_rand")}
    out["val_w"] = f"results/embeddings/{clip}/{sets['val']['dataset']}/{sets['val']['split']}@imagenet_w.npz"
    return out


def check_imagenet(config: Mapping) -> None:
    im = imagenet(config)
    if not im:
        return
    for key in ("num_classes", "carton", "backbones"):
        if key not in im:
            raise ConfigError(f"lle.imagenet.{key}: missing")
    for name, s in imagenet_sets(config).items():
        need_dataset(config, f"lle.imagenet.sets.{name}", s.get("dataset"))
        if not s.get("split"):
            raise ConfigError(f"lle.imagenet.sets.{name}: no split")
    if not im["backbones"]:
        raise ConfigError("lle.imagenet.backbones: empty; name at least one backbone")
    for b, bb in im["backbones"].items():
        if bb.get("model") not in (config.get("models") or {}):
            raise ConfigError(f"lle.imagenet.backbones.{b}.model: {bb.get('model')!r} is not in models "
                              f"({sorted(config.get('models') or {})})")
        chosen = bb.get("methods") or im.get("methods")
        if chosen is not None:
            unknown = sorted(set(chosen) - set(imagenet_registry()))
            if unknown:
                raise ConfigError(f"lle.imagenet methods: unknown {unknown}; registered: {list(imagenet_registry())}")
    if not 0 <= int(im["carton"]) < int(im["num_classes"]):
        raise ConfigError(f"lle.imagenet.carton: {im['carton']} is not a class index below num_classes {im['num_classes']}")
    clip_models = (config.get("clip") or {}).get("models") or {}
    for c in imagenet_clip_models(config):
        if c not in clip_models:
            raise ConfigError(f"lle.imagenet.clip: {c!r} is not in clip.models ({sorted(clip_models)})")
    table_seeds(im, int(config.get("seed", 0)), "lle.imagenet.")
