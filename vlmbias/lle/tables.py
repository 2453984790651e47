"""The Whac-A-Mole tables: t14 (UrbanCars), from the runs' metrics.json files, each cell the mean
± std over the table's seeds beside the value the material reports, the selection rule and
epoch beside, and the material's "(xk)" marks computed against this run's ERM row."""

from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd

from vlmbias.core.seeds import fmt, mean_std
from vlmbias.lle.metrics import amplification
from vlmbias.lle.plan import registry
from vlmbias.tables.registry import TableJob
from vlmbias.tables.write import data_description, value_or_nan, write_table

URBANCARS_COLUMNS = (("id_acc", "I.D. Acc"), ("bg_gap", "BG Gap"), ("coobj_gap", "CoObj Gap"),
                     ("both_gap", "BG+CoObj Gap"))
GAPS = ("bg_gap", "coobj_gap", "both_gap")


def urbancars_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per method (registry order): mean, std and N over seeds of every metric, the
    mean selected epoch, and the reported values."""
    by = defaultdict(list)
    for r in runs:
        by[r["method"]].append(r)
    reported = {}
    rows = []
    for method in [m for m in registry() if m in by]:
        rs = sorted(by[method], key=lambda r: r["seed"])
        row = {"method": method, "row": rs[0]["row"], "seeds": len(rs),
               "epoch": sum(r["selection"]["epoch"] for r in rs) / len(rs),
               "epochs": rs[0]["selection"]["epochs"], "selection": rs[0]["selection"]["rule"],
               "seeds_no_val_above_0": sum(r["selection"]["rule"].endswith("_none_above_0") for r in rs)}
        for key, _ in URBANCARS_COLUMNS:
            m, sd, n = mean_std([r["test"][key] for r in rs])
            row[key], row[f"{key}_std"] = m, sd
        rows.append(row)
    df = pd.DataFrame(rows)
    return df


def _mark(df: pd.DataFrame) -> pd.DataFrame:
    """The "(xk)" amplification of each gap against the ERM row (None without ERM)."""
    erm = df[df["method"] == "erm"]
    for key in GAPS:
        df[f"{key}_x"] = [amplification(g, float(erm[key].iloc[0])) if len(erm) and g == g else None
                          for g in df[key]]
    return df


def findings(df: pd.DataFrame) -> list[str]:
    """The material's findings, checked on this table (computed, not asserted)."""
    out = []
    if not (df["method"] == "erm").any():
        return ["no ERM row: the gaps cannot be compared against ERM"]
    erm = df[df["method"] == "erm"].iloc[0]
    relied = [name for key, name in (("bg_gap", "background"), ("coobj_gap", "co-object")) if erm[key] < 0]
    out.append(f"ERM relies on {' and '.join(relied) if relied else 'neither shortcut'}: BG+CoObj gap "
               f"{erm['both_gap']:.1f} (BG {erm['bg_gap']:.1f}, CoObj {erm['coobj_gap']:.1f})"
               + ("" if erm["coobj_gap"] < 0 else "; no CoObj gap: the co-object is not a shortcut ERM takes here, so "
                  "a CoObj gap below ERM's is a shortcut the method adds") + ".")
    moles = []
    for _, r in df.iterrows():
        if r["method"] in ("erm", "lle", "groupdro"):
            continue
        d_bg, d_co = r["bg_gap"] - erm["bg_gap"], r["coobj_gap"] - erm["coobj_gap"]
        if (d_bg > 0 > d_co) or (d_co > 0 > d_bg):
            better, worse = ("BG", "CoObj") if d_bg > 0 else ("CoObj", "BG")
            moles.append(f"{r['row']} ({better} {max(d_bg, d_co):+.1f}, {worse} {min(d_bg, d_co):+.1f})")
    out.append("Whac-A-Mole (narrows one gap, widens the other, against ERM): "
               + ("; ".join(moles) if moles else "none") + ".")
    if (df["method"] == "lle").any():
        lle = df[df["method"] == "lle"].iloc[0]
        names = dict(zip(GAPS, ("BG", "CoObj", "BG+CoObj")))
        delta = {k: round(round(lle[k], 1) - round(erm[k], 1), 1) for k in GAPS}  # as printed
        narrowed = [names[k] for k in GAPS if delta[k] > 0]
        widened = []
        for k in GAPS:
            d = delta[k]
            if d < 0:
                spread = max(lle.get(f"{k}_std", 0) or 0, erm.get(f"{k}_std", 0) or 0)  # NaN (one seed) -> 0
                within = " (within the seeds' spread)" if spread == spread and -d <= spread else ""
                widened.append(f"{names[k]} by {-d:.1f}{within}")
        out.append(f"LLE against ERM: {'narrows all three gaps' if len(narrowed) == 3 else 'narrows ' + (', '.join(narrowed) or 'none')}"
                   + (f"; widens {', '.join(widened)}" if widened else "")
                   + f" (BG {lle['bg_gap']:.1f} vs {erm['bg_gap']:.1f}, CoObj {lle['coobj_gap']:.1f} vs "
                   f"{erm['coobj_gap']:.1f}, BG+CoObj {lle['both_gap']:.1f} vs {erm['both_gap']:.1f}).")
    return out


