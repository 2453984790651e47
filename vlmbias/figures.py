"""Figures of the dataset-classification family (PNG, matplotlib), from the tables' frames."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from vlmbias.reported import reported  # noqa: E402


def _finish(ax, title: str, subtitle: str, path: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.text(0.0, -0.16, subtitle, transform=ax.transAxes, fontsize=7, va="top", wrap=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig = ax.get_figure()
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot(table_id: str, df: pd.DataFrame, path: str, data: str) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    chance = float(df["chance"].iloc[0])
    ax.axhline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.1f}%)")
    if table_id == "f03_model_size":
        d = df.sort_values("params")
        ax.plot(d["params"], d["reproduced_acc"], "o-", color="C0", label="reproduced")
        for _, r in d.iterrows():
            ax.annotate(r["model"], (r["params"], r["reproduced_acc"]), fontsize=6,
                        textcoords="offset points", xytext=(3, -9))
        pts = reported()["f03_model_size_points"]
        ax.plot([p["params"] for p in pts], [p["acc"] for p in pts], "*", ms=12, color="C3",
                label="reported (paper's models)")
        for p in pts:
            ax.annotate(p["label"], (p["params"], p["acc"]), fontsize=7, color="C3",
                        textcoords="offset points", xytext=(4, 4))
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
    elif table_id == "f04_train_images":
        rep = reported()["f04_train_images"]
        paper_n = reported()["paper_sizes"]
        df = df.assign(model_key=df["key"].str.split("/").str[0])
        for i, (model, d) in enumerate(df.groupby("model", sort=False)):
            d = d.sort_values("n_train")
            ax.plot(d["n_train"], d["reproduced_acc"], "o-", color=f"C{i}", label=f"{model} (reproduced)")
            mkey = d["model_key"].iloc[0]
            pts = [(n, rep[f"{mkey}/{s}"]) for s, n in paper_n.items() if f"{mkey}/{s}" in rep]
            if pts:
                ax.plot(*zip(*pts), "*--", ms=10, color=f"C{i}", alpha=0.6, label=f"{model} (reported)")
        ax.set_xscale("log")
        ax.set_xlabel("training images per dataset (log scale)")
    else:
        raise ValueError(f"no figure for {table_id}")
    ax.set_ylabel("validation accuracy (%)")
    _finish(ax, f"{table_id}", f"Data: {data}. Reported points use the paper's own x values.", path)
