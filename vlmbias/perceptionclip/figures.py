"""The PerceptionCLIP figure: how often P(z|x) picks the image's true attribute, per (label, group)."""

from __future__ import annotations

import pandas as pd

from vlmbias.tables.plot import plt, save

MODE_LABELS = {"class_attr": "ClassAttr", "pure_attr": "PureAttr"}


def plot_inference(df: pd.DataFrame, path: str, title: str, group_attribute: str) -> None:
    """A panel per (model, attribute): for each setting and mode that infers the attribute, the
    accuracy of the inferred value overall and in each (label, group) cell; chance dotted."""
    models = list(dict.fromkeys(df["model"])) if len(df) else []
    factors = list(dict.fromkeys(df["factor"])) if len(df) else []
    fig, axes = plt.subplots(max(1, len(models)), max(1, len(factors)), squeeze=False,
                             figsize=(3.6 * max(1, len(factors)) + 0.8, 2.9 * max(1, len(models)) + 0.7))
    cells = sorted(c for c in df.columns if c.startswith("acc ")) if len(df) else []
    for i, model in enumerate(models):
        for j, factor in enumerate(factors):
            ax = axes[i][j]
            d = df[(df["model"] == model) & (df["factor"] == factor)]
            width = 0.8 / (len(cells) + 1)
            for k, col in enumerate(["acc", *cells]):
                ax.bar([x + k * width for x in range(len(d))], d[col], width,
                       label="all images" if col == "acc" else f"label/{group_attribute} {col[4:]}", color=f"C{k}")
            for x, r in enumerate(d.itertuples()):
                ax.hlines(100 / len(r.values.split()), x - width / 2, x + (len(cells) + 0.5) * width,
                          colors="grey", linestyles=":", lw=1)
            ax.set_xticks([x + len(cells) * width / 2 for x in range(len(d))],
                          [f"{r.setting}\n{MODE_LABELS.get(r.mode, r.mode)}" for r in d.itertuples()], fontsize=6,
                          rotation=25, ha="right")
            ax.set_ylim(0, 100)
            ax.set_title(f"{model}: {factor} ({d['field'].iloc[0]})", fontsize=8)
            ax.grid(True, axis="y", alpha=0.3)
            if j == 0:
                ax.set_ylabel("inferred value correct (%)", fontsize=8)
    if not len(df):
        axes[0][0].text(0.5, 0.5, "no attribute with a known truth", ha="center", va="center")
        axes[0][0].axis("off")
    else:
        axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{title}: how often P(z|x) picks the image's true attribute (dotted: chance)", fontsize=9)
    save(fig, path, dpi=120)
