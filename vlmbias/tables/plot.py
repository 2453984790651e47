"""Figures: matplotlib without a display (Agg), and saving a figure as PNG, atomically."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vlmbias.core.io import atomic_path  # noqa: E402

__all__ = ["plt", "save"]


def save(fig, path: str, dpi: int = 130) -> None:
    """``tight_layout``, write ``path`` as PNG, close the figure."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
