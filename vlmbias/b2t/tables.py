"""The B2T tables: t11, the keywords of each class's mispredicted captions with their CLIP score,
subgroup accuracy and bias tag, beside the reported keyword rows; t12, zero-shot worst-group and
average accuracy per prompt set; t13, the label diagnosis's flagged images, precision and recall."""

from __future__ import annotations

import pandas as pd

from vlmbias.core.io import read_json, read_jsons
from vlmbias.tables.registry import TableJob
from vlmbias.tables.write import data_description, value_or_nan, write_table


def _caption_quality(job: TableJob) -> str:
    paths = list(getattr(job.input, "captioner", None) or [])
    if not paths:
        return "the official ClipCap weights (Conceptual Captions)"
    m = read_json(paths[0])
    quality = "; ".join(f"{split}: " + ", ".join(f"{k[6:]} {v}%" for k, v in q.items() if k.startswith("names_"))
                        for split, q in m.get("holdout", {}).items())
    return (f"a toy ClipCap trained here ({m['pairs']} pairs, GPT-2 {m['gpt']['n_layer']} layers x {m['gpt']['n_embd']}, "
            f"vocabulary {m['vocab']}; loss {m['first_loss']:.2f} -> {m['final_loss']:.2f}); share of held-out captions "
            f"naming the true value: {quality}")


def write_keywords(job: TableJob) -> pd.DataFrame:
    runs = read_jsons(job.input.runs)
    reported = job.table.reported
    records = []
    for run in runs:
        for cls, res in run["classes"].items():
            rep = (reported.get(run["task"]) or {}).get(cls) or {}
            for r in res["keywords"]:
                rr = rep.get(r["keyword"].lower())
                records.append({
                    "dataset": run["dataset"], "class": cls, "keyword": r["keyword"],
                    "reproduced_score": round(r["score"], 3), "reported_score": value_or_nan(rr[0] if rr else None),
                    "reproduced_subgroup_acc": None if r["subgroup_acc"] is None else round(100 * r["subgroup_acc"], 1),
                    "reported_subgroup_acc": value_or_nan(100 * rr[1] if rr and rr[1] is not None else None),
                    "reproduced_tag": r["tag"], "reported_tag": rr[2] if rr else "",
                    "images_with_keyword": r["n_images"], "class_acc": round(100 * res["class_acc"], 1),
                    "wrong": res["n_wrong"], "images": res["n"]})
    df = pd.DataFrame.from_records(records)
    run0 = runs[0]
    notes = [
        f"Data: {data_description(job.config)}; audited split: {run0['split']} (as the official code); scoring CLIP: "
        f"{run0['scorer']}.",
        "keyword: YAKE (n 3, dedup_lim 0.9, top 20) on the captions of the class's mispredicted images joined with "
        "spaces; score: 100 x (mean cos over the wrong images - mean over the correct ones) of 'a photo of a "
        "{keyword}', sorted by score; subgroup_acc: accuracy over the class's images whose caption holds the keyword "
        "(whole word); tag: S (spurious, class-specific), M (scores positive in the other class too), blank: negative.",
        f"Captioner: {_caption_quality(job)}.",
        f"reported: {job.table.source}.",
    ]
    write_table(df, job.output.csv, job.output.md, job.heading, notes)
    return df


ROW_LABELS = {"base": "Base prompt", "group_names": "+ Group names", "b2t_neg": "+ B2T-neg", "b2t_pos": "+ B2T-pos"}
TEMPLATE_SOURCES = {
    "keywords": "built from t11's keywords, never written by hand: the strongest positive-score keywords of every "
                "class (B2T-pos) or negative-score ones (B2T-neg), a keyword that names a class skipped, each as "
                "'{c} <the phrase the captions say it in>' or '<keyword> {c}'",
    "config": "the material's prompt table, given as data in the config (b2t.zero_shot.class_templates)"}


