"""The dataset-classification tables (t01-t10) and their figures, written from the runs' metrics.

Each writer takes a :class:`vlmbias.tables.registry.TableJob`: the table id, its rule's declared
inputs (run metrics, probe metrics, sample indexes) and outputs (csv, md, png), the rule's params
(the table's rows, from ``vlmbias.dsc.plan``) and the config.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from vlmbias.core.io import read_jsons
from vlmbias.core.seeds import fmt, mean_std
from vlmbias.dsc import figures, findings
from vlmbias.dsc.composition import composition_table
from vlmbias.shards.sampler import load_index
from vlmbias.tables import registry
from vlmbias.tables.registry import TableJob
from vlmbias.tables.write import data_description, value_or_nan, write_table

ROW_KEYS = ("key", "chance", "run", "spec", "runs", "specs")  # every row holds these; its other keys are settings


def load_metrics(paths) -> dict[str, dict]:
    """Dataset-classification metrics by run id."""
    return {m["run_id"]: m for m in read_jsons(paths)}


def _row_metrics(job: TableJob, metrics: dict[str, dict], row: dict) -> list[dict]:
    """The metrics of a row's runs, one per seed."""
    missing = [r for r in row["runs"] if r not in metrics]
    if missing:
        raise KeyError(f"{job.id}: no metrics for run(s) {missing}")
    return [metrics[r] for r in row["runs"]]


def _seeded(job: TableJob) -> bool:
    return any(len(r["runs"]) > 1 for r in job.params.rows)


