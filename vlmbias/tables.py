"""Tables: the reproduced value beside the value the material reports, as CSV and Markdown."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

import pandas as pd

from vlmbias.reported import reported_value


def load_metrics(paths: Iterable[str]) -> dict[str, dict]:
    out = {}
    for p in paths:
        with open(p) as f:
            m = json.load(f)
        out[m["run_id"]] = m
    return out


def accuracy_table(table_id: str, rows: list[dict[str, Any]], metrics: dict[str, dict],
                   setting_cols: list[str], extra: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per table row: its setting columns, the reproduced and reported accuracy (%),
    chance, and the run that produced it. ``extra`` maps a column name to a metrics key."""
    records = []
    for row in rows:
        m = metrics.get(row["run"])
        if m is None:
            raise KeyError(f"{table_id}: no metrics for run {row['run']}")
        rec = {c: row[c] for c in setting_cols}
        rec["reproduced_acc"] = round(float(m["val_acc"]), 2)
        rep = reported_value(table_id, row["key"])
        rec["reported_acc"] = float(rep) if rep is not None else float("nan")
        rec["chance"] = round(float(row["chance"]), 2)
        for col, key in (extra or {}).items():
            rec[col] = m[key]
        rec["run"] = row["run"]
        records.append(rec)
    return pd.DataFrame.from_records(records)


def write_table(df: pd.DataFrame, csv_path: str, md_path: str, title: str,
                notes: list[str] | None = None) -> None:
    os.makedirs(os.path.dirname(csv_path) or ".", exist_ok=True)
    df.to_csv(csv_path, index=False)
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes or []]
    if notes:
        lines.append("")
    lines.append(df.to_markdown(index=False, floatfmt=".1f"))
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")


DSC_SETTING_COLS = {
    "t01_combinations": ["panel", "combination", "datasets"],
    "t02_architectures": ["model", "arch", "datasets"],
}


def data_description(config: dict) -> str:
    toy = [n for n, e in config["datasets"].items() if e.get("toy")]
    if len(toy) == len(config["datasets"]):
        return ("the procedural toy world (stand-ins with planted biases, not the real datasets: "
                "compare the pattern across rows, not the values)")
    if toy:
        return f"real shards, except the toy-world stand-ins for {', '.join(toy)}"
    return "real shards"


def write_dsc_table(table_id: str, rows: list[dict], metrics: dict[str, dict], csv_path: str,
                    md_path: str, config: dict) -> pd.DataFrame:
    from vlmbias.experiments import TABLE_TITLES

    extra = {"params": "params"} if table_id == "t02_architectures" else None
    df = accuracy_table(table_id, rows, metrics, DSC_SETTING_COLS[table_id], extra)
    any_m = metrics[rows[0]["run"]]
    rec = any_m["config"]["recipe"]
    notes = [
        f"Data: {data_description(config)}.",
        f"Per dataset: {any_m['config']['n_train']} training images; validation images: "
        f"{any_m['n_val'] // len(any_m['classes'])} per dataset.",
        f"Budget: {any_m['samples_seen']} samples seen, batch {rec['batch_size']}, "
        f"input {rec['input_size']} px (AlexNet may differ: see config models).",
        "reproduced_acc: top-1 validation accuracy (%) computed by this workflow; "
        "reported_acc: the material's value; chance = 100 / number of datasets.",
    ]
    write_table(df, csv_path, md_path, f"{table_id}: {TABLE_TITLES[table_id]}", notes)
    return df
