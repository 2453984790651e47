"""The ``textspan`` section of the config: which tables, figures and decompositions it asks for,
and the cross-checks the schema cannot do. Resolved while Snakemake parses the workflow, so no
torch here; ``vlmbias.interpret`` runs the steps.
"""

from __future__ import annotations

import os
from typing import Mapping

TITLES = {
    "t18_textspan_mlp_ablation": "MLPs mean-ablation (TextSpan Table 1)",
    "f19_textspan_msa_ablation": "MSAs accumulated mean-ablation (TextSpan Figure 2)",
    "t20_textspan_heads": "TextSpan head descriptions, explained variance, top images (TextSpan Table 2 / Figure 4)",
    "f21_token_heatmaps": "Token heatmaps from the image-token decomposition (TextSpan Figure 8)",
    "t22_textspan_waterbirds": "Waterbirds: mean-ablating the place heads found by TextSpan (TextSpan §5.1)",
}
TABLE_IDS = tuple(TITLES)
FIGURE_TABLES = ("f19_textspan_msa_ablation", "t20_textspan_heads", "f21_token_heatmaps")


def enabled_tables(config: Mapping) -> list[str]:
    ts = config.get("textspan")
    if not ts:
        return []
    out = list(TABLE_IDS[:4])
    if ts.get("waterbirds"):
        out.append("t22_textspan_waterbirds")
    return out


def models(config: Mapping) -> list[str]:
    return list(config.get("textspan", {}).get("models", []))


def figure_paths(config: Mapping) -> list[str]:
    """The PNGs of the family's tables (one per model for t20 and f21)."""
    tables = enabled_tables(config)
    out = []
    if "f19_textspan_msa_ablation" in tables:
        out.append("results/figures/f19_textspan_msa_ablation.png")
    for t in ("t20_textspan_heads", "f21_token_heatmaps"):
        if t in tables:
            out += [f"results/figures/{t}_{m}.png" for m in models(config)]
    return out


def decomposed_datasets(config: Mapping) -> list[str]:
    ts = config.get("textspan", {})
    out = [ts["dataset"]] if ts else []
    if ts.get("waterbirds"):
        out.append(ts["waterbirds"]["dataset"])
    return list(dict.fromkeys(out))


def check(config: Mapping) -> None:
    """Cross-references the schema cannot see; raises ValueError naming the key."""
    ts = config.get("textspan")
    if not ts:
        return
    clip_models = config.get("clip", {}).get("models", {})
    for m in ts["models"]:
        if m not in clip_models:
            raise ValueError(f"textspan.models: {m!r} is not in clip.models ({sorted(clip_models)})")
    for d in decomposed_datasets(config):
        if d not in config["datasets"]:
            raise ValueError(f"textspan: dataset {d!r} is not in datasets ({sorted(config['datasets'])})")
    pool = ts.get("pool", "toy")
    if pool != "toy" and not os.path.isfile(pool):
        raise ValueError(f"textspan.pool: text pool file {pool} does not exist (one description per line)")
