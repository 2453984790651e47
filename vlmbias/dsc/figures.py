"""Figures of the dataset-classification family (PNG, matplotlib), from the tables' frames:
f03 (accuracy against parameters) and f04 (accuracy against training images per dataset)."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from vlmbias.tables.plot import plt, save


def _axes(df: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    chance = float(df["chance"].iloc[0])
    ax.axhline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.1f}%)")
    return ax


def _finish(ax, title: str, data: str, path: str) -> None:
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title, fontsize=11)
    ax.text(0.0, -0.16, f"Data: {data}. Reported points use the paper's own x values.",
            transform=ax.transAxes, fontsize=7, va="top", wrap=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save(ax.get_figure(), path, dpi=130)


def _reproduced(ax, d: pd.DataFrame, x: str, color: str, label: str) -> None:
    """The reproduced points joined by a line; ± std error bars where the table runs over seeds."""
    yerr = d["reproduced_acc_std"] if "reproduced_acc_std" in d else None
    ax.errorbar(d[x], d["reproduced_acc"], yerr=yerr, fmt="o-", color=color, capsize=3,
                label=label + (" (mean ± std over seeds)" if yerr is not None else ""))


def plot_model_size(df: pd.DataFrame, path: str, title: str, data: str, points: Sequence[Mapping]) -> None:
    """Reproduced accuracy against parameters (log scale), the paper's points as stars."""
    ax = _axes(df)
    d = df.sort_values("params")
    _reproduced(ax, d, "params", "C0", "reproduced")
    for _, r in d.iterrows():
        ax.annotate(r["model"], (r["params"], r["reproduced_acc"]), fontsize=6,
                    textcoords="offset points", xytext=(3, -9))
    ax.plot([p["params"] for p in points], [p["acc"] for p in points], "*", ms=12, color="C3",
            label="reported (paper's models)")
    for p in points:
        ax.annotate(p["label"], (p["params"], p["acc"]), fontsize=7, color="C3",
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    _finish(ax, title, data, path)


def plot_train_images(df: pd.DataFrame, path: str, title: str, data: str, reported: Mapping) -> None:
    """Reproduced accuracy against training images per dataset (log scale) per model, the
    paper's values at its own sizes (``reported["paper_sizes"]``) dashed."""
    ax = _axes(df)
    df = df.assign(model_key=df["key"].str.split("/").str[0])
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        d = d.sort_values("n_train")
        _reproduced(ax, d, "n_train", f"C{i}", f"{model} (reproduced)")
        mkey = d["model_key"].iloc[0]
        pts = [(n, reported[f"{mkey}/{s}"]) for s, n in reported["paper_sizes"].items()
               if f"{mkey}/{s}" in reported]
        if pts:
            ax.plot(*zip(*pts), "*--", ms=10, color=f"C{i}", alpha=0.6, label=f"{model} (reported)")
    ax.set_xscale("log")
    ax.set_xlabel("training images per dataset (log scale)")
    _finish(ax, title, data, path)
