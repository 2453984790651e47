"""Which training runs each table needs, derived from config alone.

A run is identified by a readable id built from its settings
(``yfcc+cc+datacomp__convnext_t__n1000000``, ``...__aug-no_aug``, ``...__corr-blur_3``); two
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
import itertools
import re
from typing import Any

# The material's six datasets, in its order, with the letters its tables use.
PAPER_DATASETS = ["yfcc", "cc", "datacomp", "wit", "laion", "imagenet"]
LETTERS = {"yfcc": "Y", "cc": "C", "datacomp": "D", "wit": "W", "laion": "L", "imagenet": "I"}

DSC_TABLES = ["t01_combinations", "t02_architectures", "f03_model_size", "f04_train_images",
              "t05_augmentation", "t06_corruptions", "t07_pseudo_datasets"]
FIGURES = {"f03_model_size", "f04_train_images"}
TABLE_TITLES = {
    "t01_combinations": "Dataset classification accuracy over dataset combinations (Liu & He, Table 2)",
    "t02_architectures": "Dataset classification accuracy across architectures on YFCC+CC+DataComp "
                         "(Liu & He, Table 3)",
    "f03_model_size": "Accuracy against model size, ConvNeXt family on YFCC+CC+DataComp "
                      "(Liu & He, Fig. 2)",
    "f04_train_images": "Accuracy against training images per dataset on YFCC+CC+DataComp "
                        "(Liu & He, Fig. 3)",
    "t05_augmentation": "Augmentation x training images per dataset, ConvNeXt on YFCC+CC+DataComp "
                        "(Liu & He, Table 4)",
    "t06_corruptions": "Corruptions applied to training and validation images, YFCC+CC+DataComp "
                       "(Liu & He, Table 5)",
    "t07_pseudo_datasets": "Pseudo-dataset classification: three disjoint random subsets of one "
                           "source (Liu & He, Table 6)",
}
MODEL_LABELS = {"alexnet": "AlexNet", "vgg16": "VGG-16", "resnet50": "ResNet-50", "vit_s": "ViT-S",
                "convnext_t": "ConvNeXt-T"}
_VIEW_RE = re.compile(r"^(?P<dataset>.+)\.(?P<part>\d+)of(?P<parts>\d+)$")


class ExperimentError(ValueError):
    pass


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
            raise ExperimentError(f"bad dataset view {view!r}")
        return {"dataset": m["dataset"], "part": part, "parts": parts}
    return {"dataset": view, "part": None, "parts": None}


def run_id(views: list[str], model: str, n_train: int, aug: str = "default",
           corruption: str = "none") -> str:
    parts = ["+".join(views), model, f"n{n_train}"]
    if aug != "default":
        parts.append(f"aug-{aug}")
    if corruption != "none":
        parts.append(f"corr-{corruption}")
    return "__".join(parts)


def resolve_recipe(config: dict, aug: str = "default") -> dict:
    recipe = copy.deepcopy(config["train"])
    presets = config.get("augmentations") or {}
    if aug != "default" and aug not in presets:
        raise ExperimentError(f"augmentation preset {aug!r} is not defined under 'augmentations'")
    recipe["augment"] = {**(recipe.get("augment") or {}), **(presets.get(aug) or {})}
    return recipe


def resolve_corruption(config: dict, name: str) -> dict | None:
    if name == "none":
        return None
    presets = config.get("corruptions") or {}
    if name not in presets:
        raise ExperimentError(f"corruption {name!r} is not defined under 'corruptions'")
    return dict(presets[name])


def run_spec(config: dict, views: list[str], model: str, n_train: int | None = None,
             aug: str = "default", corruption: str = "none") -> dict[str, Any]:
    parsed = [parse_view(v) for v in views]
    for v in parsed:
        if v["dataset"] not in config["datasets"]:
            raise ExperimentError(f"dataset {v['dataset']!r} is used by an experiment but not "
                                  f"defined under 'datasets' (defined: {sorted(config['datasets'])})")
    if model not in config["models"]:
        raise ExperimentError(f"model {model!r} is used by an experiment but not defined under "
                              f"'models' (defined: {sorted(config['models'])})")
    n_train = int(n_train or config["sampling"]["n_train"])
    for v in parsed:
        available = config["sampling"]["n_train"] // (v["parts"] or 1)
        if n_train > available:
            raise ExperimentError(
                f"a run needs {n_train} training images per class from {v['dataset']} but "
                f"sampling.n_train gives {available}" + (f" per part of {v['parts']}" if v["parts"] else ""))
    mspec = copy.deepcopy(config["models"][model])
    recipe = resolve_recipe(config, aug)
    if aug != "default" and recipe == resolve_recipe(config, "default"):
        aug = "default"  # a preset that changes nothing is the default run: one job, not two
    if "input_size" in mspec:
        recipe["input_size"] = mspec.pop("input_size")
    classes = [letter(config, v["dataset"]) + (f"{v['part']}" if v["parts"] else "") for v in parsed]
    return {"run_id": run_id(views, model, n_train, aug, corruption),
            "family": "dataset_classification", "datasets": list(views), "views": parsed,
            "classes": classes, "model_name": model, "model": mspec, "n_train": n_train,
            "aug": aug, "corruption_name": corruption,
            "corruption": resolve_corruption(config, corruption), "recipe": recipe,
            "seed": int(config["seed"])}


def _sizes(t: dict) -> list[tuple[str, int]]:
    """(paper size label, n_train in this config), in order: the reported values are keyed by
    the paper's label, the run uses this config's number. A null size is left out (how an
    overlay such as config/smoke.yaml trims a sweep)."""
    sizes = [(str(k), int(v)) for k, v in t["sizes"].items() if v is not None]
    if not sizes:
        raise ExperimentError(f"every size of {t} is null: nothing to run")
    return sizes


def _row(spec: dict, key: str, chance: float, **cols) -> dict[str, Any]:
    return {**cols, "key": key, "chance": chance, "run": spec["run_id"], "spec": spec}


def table_rows(config: dict, table_id: str) -> list[dict[str, Any]]:
    """Rows of a dataset-classification table: setting columns, the key of the reported value,
    chance level, the run id and its spec."""
    exp = config["dataset_classification"]
    if table_id not in exp:
        raise ExperimentError(f"no 'dataset_classification.{table_id}' section in config")
    t = exp[table_id]
    rows: list[dict[str, Any]] = []
    if table_id == "t01_combinations":
        names = t.get("datasets") or PAPER_DATASETS
        # Top panel: every three-way combination; bottom panel: the nested 3..6-way sets.
        combos = [("three-way", list(c)) for c in itertools.combinations(names, 3)]
        combos += [("nested", names[:k]) for k in range(3, len(names) + 1)]
        for panel, ds in combos:
            key = combo_key(config, ds)
            rows.append(_row(run_spec(config, ds, t["model"]), key, 100.0 / len(ds), panel=panel,
                             combination=key, datasets="+".join(ds)))
    elif table_id == "t02_architectures":
        for m in t["models"]:
            rows.append(_row(run_spec(config, t["datasets"], m), m, 100.0 / len(t["datasets"]),
                             model=MODEL_LABELS.get(m, m), arch=config["models"][m]["arch"],
                             datasets="+".join(t["datasets"])))
    elif table_id == "f03_model_size":
        for m in t["models"]:
            rows.append(_row(run_spec(config, t["datasets"], m), m, 100.0 / len(t["datasets"]),
                             model=m, datasets="+".join(t["datasets"])))
    elif table_id == "f04_train_images":
        for m in t["models"]:
            for label, n in _sizes(t):
                rows.append(_row(run_spec(config, t["datasets"], m, n), f"{m}/{label}",
                                 100.0 / len(t["datasets"]), model=MODEL_LABELS.get(m, m),
                                 paper_size=label, n_train=n))
    elif table_id == "t05_augmentation":
        # presets: the paper's column (no_aug, crop, crop_randaug, default) -> a preset name
        for column, aug in t["presets"].items():
            if aug is None:
                continue
            for label, n in _sizes(t):
                rows.append(_row(run_spec(config, t["datasets"], t["model"], n, aug=aug),
                                 f"{column}/{label}", 100.0 / len(t["datasets"]),
                                 augmentation=column, preset=aug, paper_size=label, n_train=n))
    elif table_id == "t06_corruptions":
        for corr in t["corruptions"]:
            rows.append(_row(run_spec(config, t["datasets"], t["model"], corruption=corr), corr,
                             100.0 / len(t["datasets"]), corruption=corr,
                             setting=str(resolve_corruption(config, corr) or "none")))
    elif table_id == "t07_pseudo_datasets":
        parts = int(t.get("parts", 3))
        views = [f"{t['source']}.{k}of{parts}" for k in range(parts)]
        for aug in t["presets"]:
            for label, n in _sizes(t):
                rows.append(_row(run_spec(config, views, t["model"], n, aug=aug), f"{aug}/{label}",
                                 100.0 / parts, augmentation=aug, paper_size=label, n_per_set=n))
    else:
        raise ExperimentError(f"unknown dataset-classification table {table_id!r}")
    return rows


def enabled_tables(config: dict) -> list[str]:
    """The dataset-classification tables this config asks for, in the material's order."""
    exp = config.get("dataset_classification") or {}
    return [t for t in DSC_TABLES if t in exp]


def dsc_runs(config: dict) -> dict[str, dict]:
    """Every dataset-classification run that any table needs, by run id."""
    from vlmbias import transfer

    specs = [row["spec"] for tid in enabled_tables(config) for row in table_rows(config, tid)]
    specs += transfer.required_dsc_specs(config)
    runs: dict[str, dict] = {}
    for spec in specs:
        prev = runs.setdefault(spec["run_id"], spec)
        if prev != spec:
            raise ExperimentError(f"run id {spec['run_id']} maps to two different specs")
    return runs


def sample_datasets(spec: dict) -> list[str]:
    """The sampled datasets a run reads, each once, in class order."""
    return list(dict.fromkeys(v["dataset"] for v in spec["views"]))