def accuracy_frame(job: TableJob, metrics: dict[str, dict], extra: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per table row: its setting columns, the reproduced (mean over the row's seeds,
    with ``reproduced_acc_std`` and ``seeds`` where the table runs over seeds) and reported accuracy
    (%), chance, and the (first seed's) run. ``extra`` maps a column name to a metrics key."""
    records = []
    for row in job.params.rows:
        ms = _row_metrics(job, metrics, row)
        m = ms[0]
        rec = {c: v for c, v in row.items() if c not in ROW_KEYS}
        mean, sd, n = mean_std([x["val_acc"] for x in ms])
        rec["reproduced_acc"] = round(mean, 2)
        if _seeded(job):
            rec["reproduced_acc_std"], rec["seeds"] = round(sd, 2), n
        rec["reported_acc"] = value_or_nan(registry.reported_value(job.id, row["key"]))
        rec["chance"] = round(float(row["chance"]), 2)
        for col, key in (extra or {}).items():
            rec[col] = m[key]
        rec["key"] = row["key"]
        rec["run"] = row["run"]
        records.append(rec)
    return pd.DataFrame.from_records(records)


def _notes(job: TableJob, metrics: dict[str, dict]) -> list[str]:
    any_m = metrics[job.params.rows[0]["run"]]
    rec = any_m["config"]["recipe"]
    notes = [
        f"Data: {data_description(job.config)}.",
        f"Budget: {any_m['samples_seen']} samples seen per run (the same for every row, as in the "
        f"paper), batch {rec['batch_size']}, input {rec['input_size']} px; {any_m['n_val']} validation images "
        f"per run.",
        "reproduced: computed by this workflow; reported: the material's value; "
        "chance = 100 / number of classes.",
    ]
    notes += list((job.table.section(job.config) or {}).get("notes") or [])
    if _seeded(job):
        n = max(len(r["runs"]) for r in job.params.rows)
        notes.append(f"Each reproduced value: mean ± std over {n} seeds (seeds column; the seed sets model "
                     "initialisation, augmentation and batch order, the sampled images are the same).")
    return notes


def _write(job: TableJob, df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """CSV with the numbers (``*_std`` and ``seeds`` columns where the table runs over seeds);
    Markdown with "mean ± std" cells in their place."""
    md = df.copy()
    for col in [c for c in df.columns if c.endswith("_std")]:
        base = col[:-len("_std")]
        md[base] = [v if isinstance(v, str) else fmt(v, sd, int(n))
                    for v, sd, n in zip(df[base], df[col], df["seeds"])]
        md = md.drop(columns=col)
    write_table(df, job.output.csv, job.output.md, job.heading, notes, md_df=md)
    return df


def write_combinations(job: TableJob) -> pd.DataFrame:
    """t01: validation accuracy per combination, and whether the material's findings show."""
    metrics = load_metrics(job.input.metrics)
    df = accuracy_frame(job, metrics)
    return _write(job, df, _notes(job, metrics) + findings.combinations(df))


def write_augmentation(job: TableJob) -> pd.DataFrame:
    """t05: augmentation x training images, and whether the material's findings show."""
    metrics = load_metrics(job.input.metrics)
    df = accuracy_frame(job, metrics)
    return _write(job, df, _notes(job, metrics) + findings.augmentation(df))


def write_architectures(job: TableJob) -> pd.DataFrame:
    """t02: accuracy and parameter count per architecture."""
    metrics = load_metrics(job.input.metrics)
    df = accuracy_frame(job, metrics, {"params": "params"})
    return _write(job, df, _notes(job, metrics) + findings.architectures(df))


def write_model_size(job: TableJob) -> pd.DataFrame:
    """f03: accuracy against parameters; the reported points are the models the config maps
    to the paper's (``reported_as``)."""
    metrics = load_metrics(job.input.metrics)
    df = accuracy_frame(job, metrics, {"params": "params"})
    labels = job.table.section(job.config).get("reported_as") or {}
    df["reported_acc"] = [registry.reported_value(job.id, labels[m]) if m in labels else float("nan")
                          for m in df["model"]]
    df.insert(1, "paper_point", [labels.get(m, "") for m in df["model"]])
    _write(job, df, _notes(job, metrics) + findings.model_size(df))
    figures.plot_model_size(df, job.output.png, job.id, data_description(job.config),
                            registry.reported_value(job.id, "points"))
    return df


def write_train_images(job: TableJob) -> pd.DataFrame:
    """f04: accuracy against training images per dataset."""
    metrics = load_metrics(job.input.metrics)
    df = accuracy_frame(job, metrics)
    _write(job, df, _notes(job, metrics) + findings.train_images(df))
    figures.plot_train_images(df, job.output.png, job.id, data_description(job.config), job.table.reported)
    return df


def write_corruptions(job: TableJob) -> pd.DataFrame:
    """t06: one corruption at a time, on training and validation images."""
    metrics = load_metrics(job.input.metrics)
    notes = _notes(job, metrics) + [
        "Each corruption is applied to training AND validation images after decoding, "
        "before the recipe's transforms (see vlmbias/train/corruptions.py)."]
    df = accuracy_frame(job, metrics)
    return _write(job, df, notes + findings.corruptions(df))


def loss_ratio(metrics: dict, frac: float = 0.1) -> float:
    """Mean loss over the last ``frac`` of the loss curve divided by the mean over the first
    ``frac``: below 1 the loss went down."""
    losses = [v for _, v in metrics["loss_curve"]]
    k = max(1, int(round(len(losses) * frac)))
    head, tail = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return tail / head


def write_pseudo_datasets(job: TableJob) -> pd.DataFrame:
    """t07: training accuracy (clean pass), validation accuracy, and "fail" when the loss did
    not decrease: final smoothed loss (mean of the last 10% of the curve) not below
    ``fail_loss_ratio`` x the initial one (mean of the first 10%)."""
    metrics = load_metrics(job.input.metrics)
    fail_ratio = float(job.table.section(job.config).get("fail_loss_ratio", 0.95))
    records = []
    for row in job.params.rows:
        ms = _row_metrics(job, metrics, row)
        ratio = mean_std([loss_ratio(m) for m in ms])[0]
        train, train_sd, n = mean_std([m["train_acc"] for m in ms])
        val, val_sd, _ = mean_std([m["val_acc"] for m in ms])
        records.append({c: v for c, v in row.items() if c not in ROW_KEYS} | {
            "reproduced_train_acc": "fail" if ratio >= fail_ratio else round(train, 2),
            "reported_train_acc": registry.reported_value(job.id, row["key"]),
            "train_acc": round(train, 2),
            "reproduced_val_acc": round(val, 2),
            "reported_val_acc": registry.reported_value(job.id, "val_acc"),
            "loss_ratio": round(ratio, 4), "chance": round(float(row["chance"]), 2),
            **({"train_acc_std": round(train_sd, 2), "reproduced_val_acc_std": round(val_sd, 2), "seeds": n}
               if _seeded(job) else {}),
            "run": row["run"]})
    notes = _notes(job, metrics) + [
        f"fail: the loss did not decrease, i.e. the mean loss over the last 10% of "
        f"training (averaged over the seeds) is not below {fail_ratio} x the mean over the first 10% "
        f"(loss_ratio column). train_acc is a clean pass (eval transform) over the "
        f"training images."]
    return _write(job, pd.DataFrame.from_records(records), notes)


def write_composition(job: TableJob) -> pd.DataFrame:
    """t10: group shares per dataset from the sampled images' metadata."""
    section = job.table.section(job.config)
    indexes = {d: load_index(os.path.dirname(p)) for d, p in zip(section["datasets"], job.input.indexes)}
    df = composition_table(indexes, section.get("attributes"))
    notes = [f"Data: {data_description(job.config)}; shares are over each dataset's sampled images "
             "(a seeded uniform sample of its shards).",
             "least_group: the most under-represented value (or pair of values) present; "
             "values that never occur cannot be counted.",
             "The material's examples (other datasets, for reference): " + "; ".join(
                 f"{e['dataset']}: {e['group']} only make up {e['share']}%"
                 for e in registry.reported_value(job.id, "examples")) + "."]
    return _write(job, df, notes)


def _probe_accuracies(job: TableJob) -> dict[str, tuple]:
    """Probe head id -> (validation accuracy, number of classes, validation images), over the
    probe jobs' metrics."""
    return {h["id"]: (h["val_acc"], m["num_classes"], m["n_val"])
            for m in read_jsons(job.input.probes) for h in m["heads"]}


def _transfer_notes(job: TableJob, notes: list[str]) -> list[str]:
    notes = notes + list((job.table.section(job.config) or {}).get("notes") or [])
    return [f"Data: {data_description(job.config)}."] + notes + [
        "reproduced: computed by this workflow; reported: the material's value."]


def write_mae_probe(job: TableJob) -> pd.DataFrame:
    """t08: one row per case (a supervised run, or a linear probe of an MAE encoder)."""
    dsc, probes = load_metrics(job.input.dsc), _probe_accuracies(job)
    records: list[dict[str, Any]] = []
    for row in registry.rows(job.id, job.config):
        acc = dsc[row["run"]]["val_acc"] if row["kind"] == "dsc" else probes[row["head"]][0]
        records.append({"case": row["case"], "reproduced_acc": round(float(acc), 2),
                        "reported_acc": registry.reported_value(job.id, row["key"]),
                        "chance": round(row["chance"], 2), "run": row["head"] if row["kind"] == "probe" else row["run"]})
    notes = ["Probe: frozen encoder, class token through the final norm, BatchNorm without affine "
             "+ linear head, LARS (MAE's linear-probe recipe; budget in config ssl.probe)."]
    return _write(job, pd.DataFrame.from_records(records), _transfer_notes(job, notes))


def write_transfer(job: TableJob) -> pd.DataFrame:
    """t09: one row per pre-training, the best head of its probe sweep."""
    probes = _probe_accuracies(job)
    records = []
    for row in registry.rows(job.id, job.config):
        sweep = {(h["layer"], h["blr"]): probes[h["id"]][0] for h in row["heads"]}
        (layer, blr), best = max(sweep.items(), key=lambda kv: kv[1])
        k = probes[row["heads"][0]["id"]][1]
        records.append({
            "pretraining": row["pretraining"], "reproduced_acc": round(float(best), 2),
            "reported_acc": registry.reported_value(job.id, row["key"]),
            "best_layer": layer, "best_blr": blr, "chance": round(100.0 / k, 2),
            "sweep": "; ".join(f"L{l}/blr{b:g}: {v:.1f}" for (l, b), v in sorted(sweep.items())),
            "encoder": row["encoder"]["id"], "n_val": probes[row["heads"][0]["id"]][2]})
    df = pd.DataFrame.from_records(records)
    spread = df.assign(reproduced_acc_std=[findings.binomial_se(a, n) for a, n in zip(df["reproduced_acc"], df["n_val"])],
                       seeds=1)
    notes = ["reproduced_acc: the best linear-probe accuracy over the sweep of probe layer x base lr "
             "(the paper searches layer {8, 9, 10} x blr {0.1, 0.2, 0.3} likewise).",
             "Deviation: the paper probes the epoch-250 checkpoint; this probes the final one.",
             f"MoCo v3 (reported {registry.reported_value(job.id, 'mocov3')}) is a reference the workflow "
             "does not train.",
             "Spread (the findings below): one probe run per row, so a difference counts beyond twice the "
             "standard error of two accuracies on n_val validation images (binomial)."] + findings.transfer(spread)
    return _write(job, df, _transfer_notes(job, notes))
