"""The TextSpan tables and figures (t18, f19, t20, f21, t22), from the family's result files.

Each writer takes a :class:`vlmbias.tables.registry.TableJob`: its rule's declared inputs (one
result file per CLIP, in ``params.models`` order), outputs and params, and the config.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import pandas as pd
import torch

from vlmbias.core.io import atomic_path, read_jsons
from vlmbias.tables.registry import TableJob, reported_value
from vlmbias.tables.write import data_description, value_or_nan, write_table
from vlmbias.textspan import figures


def _arch(config: Mapping, name: str) -> str:
    return config["clip"]["models"][name]["open_clip"]


def _notes(config: Mapping, extra: Sequence[str]) -> list[str]:
    return [f"Data: {data_description(config)}."] + list(extra) + [
        "reproduced: computed by this workflow; reported: the material's value (blank where it gives none)."]


def _per_model(job: TableJob, runs: Sequence[dict]) -> list[str]:
    """The per-model figure paths (``output.png``, in ``params.models`` order) of the runs."""
    pngs = [job.output.png] if isinstance(job.output.png, str) else list(job.output.png)
    by_model = dict(zip(job.params.models, pngs))
    return [by_model[r["model"]] for r in runs]


def write_mlp_ablation(job: TableJob) -> pd.DataFrame:
    """t18: zero-shot accuracy, full model vs every MLP (and the embedding term) mean-ablated."""
    config, tid = job.config, job.id
    ablations = read_jsons(job.input.runs)
    recs = []
    for a in ablations:
        arch = _arch(config, a["model"])
        recs.append({"model": a["model"], "arch": arch, "weights": a["weights"], "dataset": f"{a['dataset']}/{a['split']}",
                     "images": a["images"], "reproduced_base_acc": round(a["base_acc"], 2),
                     "reported_base_acc": value_or_nan(reported_value(tid, f"{arch}/base")),
                     "reproduced_mlp_ablated_acc": round(a["mlp_ablated_acc"], 2),
                     "reported_mlp_ablated_acc": value_or_nan(reported_value(tid, f"{arch}/mlp_ablated")),
                     "drop": round(a["base_acc"] - a["mlp_ablated_acc"], 2), "chance": round(a["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    write_table(df, job.output.csv, job.output.md, job.heading, _notes(config, [
        "Zero-shot top-1 from the exact decomposition (sum of all direct contributions = the "
        "L2-normalised image embedding); MLPs ablated: every MLP term AND the embedding term "
        "(the official code's 'MLP 0') replaced by its mean over the same image set.",
        "The paper reports a 1-3 point drop (ImageNet val, 50,000 images)."]))
    return df


def write_msa_ablation(job: TableJob) -> pd.DataFrame:
    """f19: zero-shot accuracy with attention layers 0..l mean-ablated, and its plot."""
    config = job.config
    ablations = read_jsons(job.input.runs)
    recs = []
    for a in ablations:
        for l, acc in enumerate(a["msa_accumulated"]):
            recs.append({"model": a["model"], "arch": _arch(config, a["model"]), "layers": a["layers"],
                         "ablated_up_to": "none" if l == 0 else f"0..{l - 1}", "n_ablated": l,
                         "reproduced_acc": round(acc, 2), "chance": round(a["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    write_table(df, job.output.csv, job.output.md, job.heading, _notes(config, [
        "Attention layers 0..l (heads summed) replaced by their mean over the same image set; MLPs intact.",
        "The paper gives a plot only: accuracy stays flat until the last ~4 layers are ablated, then collapses."]))
    figures.plot_msa_ablation(df, job.output.png, data_description(config))
    return df


def write_heads(job: TableJob) -> tuple[pd.DataFrame, pd.DataFrame]:
    """t20: per head, its TextSpan texts and explained variance (the material's texts beside);
    the accuracy with the heads replaced by their TextSpan projection (a second table and
    ``output.accuracy``); a grid of each head's top images per model (``output.png``)."""
    config = job.config
    heads_runs = read_jsons(job.input.runs)
    show_texts = int(job.params.show_texts)
    rep = job.table.reported
    recs, acc = [], []
    for hr in heads_runs:
        arch = _arch(config, hr["model"])
        for h in hr["heads"]:
            r = rep.get(arch, {}).get(f"{h['layer']}/{h['head']}")
            recs.append({"model": hr["model"], "layer": h["layer"], "head": h["head"],
                         "explained_var_pct": round(100 * h["explained"][-1], 2),
                         "explained_var_first_pct": round(100 * h["explained"][0], 2),
                         "texts": " | ".join(h["texts"][:show_texts]),
                         "reported_texts": " | ".join(r) if r else "",
                         "all_texts": " | ".join(h["texts"]), "top_images": " ".join(h["top_keys"])})
        a = hr["accuracy"]
        acc.append({"model": hr["model"], "arch": arch, "m": hr["texts_per_head"], "pool_size": hr["pool_size"],
                    "unique_texts": hr["unique_texts"], "base_acc": round(a["base"], 2),
                    "early_layers_ablated_acc": round(a["early_layers_ablated"], 2),
                    "textspan_replaced_acc": round(a["textspan_replaced"], 2),
                    "heads_mean_ablated_acc": round(a["heads_mean_ablated"], 2),
                    "replaced_acc_per_m": " ".join(f"{v:.1f}" for v in hr["replaced_acc_per_m"]),
                    "chance": round(hr["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    acc_df = pd.DataFrame.from_records(acc)
    hr0 = heads_runs[0]
    notes = _notes(config, [
        f"TextSpan (greedy, covariance form) on every head of layers {hr0['layers']}, basis size m = "
        f"{hr0['texts_per_head']} from a pool of {hr0['pool_size']} texts ({hr0['pool']}); texts projected onto the "
        f"top-{hr0['rank']} right singular subspace of each head's uncentred contributions, as the official code.",
        "explained_var_pct: 100 x V_explained / V_total of the head's (centred) contributions after all m "
        "texts (explained_var_first_pct: after the first); texts: the first ones in greedy order (the CSV "
        "also has all_texts and top_images).",
        "top_images: sample keys of the images whose head contribution has the largest dot product with "
        "the head's first text direction (PNG grid per model).",
        "reported_texts: the material's texts for that head (ViT-L-14, Figure 4 table) where it lists them.",
    ])
    md = job.output.md
    write_table(df.drop(columns=["all_texts", "top_images"]), job.output.csv, md, job.heading, notes)
    with atomic_path(job.output.csv) as tmp:  # the CSV keeps every text and the top images
        df.to_csv(tmp, index=False)
    # the accuracy summary: a second table in the same Markdown file and a CSV of its own
    with atomic_path(job.output.accuracy) as tmp:
        acc_df.to_csv(tmp, index=False)
    with open(md, "a") as f:
        f.write("\n## Zero-shot accuracy with the heads replaced by their TextSpan projection\n\n"
                "- base: the full model; early_layers_ablated: attention layers before the analysed ones "
                "mean-ablated (MLPs intact); textspan_replaced: that, plus every analysed head replaced by "
                "mean + its projection onto its m text directions (the official protocol); "
                "heads_mean_ablated: every analysed head replaced by its mean (m = 0); "
                "replaced_acc_per_m: textspan_replaced for m = 1..M.\n\n")
        f.write(acc_df.to_markdown(index=False, floatfmt=".2f") + "\n")
    sample_dir = os.path.dirname(job.input.index)
    for hr, png in zip(heads_runs, _per_model(job, heads_runs)):
        figures.plot_top_images(hr, sample_dir, png)
    return df, acc_df


def write_heatmaps(job: TableJob) -> pd.DataFrame:
    """f21: the token-map statistics of every model's images and prompts, and one figure of
    the maps per model."""
    config = job.config
    runs = [torch.load(p, map_location="cpu", weights_only=False) for p in job.input.runs]
    df = pd.DataFrame.from_records([r for run in runs for r in run["records"]])
    write_table(df, job.output.csv, job.output.md, job.heading, _notes(config, [
        "Per image token i >= 1: its direct contribution summed over all layers and heads (LN folded "
        "exactly), dotted with the prompt's text embedding; upsampled bilinearly by the patch size. "
        "The PNG shows each prompt's map and their difference (first minus second), as in the material's Figure 8.",
        "similarity_x100: 100 x <normalised image embedding, prompt>; token_sum_x100: the image tokens' part "
        "of it; max_token_x100: the largest token; centre_share_pos_pct: share of the positive map mass in the "
        "central half of the token grid (where the toy world puts the object).",
        "Figure only in the material: no reported values."]))
    for run, png in zip(runs, _per_model(job, runs)):
        figures.plot_heatmaps(run["arrays"], png, run["model"])
    return df


def write_waterbirds(job: TableJob) -> pd.DataFrame:
    """t22: worst-group and average accuracy, base vs place heads vs random heads ablated."""
    config, tid = job.config, job.id
    runs = read_jsons(job.input.runs)
    labels = {"base": "base (full model)", "context_ablated": "context ablated (earlier layers + MLPs)",
              "place_heads": "+ place heads ablated (TextSpan)", "random_heads_max": "+ random heads (max over draws)",
              "random_heads_mean": "+ random heads (mean over draws)"}
    recs = []
    for r in runs:
        arch = _arch(config, r["model"])
        sel = " ".join(f"L{h['layer']}.H{h['head']}" for h in r["selected"]) or "none"
        for key, lab in labels.items():
            res = r["results"].get(key)
            if res is None:
                continue
            recs.append({"model": r["model"], "arch": arch, "setting": lab,
                         "reproduced_worst": round(res["worst"], 2),
                         "reported_worst": value_or_nan(reported_value(tid, f"{arch}/{key}/worst")),
                         "reproduced_avg": round(res["avg"], 2),
                         "reported_avg": value_or_nan(reported_value(tid, f"{arch}/{key}/avg")),
                         "groups": " ".join(f"{g}:{v:.0f}" for g, v in sorted(res.get("groups", {}).items())),
                         "heads": sel if key == "place_heads" else
                         (" ".join(f"L{l}.H{h}" for l, h in res["heads"]) if "heads" in res else "")})
    df = pd.DataFrame.from_records(recs)
    r0 = runs[0]
    rule = r0["rule"]
    verdict = []
    for r in runs:
        res = r["results"]
        if not r["selected"]:
            verdict.append(f"{r['model']}: the rule selected NO place head, so nothing was ablated.")
        else:
            up = res["place_heads"]["worst"] - res["context_ablated"]["worst"]
            rnd = res.get("random_heads_max", {}).get("worst", float("nan"))
            verdict.append(f"{r['model']}: ablating the {len(r['selected'])} place heads "
                           f"{'raised' if up > 0 else 'did NOT raise'} the worst group "
                           f"({res['context_ablated']['worst']:.1f} -> {res['place_heads']['worst']:.1f}; "
                           f"base {res['base']['worst']:.1f}; best of the random draws {rnd:.1f}).")
    write_table(df, job.output.csv, job.output.md, job.heading, _notes(config, [
        f"Zero-shot {' / '.join(r0['classnames'])} on {r0['dataset']}/{r0['split']} ({r0['images']} images; "
        f"groups label/background: {r0['group_sizes']}); worst = the lowest of the four (label, background) "
        "groups, avg = over all images. Means over the same set (the official code).",
        f"Head rule: a head of layers {r0['layers']} is a place head when at least {rule['min_share']} of its "
        f"first {rule['top_texts']} TextSpan texts (from {r0['heads_from']}, t20) contain a place keyword "
        f"({', '.join(rule['place_keywords'])}); max heads: {rule['max_heads'] or 'no limit'}.",
        "As the official protocol, every ablated row also mean-ablates all earlier attention layers and all MLPs; "
        "random heads: the same number of heads drawn from the same layers, several seeded draws "
        "(the paper's 'top-random' = the best draw).",
        "Reported values are the research notes' recollection (ViT-L-14 worst group ~48 -> ~73), unverified.",
    ] + verdict))
    return df
