"""B2T's figures: the flagged images of the label diagnosis (t13) in a grid, each with its
keyword, label, prediction and caption (the material's layout)."""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np

from vlmbias.tables.plot import plt, save


def plot_diagnosis(images: np.ndarray, examples: Sequence[dict], path: str, title: str, cols: int = 4) -> None:
    n = len(examples)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, ex in zip(axes.ravel(), images, examples):
        ax.imshow(img)
        planted = f" [{ex['error']}]" if ex.get("error") else (" [label correct]" if ex.get("error") == "" else "")
        ax.set_title(f"keyword: {ex['keyword']}\nlabel: {ex['label']}  pred.: {ex['prediction']}{planted}\n"
                     + "\n".join(textwrap.wrap(ex["caption"], 34)[:2]), fontsize=8)
    if not n:
        axes[0, 0].text(0.5, 0.5, "no image flagged", ha="center", va="center")
    fig.suptitle(f"{title}: images B2T flags as label errors", fontsize=11)
    save(fig, path)