def ensemble_note(runs: list[dict]) -> str | None:
    """What LLE's parts do (test set, selected epoch, mean over its seeds): each head alone, and
    the shift predictor's mean weights on the images where one shortcut conflicts: why the
    ensemble narrows a gap or not (``vlmbias.lle.metrics.ensemble_diagnostics``)."""
    rs = [r for r in runs if r["method"] == "lle" and "ensemble" in r["test"]]
    if not rs:
        return None
    names = rs[0]["info"].get("shifts") or [f"head {k}" for k in range(len(rs[0]["test"]["ensemble"]["heads"]))]
    mean = lambda vals: sum(vals) / len(vals)  # noqa: E731
    heads = []
    for k, name in enumerate(names):
        g = {key: mean([r["test"]["ensemble"]["heads"][k][key] for r in rs]) for key in GAPS}
        heads.append(f"{name} {g['bg_gap']:.1f} / {g['coobj_gap']:.1f} / {g['both_gap']:.1f}")
    weights = []
    for group, label in (("bg_conflicting", "BG-conflicting"), ("coobj_conflicting", "CoObj-conflicting"),
                         ("both_conflicting", "both-conflicting")):
        w = [mean([r["test"]["ensemble"]["shift_weights"][group][k] for r in rs]) for k in range(len(names))]
        weights.append(f"{label} images " + " / ".join(f"{v:.2f}" for v in w))
    return (f"LLE's parts (test set, selected epoch, mean of {len(rs)} seeds): each head alone, BG / CoObj / "
            f"BG+CoObj gap: {'; '.join(heads)}. The shift predictor's mean weights ({' / '.join(names)}) on "
            f"{'; '.join(weights)}. A head trained on one shift leans on the other shortcut (its augmentation "
            "keeps that one aligned and makes the shifted one anti-aligned), so the ensemble narrows a gap only "
            "as far as the predictor routes those images to the head made for them.")


def write_urbancars(job: TableJob) -> pd.DataFrame:
    runs = [json.load(open(p)) for p in job.input.runs]
    df = _mark(urbancars_frame(runs))
    rep = job.table.reported
    for key, _ in URBANCARS_COLUMNS:
        i = [k for k, _ in URBANCARS_COLUMNS].index(key)
        df[f"{key}_reported"] = [value_or_nan((rep.get(r) or [None] * 4)[i]) for r in df["row"]]
    md = pd.DataFrame({"Method": df["row"], "N": df["seeds"], "epoch": df["epoch"].map(lambda e: f"{e:.1f}")})
    for key, name in URBANCARS_COLUMNS:
        cells = []
        for _, r in df.iterrows():
            c = fmt(r[key], r[f"{key}_std"], int(r["seeds"]))
            x = r.get(f"{key}_x")
            cells.append(c + (f" (×{x:.2f})" if x is not None and x == x else ""))
        md[name] = cells
        md[f"{name} (material)"] = df[f"{key}_reported"]
    spec = runs[0]["config"] if runs else {}
    notes = [f"Data: {data_description(job.config)}.",
             f"Each cell: mean ± std over N seeds of the test metrics at the epoch with the best validation "
             f"worst-group accuracy ({spec.get('selection', 'both')}: {df['selection'].iloc[0].replace('_none_above_0', '') if len(df) else ''}); "
             "'epoch' is the mean selected epoch of the "
             f"{int(df['epochs'].iloc[0]) if len(df) else 0} trained (the official BaseTrainer's selection).",
             "I.D. Acc: the balanced test set re-weighted to the training distribution "
             f"({spec.get('bg_ratio', 0.95)} x {spec.get('coobj_ratio', 0.95)}); gaps: group accuracy minus I.D. Acc, "
             "in points, closer to 0 is better; (×k): the gap is k times ERM's (the material's mark).",
             *findings(df)]
    if note := ensemble_note(runs):
        notes.append(note)
    flagged = df[df["seeds_no_val_above_0"] > 0] if len(df) else df
    if len(flagged):
        notes.append("No epoch lifted the validation worst cell above 0 (the official code would have no "
                     "selected epoch; here the first epoch is reported) for: "
                     + ", ".join(f"{r['row']} ({int(r['seeds_no_val_above_0'])} of {int(r['seeds'])} seeds)"
                                 for _, r in flagged.iterrows()) + ".")
    write_table(df, job.output.csv, job.output.md, job.heading, notes, md_df=md)
    return df


