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


def recipe(config: Mapping) -> dict:
    u = urbancars(config)
    r = copy.deepcopy(dict(config["train"]))
    over = copy.deepcopy(URBANCARS_RECIPE)
    for layer in (over, copy.deepcopy(u.get("train") or {})):
        aug = {**(r.get("augment") or {}), **(layer.pop("augment", None) or {})}
        r.update(layer)
        r["augment"] = aug
    model = config["models"][u["model"]]
    if "input_size" in model:
        r["input_size"] = model["input_size"]
    return r


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
