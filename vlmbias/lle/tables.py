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
    out.append(f"ERM relies on both shortcuts: BG+CoObj gap {erm['both_gap']:.1f} "
               f"(BG {erm['bg_gap']:.1f}, CoObj {erm['coobj_gap']:.1f}).")
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
        narrowed = [k for k in GAPS if lle[k] > erm[k]]
        out.append(f"LLE against ERM: {'narrows all three gaps' if len(narrowed) == 3 else 'narrows ' + (', '.join(narrowed) or 'none')} "
                   f"(BG {lle['bg_gap']:.1f} vs {erm['bg_gap']:.1f}, CoObj {lle['coobj_gap']:.1f} vs "
                   f"{erm['coobj_gap']:.1f}, BG+CoObj {lle['both_gap']:.1f} vs {erm['both_gap']:.1f}).")
    return out


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
    flagged = df[df["seeds_no_val_above_0"] > 0] if len(df) else df
    if len(flagged):
        notes.append("No epoch lifted the validation worst cell above 0 (the official code would have no "
                     "selected epoch; here the first epoch is reported) for: "
                     + ", ".join(f"{r['row']} ({int(r['seeds_no_val_above_0'])} of {int(r['seeds'])} seeds)"
                                 for _, r in flagged.iterrows()) + ".")
    write_table(df, job.output.csv, job.output.md, job.heading, notes, md_df=md)
    return df