# ---------------------------------------------------------------------------- t15 (ImageNet)

IMAGENET_TABLE_COLUMNS = (("in1k", "IN-1k"), ("in_w_gap", "IN-W Gap"), ("carton_gap", "Carton Gap"),
                          ("sin_gap", "SIN Gap"), ("in_r_gap", "IN-R Gap"), ("in9_gap", "IN-9 Gap"))
#: gaps where closer to 0 from below is better (the carton gap is better lower: it is positive)
NEGATIVE_GAPS = ("in_w_gap", "sin_gap", "in_r_gap", "in9_gap")
#: which gaps each single-shortcut method targets (the material's Whac-A-Mole reading)
TARGETS = {"wtm_aug": ("in_w_gap", "carton_gap"), "txt_aug": ("sin_gap", "in_r_gap"), "bg_aug": ("in9_gap",)}


def imagenet_frame(runs: list[dict], clips: list[dict]) -> pd.DataFrame:
    """One row per (backbone, method) in config and registry order, then one per CLIP: mean,
    std and N over seeds of the six columns (and the accuracies behind them)."""
    from vlmbias.lle.plan import imagenet_registry

    by = defaultdict(list)
    for r in runs:
        by[(r["backbone"], r["method"])].append(r)
    order = list(dict.fromkeys(r["backbone"] for r in runs))
    rows = []
    extra = ("in_w", "sin", "in_r", "in200", "mixed_same", "mixed_rand", "carton_acc")
    for b in order:
        for method in [m for m in imagenet_registry() if (b, m) in by]:
            rs = sorted(by[(b, method)], key=lambda r: r["seed"])
            row = {"key": f"{b}/{method}", "backbone": b, "method": method, "row": rs[0]["row"], "seeds": len(rs)}
            for key in (*[k for k, _ in IMAGENET_TABLE_COLUMNS], *extra):
                m, sd, _ = mean_std([r["test"].get(key) for r in rs])
                row[key], row[f"{key}_std"] = m, sd
            rows.append(row)
    for c in clips:
        row = {"key": f"clip/{c['clip']}", "backbone": c["open_clip"], "method": "clip_zero_shot",
               "row": f"CLIP zero-shot ({c['clip']})", "seeds": 1}
        for key in (*[k for k, _ in IMAGENET_TABLE_COLUMNS], *extra):
            row[key], row[f"{key}_std"] = float(c["test"].get(key, float("nan"))), 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def imagenet_findings(df: pd.DataFrame) -> list[str]:
    """The material's reading of its ImageNet table, checked per backbone (computed, not asserted):
    ERM relies on every shortcut; each single-shortcut method narrows its own gap(s) and leaves or
    widens the others (Whac-A-Mole); LLE narrows them together."""
    out = []
    for b, g in df[df["method"] != "clip_zero_shot"].groupby("backbone", sort=False):
        g = g.set_index("method")
        if "erm" not in g.index:
            continue
        erm = g.loc["erm"]
        out.append(f"{b}, ERM: IN-W gap {erm['in_w_gap']:.1f}, carton gap {erm['carton_gap']:+.1f}, SIN gap "
                   f"{erm['sin_gap']:.1f}, IN-R gap {erm['in_r_gap']:.1f}, IN-9 gap {erm['in9_gap']:.1f}.")

        def delta(r, k):  # > 0: r narrows gap k against ERM
            return (r[k] - erm[k]) if k in NEGATIVE_GAPS else (erm[k] - r[k])

        gaps = [k for k, _ in IMAGENET_TABLE_COLUMNS if k != "in1k"]
        for m, targets in TARGETS.items():
            if m not in g.index:
                continue
            r = g.loc[m]
            own = ", ".join(f"{k} {delta(r, k):+.1f}" for k in targets)
            others = ", ".join(f"{k} {delta(r, k):+.1f}" for k in gaps if k not in targets)
            out.append(f"{b}, {r['row']} against ERM (+ = narrower): its own {own}; the others {others}.")
        if "lle" in g.index:
            r = g.loc["lle"]
            narrowed = [k for k in gaps if round(delta(r, k), 1) > 0]  # as printed: float noise is no change
            out.append(f"{b}, LLE against ERM: narrows {len(narrowed)} of {len(gaps)} gaps "
                       f"({', '.join(f'{k} {delta(r, k):+.1f}' for k in gaps)}).")
        if "carton_acc" in g:  # the carton gap is a difference: it grows when the clean carton accuracy falls
            out.append(f"{b}, carton accuracy without the watermark (the carton gap's base): "
                       + ", ".join(f"{r['row']} {r['carton_acc']:.0f}%" for _, r in g.iterrows()) + ".")
    return out


