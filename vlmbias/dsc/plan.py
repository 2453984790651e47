"""Dataset classification (Liu & He): which training runs each table needs, derived from config
alone (no torch). Each row builder takes the config and the table's section
(``dataset_classification.<table id>``; the registry names the builder of each table) and
returns the table's rows: its setting columns, the key of the reported value, chance level, the
run id and the run's spec (``vlmbias.dsc.spec``). Runs shared by several tables (t01's YCD row,
t02's ConvNeXt-T row, t05's default/1M cell unless t05 has a budget of its own (``samples_seen``),
the runs t08/t09 probe) are one job.
"""

from __future__ import annotations

import itertools
from typing import Any

from vlmbias.core.config import need_dataset
from vlmbias.core.paths import run_file
from vlmbias.core.seeds import table_seeds
from vlmbias.dsc import ssl_plan
from vlmbias.dsc.spec import (MODEL_LABELS, PAPER_DATASETS, PlanError, combo_key, resolve_corruption,
                              run_spec, with_seed)
from vlmbias.tables import registry

SECTION = "dataset_classification"
RUN_RULES = ("dsc_table", "dsc_figure_table")   # the rules of the tables whose rows are runs (t01-t07)


def _sizes(t: dict) -> list[tuple[str, int]]:
    """(paper size label, n_train in this config), in order: the reported values are keyed by
    the paper's label, the run uses this config's number. A null size is left out (how an
    overlay such as config/smoke.yaml trims a sweep)."""
    sizes = [(str(k), int(v)) for k, v in t["sizes"].items() if v is not None]
    if not sizes:
        raise PlanError(f"every size of {t} is null: nothing to run")
    return sizes


def _row(spec: dict, key: str, chance: float, **cols) -> dict[str, Any]:
    return {**cols, "key": key, "chance": chance, "run": spec["run_id"], "spec": spec}


def combinations(config: dict, t: dict) -> list[dict]:
    """Top panel: every three-way combination; bottom panel: the nested 3..6-way sets."""
    names = t.get("datasets") or PAPER_DATASETS
    combos = [("three-way", list(c)) for c in itertools.combinations(names, 3)]
    combos += [("nested", names[:k]) for k in range(3, len(names) + 1)]
    rows = []
    for panel, ds in combos:
        key = combo_key(config, ds)
        rows.append(_row(run_spec(config, ds, t["model"]), key, 100.0 / len(ds), panel=panel,
                         combination=key, datasets="+".join(ds)))
    return rows


def architectures(config: dict, t: dict) -> list[dict]:
    return [_row(run_spec(config, t["datasets"], m), m, 100.0 / len(t["datasets"]),
                 model=MODEL_LABELS.get(m, m), arch=config["models"][m]["arch"],
                 datasets="+".join(t["datasets"])) for m in t["models"]]


def model_size(config: dict, t: dict) -> list[dict]:
    return [_row(run_spec(config, t["datasets"], m), m, 100.0 / len(t["datasets"]),
                 model=m, datasets="+".join(t["datasets"])) for m in t["models"]]


def train_images(config: dict, t: dict) -> list[dict]:
    return [_row(run_spec(config, t["datasets"], m, n), f"{m}/{label}", 100.0 / len(t["datasets"]),
                 model=MODEL_LABELS.get(m, m), paper_size=label, n_train=n)
            for m in t["models"] for label, n in _sizes(t)]


def augmentation(config: dict, t: dict) -> list[dict]:
    """presets: the paper's column (no_aug, crop, crop_randaug, default) -> a preset name;
    samples_seen: the table's own budget (default: train.samples_seen)."""
    return [_row(run_spec(config, t["datasets"], t["model"], n, aug=aug, samples_seen=t.get("samples_seen")),
                 f"{column}/{label}",
                 100.0 / len(t["datasets"]), augmentation=column, preset=aug, paper_size=label, n_train=n)
            for column, aug in t["presets"].items() if aug is not None for label, n in _sizes(t)]


def corruptions(config: dict, t: dict) -> list[dict]:
    return [_row(run_spec(config, t["datasets"], t["model"], corruption=corr), corr,
                 100.0 / len(t["datasets"]), corruption=corr,
                 setting=str(resolve_corruption(config, corr) or "none")) for corr in t["corruptions"]]


def pseudo_datasets(config: dict, t: dict) -> list[dict]:
    """Three (``parts``) disjoint random parts of one source, as if they were datasets."""
    parts = int(t.get("parts", 3))
    views = [f"{t['source']}.{k}of{parts}" for k in range(parts)]
    return [_row(run_spec(config, views, t["model"], n, aug=aug), f"{aug}/{label}", 100.0 / parts,
                 augmentation=aug, paper_size=label, n_per_set=n)
            for aug in t["presets"] for label, n in _sizes(t)]


def table_rows(config: dict, table_id: str) -> list[dict]:
    """The rows of a run table (with the run specs). Each row's ``runs`` / ``specs`` repeat its
    run over the table's seeds (``seeds:`` in its section; ``run`` / ``spec`` are the first)."""
    rows = registry.rows(table_id, config)
    seeds = table_seeds(registry.table(table_id).section(config), int(config["seed"]), f"{SECTION}.{table_id}.")
    for r in rows:
        r["specs"] = [with_seed(r["spec"], s) for s in seeds]
        r["runs"] = [s["run_id"] for s in r["specs"]]
        r["spec"], r["run"] = r["specs"][0], r["runs"][0]
    return rows


def table_metrics(config: dict, table_id: str) -> list[str]:
    """The metrics files of a run table's runs, each once."""
    return [run_file("dsc", run, "metrics.json")
            for run in dict.fromkeys(run for r in table_rows(config, table_id) for run in r["runs"])]


def param_rows(config: dict, table_id: str) -> list[dict]:
    """The rows a table rule gets as params: without the run specs (the training rule's)."""
    return [{k: v for k, v in r.items() if k not in ("spec", "specs")} for r in table_rows(config, table_id)]


def dsc_runs(config: dict) -> dict[str, dict]:
    """Every dataset-classification run that any table needs, by run id."""
    specs = [spec for rule in RUN_RULES for tid in registry.enabled(config, rule=rule)
             for row in table_rows(config, tid) for spec in row["specs"]]
    specs += ssl_plan.required_dsc_specs(config)
    runs: dict[str, dict] = {}
    for spec in specs:
        prev = runs.setdefault(spec["run_id"], spec)
        if prev != spec:
            raise PlanError(f"run id {spec['run_id']} maps to two different specs")
    return runs


def check(config: dict) -> None:
    """Everything the dataset-classification and ssl sections name resolves (raises PlanError,
    a ConfigError, naming it)."""
    for tid in registry.enabled(config, rule="composition_table"):
        for d in registry.table(tid).section(config)["datasets"]:
            need_dataset(config, f"{SECTION}.{tid}", d)
    dsc_runs(config)
    ssl_plan.mae_runs(config)
    ssl_plan.probe_runs(config)
