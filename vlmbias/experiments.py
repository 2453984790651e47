"""Which training runs each table needs, derived from config alone.

A run is identified by a readable id built from its settings
(``yfcc+cc+datacomp__convnext_t__n1000000``); two tables that need the same run (t01's YCD
row and t02's ConvNeXt-T row) share one job. The spec of a run is everything the training
script needs, fully resolved (model spec, recipe with the augmentation preset merged, seed),
and is passed to the rule as ``params`` so a change of any setting reruns exactly the runs it
touches.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

# The material's six datasets, in its order, with the letters its tables use.
PAPER_DATASETS = ["yfcc", "cc", "datacomp", "wit", "laion", "imagenet"]
LETTERS = {"yfcc": "Y", "cc": "C", "datacomp": "D", "wit": "W", "laion": "L", "imagenet": "I"}

DSC_TABLES = ["t01_combinations", "t02_architectures"]
TABLE_TITLES = {
    "t01_combinations": "Dataset classification accuracy over dataset combinations (Liu & He, Table 2)",
    "t02_architectures": "Dataset classification accuracy across architectures on YFCC+CC+DataComp "
                         "(Liu & He, Table 3)",
}
MODEL_LABELS = {"alexnet": "AlexNet", "vgg16": "VGG-16", "resnet50": "ResNet-50", "vit_s": "ViT-S",
                "convnext_t": "ConvNeXt-T"}


class ExperimentError(ValueError):
    pass


def letter(config: dict, dataset: str) -> str:
    entry = config["datasets"].get(dataset) or {}
    return entry.get("letter") or LETTERS.get(dataset) or dataset[:1].upper()


def combo_key(config: dict, datasets: list[str]) -> str:
    return "".join(letter(config, d) for d in datasets)


def run_id(datasets: list[str], model: str, n_train: int, aug: str = "default") -> str:
    parts = ["+".join(datasets), model, f"n{n_train}"]
    if aug != "default":
        parts.append(f"aug-{aug}")
    return "__".join(parts)


def resolve_recipe(config: dict, aug: str = "default") -> dict:
    recipe = copy.deepcopy(config["train"])
    presets = config.get("augmentations") or {}
    if aug != "default" and aug not in presets:
        raise ExperimentError(f"augmentation preset {aug!r} is not defined under 'augmentations'")
    recipe["augment"] = {**(recipe.get("augment") or {}), **(presets.get(aug) or {})}
    return recipe


def run_spec(config: dict, datasets: list[str], model: str, n_train: int | None = None,
             aug: str = "default") -> dict[str, Any]:
    for d in datasets:
        if d not in config["datasets"]:
            raise ExperimentError(f"dataset {d!r} is used by an experiment but not defined under "
                                  f"'datasets' (defined: {sorted(config['datasets'])})")
    if model not in config["models"]:
        raise ExperimentError(f"model {model!r} is used by an experiment but not defined under "
                              f"'models' (defined: {sorted(config['models'])})")
    n_train = int(n_train or config["sampling"]["n_train"])
    if n_train > config["sampling"]["n_train"]:
        raise ExperimentError(f"a run needs {n_train} training images per dataset but sampling."
                              f"n_train is {config['sampling']['n_train']}")
    mspec = copy.deepcopy(config["models"][model])
    recipe = resolve_recipe(config, aug)
    if "input_size" in mspec:
        recipe["input_size"] = mspec.pop("input_size")
    rid = run_id(datasets, model, n_train, aug)
    return {"run_id": rid, "family": "dataset_classification", "datasets": list(datasets),
            "classes": [letter(config, d) for d in datasets], "model_name": model,
            "model": mspec, "n_train": n_train, "aug": aug, "recipe": recipe,
            "seed": int(config["seed"])}


def table_rows(config: dict, table_id: str) -> list[dict[str, Any]]:
    """Rows of a dataset-classification table: setting columns, the reported key, the run id."""
    exp = config["dataset_classification"]
    rows: list[dict[str, Any]] = []
    if table_id == "t01_combinations":
        t = exp["t01_combinations"]
        names = t.get("datasets") or PAPER_DATASETS
        # Top panel: every three-way combination; bottom panel: the nested 3..6-way sets.
        combos = [("three-way", list(c)) for c in itertools.combinations(names, 3)]
        combos += [("nested", names[:k]) for k in range(3, len(names) + 1)]
        for panel, ds in combos:
            spec = run_spec(config, ds, t["model"])
            rows.append({"panel": panel, "combination": combo_key(config, ds),
                         "datasets": "+".join(ds), "key": combo_key(config, ds),
                         "chance": 100.0 / len(ds), "run": spec["run_id"], "spec": spec})
    elif table_id == "t02_architectures":
        t = exp["t02_architectures"]
        for m in t["models"]:
            spec = run_spec(config, t["datasets"], m)
            rows.append({"model": MODEL_LABELS.get(m, m), "arch": config["models"][m]["arch"],
                         "datasets": "+".join(t["datasets"]), "key": m,
                         "chance": 100.0 / len(t["datasets"]), "run": spec["run_id"],
                         "spec": spec})
    else:
        raise ExperimentError(f"unknown dataset-classification table {table_id!r}")
    return rows


def dsc_runs(config: dict) -> dict[str, dict]:
    """Every dataset-classification run that any table needs, by run id."""
    runs: dict[str, dict] = {}
    for tid in DSC_TABLES:
        for row in table_rows(config, tid):
            prev = runs.setdefault(row["run"], row["spec"])
            if prev != row["spec"]:
                raise ExperimentError(f"run id {row['run']} maps to two different specs")
    return runs
