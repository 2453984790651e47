"""The PerceptionCLIP tables (t16 Waterbirds, t17 CelebA): avg / worst / gap per setting of Z and
mode, per CLIP, beside the material's values per backbone; the whole temperature sweep and the
accuracy of the inferred attribute as CSVs beside, and a figure of the latter."""

from __future__ import annotations

import pandas as pd

from vlmbias.core.io import atomic_path, read_jsons
from vlmbias.perceptionclip import figures
from vlmbias.tables.registry import TableJob
from vlmbias.tables.write import data_description, value_or_nan, write_table

BACKBONES = ("RN50", "ViT-B/32", "ViT-B/16", "ViT-L/14")
METRICS = ("avg", "worst", "gap")


def _reported(job: TableJob, setting: str, backbone: str, metric: str) -> float:
    values = (job.table.reported.get(setting) or {}).get(backbone)
    return value_or_nan(values[METRICS.index(metric)] if values else None)


def _verdict(run: dict) -> str:
    """Whether conditioning on Z raised the worst group over Z = none (ClassAttr rows)."""
    base = next((r for r in run["rows"] if r["mode"] == "zero_shot"), None)
    conditioned = [r for r in run["rows"] if r["mode"] == "class_attr"]
    if base is None or not conditioned:
        return ""
    best = max(conditioned, key=lambda r: r["eval"]["worst"])
    verb = "raised" if best["eval"]["worst"] > base["eval"]["worst"] else "did NOT raise"
    return (f"{run['model']}: conditioning on Z {verb} the worst group over Z = none "
            f"({base['eval']['worst']:.1f} -> {best['eval']['worst']:.1f} with {best['setting']}, ClassAttr, "
            f"tau {best['tau']:g}; average {base['eval']['avg']:.1f} -> {best['eval']['avg']:.1f}).")


def write_perceptionclip(job: TableJob) -> pd.DataFrame:
    runs = read_jsons(job.input.runs)
    backbones = dict(job.params.backbones or {})
    keys = list(dict.fromkeys((r["setting"], r["mode"]) for run in runs for r in run["rows"]))
    records = []
    for setting, mode in keys:
        rec = {"setting": setting, "mode": mode}
        for run in runs:
            row = next((r for r in run["rows"] if (r["setting"], r["mode"]) == (setting, mode)), None)
            m = run["model"]
            rec["Z"] = "{" + ", ".join(row["factors"]) + "}" if row and row["factors"] else "none"
            rec["|Z|"] = row["z_size"] if row else None
            for metric in METRICS:
                rec[f"reproduced_{metric} ({m})"] = round(row["eval"][metric], 2) if row else float("nan")
                if m in backbones:
                    rec[f"reported_{metric} ({backbones[m]})"] = _reported(job, setting, backbones[m], metric)
            rec[f"tau ({m})"] = row["tau"] if row else float("nan")
        for b in BACKBONES:
            if b not in backbones.values():
                for metric in METRICS:
                    rec[f"reported_{metric} ({b})"] = _reported(job, setting, b, metric)
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    lead = ["setting", "Z", "|Z|", "mode"]
    df = df[lead + [c for c in df.columns if c not in lead]]
    run0 = runs[0]
    tau_note = (f"tau chosen per row on the {run0['val_split']} split: the best worst-group accuracy there (then "
                f"the average) over the grid {run0['temperatures']}; the evaluation split's groups are never looked at"
                if run0["tau_rule"] == "val" else f"a fixed tau = {run0['tau_rule']}")
    t = job.table.section(job.config)
    notes = [
        f"Data: {data_description(job.config)}; evaluated on {run0['dataset']}/{run0['split']} "
        f"({run0['n_eval']} images; groups label/{t['group_attribute']}: {run0['group_sizes']}), "
        f"preprocessing {run0['preprocess']}.",
        "avg: accuracy over all images; worst: the lowest (label, group) cell; gap = avg - worst (the official "
        "evaluation).",
        f"P(y|x) = sum_z P(y|x,z) P(z|x), in log space; P(z|x) at temperature tau by ClassAttr (class-conditioned "
        f"prompts summed over classes) or PureAttr (the class word replaced by '{t['generic']}'); {tau_note}. "
        "Without Z (|Z| = 1) it is plain zero-shot.",
        f"Prompts: main template '{t['main_template']}', classes {t['classes']}, attribute dictionary "
        f"'{t['attributes']}' (descriptions joined with ', ', one head row per (class, value): their embeddings "
        "averaged); the whole tau sweep is in the _tau_sweep.csv beside, how well P(z|x) finds the true attribute "
        "in _inference.csv and the figure.",
        "reported: the material's table (one row per Z, per backbone; it does not say whether ClassAttr or "
        "PureAttr), beside both modes; reproduced: computed by this workflow.",
    ] + [v for v in (_verdict(run) for run in runs) if v]
    write_table(df, job.output.csv, job.output.md, job.heading, notes)
    sweep = pd.DataFrame.from_records([{"model": run["model"], **s} for run in runs for s in run["sweep"]])
    with atomic_path(job.output.sweep) as tmp:
        sweep.to_csv(tmp, index=False)
    inference = pd.DataFrame.from_records([
        {"model": run["model"], "setting": r["setting"], "mode": r["mode"], "tau": r["tau"], "factor": factor,
         "field": inf["field"], "values": " ".join(inf["values"]), "n": inf["n"], "acc": round(inf["acc"], 2),
         **{f"acc {cell}": round(v, 2) for cell, v in inf["cells"].items()}}
        for run in runs for r in run["rows"] for factor, inf in r["inference"].items()])
    with atomic_path(job.output.inference) as tmp:
        inference.to_csv(tmp, index=False)
    figures.plot_inference(inference, job.output.png, job.id, t["group_attribute"])
    return df
