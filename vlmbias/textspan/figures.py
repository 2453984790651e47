"""The TextSpan figures (PNG): f19's ablation curve, t20's top images per head, f21's token maps."""

from __future__ import annotations

import pandas as pd

from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.tables.plot import plt, save


def plot_msa_ablation(df: pd.DataFrame, path: str, data: str) -> None:
    """f19: accuracy against the number of attention layers mean-ablated, per model."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        ax.plot(d["n_ablated"], d["reproduced_acc"], "o-", color=f"C{i}", label=f"{model} ({d['arch'].iloc[0]})")
    ax.axhline(float(df["chance"].iloc[0]), color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("attention layers mean-ablated (0..l), MLPs intact")
    ax.set_ylabel("zero-shot top-1 (%)")
    ax.set_title("f19: MSAs accumulated mean-ablation", fontsize=11)
    ax.text(0.0, -0.17, f"Data: {data}. Paper: flat until the last ~4 layers.",
            transform=ax.transAxes, fontsize=7, va="top", wrap=True)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    save(fig, path, dpi=130)


def plot_top_images(hr: dict, sample_dir: str, path: str) -> None:
    """t20: a grid of each head's top images (rows: heads, with their first texts)."""
    records, _ = labeled_split(sample_dir, hr["split"], hr["images"])
    ds = ShardImageDataset(records, None)
    heads = hr["heads"]
    k = max(len(h["top_images"]) for h in heads)
    fig, axes = plt.subplots(len(heads), k + 1, figsize=(1.2 * (k + 1) + 2.2, 1.2 * len(heads)),
                             gridspec_kw={"width_ratios": [2.6] + [1] * k}, squeeze=False)
    for r, h in enumerate(heads):
        ax = axes[r][0]
        ax.axis("off")
        ax.text(0.0, 0.5, f"L{h['layer']}.H{h['head']}  ({100 * h['explained'][-1]:.0f}%)\n" + "\n".join(h["texts"][:2]),
                fontsize=6, va="center", ha="left", transform=ax.transAxes)
        for c in range(k):
            ax = axes[r][c + 1]
            ax.axis("off")
            if c < len(h["top_images"]):
                ax.imshow(ds[h["top_images"][c]][0])
    fig.suptitle(f"t20: top-{k} images per head for its first TextSpan text ({hr['model']}, "
                 f"{hr['dataset']}/{hr['split']})", fontsize=8)
    save(fig, path, dpi=110)


def plot_heatmaps(arr: dict, path: str, name: str) -> None:
    """f21: each image, its map for each prompt, and their difference."""
    images, maps = arr["images"], arr["maps"]
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(8, 2.1 * n), squeeze=False)
    for i in range(n):
        img = images[i].permute(1, 2, 0).numpy()
        p = arr["prompts"][i]
        panels = [(None, f"{arr['labels'][i]}"), (maps[i][0], p[0]), (maps[i][1], p[1]),
                  (maps[i][0] - maps[i][1], f"{p[0]}\nminus {p[1]}")]
        for c, (m, title) in enumerate(panels):
            ax = axes[i][c]
            ax.imshow(img)
            if m is not None:
                mm = m.numpy()
                lim = max(abs(mm.min()), abs(mm.max()), 1e-12)
                ax.imshow(mm, cmap="bwr", alpha=0.55, vmin=-lim, vmax=lim)
            ax.set_title(title, fontsize=6)
            ax.axis("off")
    fig.suptitle(f"f21: per-token contributions ({name}); red = towards the prompt", fontsize=8)
    save(fig, path, dpi=110)