def write_imagenet(job: TableJob) -> pd.DataFrame:
    runs = [json.load(open(p)) for p in job.input.runs]
    clips = [json.load(open(p)) for p in job.input.clip]
    df = imagenet_frame(runs, clips)
    rep = job.table.reported
    for i, (key, _) in enumerate(IMAGENET_TABLE_COLUMNS):
        df[f"{key}_reported"] = [value_or_nan((rep.get(k) or [None] * 6)[i]) for k in df["key"]]
    md = pd.DataFrame({"Backbone": df["backbone"], "Method": df["row"], "N": df["seeds"]})
    for key, name in IMAGENET_TABLE_COLUMNS:
        digits = 0 if key == "carton_gap" else 1
        md[name] = [fmt(r[key], r[f"{key}_std"], int(r["seeds"]), digits) for _, r in df.iterrows()]
        md[f"{name} (material)"] = df[f"{key}_reported"]
    spec = runs[0]["config"] if runs else {}
    n = (runs[0]["test"].get("n") if runs else None) or {}
    nc = runs[0]["test"].get("n_carton") if runs else None
    notes = [f"Data: {data_description(job.config)}.",
             "LLR rows: last-layer retraining on the frozen backbone (heads initialised from its classifier), "
             "evaluated after the last epoch as the official code; 'backbone as is' is the backbone's own "
             "classifier. Each cell: mean ± std over N seeds.",
             f"Evaluation images: {', '.join(f'{k} {v}' for k, v in n.items())}; IN-W = the val images under "
             f"ImageNet-W's watermark (imagenet-w, font size for {spec.get('input_size', '?')} px) after resize "
             f"and crop; carton gap: accuracy on the carton images (class {spec.get('carton', '?')}"
             + (f", {nc} images: one image is {100 / nc:.0f} points" if nc else "") + ") with minus "
             "without the watermark (lower is better); IN-R gap against IN-200 (the val images of the rendition "
             "classes), both restricted to those classes; IN-9 gap: mixed_rand minus mixed_same.",
             "Gaps in points; the material's values are the official README's (ResNet-50 LLR rows) and the "
             "paper's foundation-model table (MAE, CLIP zero-shot ViT-L/14).",
             *imagenet_findings(df)]
    blind = df[df["carton_acc"].fillna(100) < 10]
    if len(blind):
        notes.append("Carton accuracy below 10% without the watermark (the carton gap cannot show a push towards a "
                      "class the model does not predict; the toy CLIP's pre-training pairs hold no carton): "
                      + ", ".join(f"{r['row']} {r['carton_acc']:.0f}%" for _, r in blind.iterrows()) + ".")
    write_table(df, job.output.csv, job.output.md, job.heading, notes, md_df=md)
    return df