def write_zeroshot(job: TableJob) -> pd.DataFrame:
    runs = read_jsons(job.input.runs)
    records = []
    for key, label in ROW_LABELS.items():
        rec = {"prompt": label}
        for run in runs:
            row, d = run["rows"][key], run["task"]
            rep = (job.table.reported.get(key) or {}).get(d)
            rec |= {f"reproduced_worst ({d})": round(row["worst"], 2),
                    f"reported_worst ({d})": value_or_nan(rep[0] if rep else None),
                    f"reproduced_avg ({d})": round(row["avg"], 2),
                    f"reported_avg ({d})": value_or_nan(rep[1] if rep else None),
                    f"class templates ({d})": " | ".join(row["class_templates"]) if key != "base" else "{c}"}
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    run0 = runs[0]
    verdicts = []
    for run in runs:
        r = run["rows"]
        up = r["b2t_pos"]["worst"] - r["base"]["worst"]
        verdicts.append(f"{run['task']}: B2T-pos {'raised' if up > 0 else 'did NOT raise'} the worst group over the base "
                        f"prompt ({r['base']['worst']:.1f} -> {r['b2t_pos']['worst']:.1f}; B2T-neg "
                        f"{r['b2t_neg']['worst']:.1f}; group names {r['group_names']['worst']:.1f}).")
        if run.get("template_source") == "keywords" and len(r["b2t_pos"]["class_templates"]) == 1:
            verdicts.append(f"{run['task']}: t11 found no positive-score keyword (the classifier made "
                            f"{run.get('n_wrong', '?')} mistakes on the audited split), so B2T-pos is the base prompt.")
    by_source = {}
    for run in runs:
        by_source.setdefault(run.get("template_source", "keywords"), []).append(run["task"])
    notes = [f"Data: {data_description(job.config)}; {run0['split']} split; CLIP {run0['clip']}; prompt templates "
             f"'{run0['templates']}' x the class templates ({{c}} = the class).",
             "B2T class templates: " + "; ".join(f"{', '.join(t)}: {TEMPLATE_SOURCES[s]}" for s, t in by_source.items())
             + ". + Group names: the groups' names. Each class embedding: the normalised mean of its prompts' "
             "normalised embeddings. worst: the lowest (label, group) cell; avg: over all images.",
             f"reported: {job.table.source}."] + verdicts
    write_table(df, job.output.csv, job.output.md, job.heading, notes)
    return df


def write_diagnosis(job: TableJob) -> pd.DataFrame:
    """t13: one row per (keyword, label, prediction) of the flagged images, with an example
    caption and, in the toy world, how many of them carry a planted label error; the material's
    four examples beside (reported); precision and recall in the notes; the flagged images in a
    PNG grid."""
    import numpy as np

    from vlmbias.b2t.figures import plot_diagnosis

    run = read_json(job.input.run)
    records = [{"keyword": p["keyword"], "label": p["label"], "prediction": p["prediction"], "caption": p["caption"],
                "flagged_images": p["n"], "planted_errors_found": value_or_nan(p["planted"])} for p in run["pairs"]]
    reported = job.table.reported
    for kw, (label, pred, caption) in reported.items():
        records.append({"keyword": kw, "label": label, "prediction": pred, "caption": caption,
                        "flagged_images": float("nan"), "planted_errors_found": float("nan"), "reported": "yes"})
    df = pd.DataFrame.from_records(records)
    df["reported"] = df.get("reported", pd.Series(dtype=object)).fillna("")
    notes = [f"Data: {data_description(job.config)}; {run['task']} {run['split']} split ({run['n_images']} images, "
             f"{run['n_mispredicted']} mispredicted by the classifier under audit).",
             "An image is flagged when it is mispredicted and its caption holds a keyword of its class (t11's YAKE "
             "keywords of the class's mispredicted captions) that names the predicted class; rows: (keyword, label, "
             "prediction) with an example caption; planted_errors_found: how many of them are a planted error B2T is "
             "right about (the toy world). Rows marked reported: the material's examples (ImageNet val, a ResNet-50), "
             "not computed here.",
             f"reported: {job.table.source}."]
    if run["planted_truth"]:
        p = run["precision"]
        notes.append(f"Against the planted label errors ({run['n_planted']} images): {run['n_flagged']} flagged, "
                     f"precision {'n/a' if p is None else f'{100 * p:.1f}%'}; " + "; ".join(
                         f"{kind}: {r['n_flagged']} of {r['n']} flagged (recall {100 * (r['recall'] or 0):.1f}%; "
                         f"{r['n_visible']} of them visible to B2T, recall among those "
                         f"{100 * (r['recall_of_visible'] or 0):.1f}%)" for kind, r in run["recall"].items())
                     + ". A flag is right on a mislabeled image, and on an ambiguous one (a mug) when it is predicted "
                     "as its near-synonym (cup); visible: mispredicted (ambiguous: as the synonym).")
    else:
        notes.append(f"{run['n_flagged']} images flagged; the images carry no planted truth (real labels), so "
                     "precision and recall are not computed: look at the figure.")
    write_table(df, job.output.csv, job.output.md, job.heading, notes)
    with np.load(job.input.images) as z:
        images = z["images"]
    plot_diagnosis(images, run["examples"], job.output.png, job.id)
    return df
