"""The ``textspan`` section of the config: the CLIPs it decomposes, the datasets, and the
cross-checks the schema cannot do. Resolved while Snakemake parses the workflow, so no torch
here; ``vlmbias.textspan.run`` and ``vlmbias.textspan.analyses`` run the steps, the tables it
switches on are in the registry (``vlmbias/tables/registry.yaml``, family ``textspan``).
"""

from __future__ import annotations

import os
from typing import Mapping

from vlmbias.clip.spec import need_models, weights_input
from vlmbias.core.config import ConfigError, need_dataset
from vlmbias.core.paths import sample_inputs


def section(config: Mapping) -> dict:
    return dict(config.get("textspan") or {})


def models(config: Mapping) -> list[str]:
    return list(section(config).get("models", []))


def dataset(config: Mapping) -> str:
    """The dataset of t18-f21 (its split: ``textspan.split``)."""
    return section(config).get("dataset", "none")


def waterbirds_dataset(config: Mapping) -> str:
    return (section(config).get("waterbirds") or {}).get("dataset", "none")


def model_inputs(config: Mapping, clip: str, dataset: str) -> dict:
    """A model-running job: the sampled dataset and the CLIP's weights file."""
    return {**sample_inputs([dataset]), **weights_input(config, clip)}


def pool_inputs(config: Mapping, clip: str) -> dict:
    """The text-pool job: the CLIP's weights and the pool file (none for the toy pool)."""
    pool = section(config).get("pool", "toy")
    return {**weights_input(config, clip), **({"pool": pool} if pool != "toy" else {})}


def per_model(config: Mapping, pattern: str) -> list[str]:
    """``pattern`` for every TextSpan model, in textspan.models order ({clip}, {dataset})."""
    return [pattern.format(clip=m, dataset=dataset(config)) for m in models(config)]


def decomposed_datasets(config: Mapping) -> list[str]:
    """The datasets decomposed: the main one (t18-f21) and the Waterbirds one (t22)."""
    ts = section(config)
    out = [ts["dataset"]] if ts else []
    if ts.get("waterbirds"):
        out.append(ts["waterbirds"]["dataset"])
    return list(dict.fromkeys(out))


def check(config: Mapping) -> None:
    """Cross-references the schema cannot see; raises ConfigError naming the key."""
    ts = section(config)
    if not ts:
        return
    need_models(config, "textspan.models", ts["models"])
    for d in decomposed_datasets(config):
        need_dataset(config, "textspan", d)
    pool = ts.get("pool", "toy")
    if pool != "toy" and not os.path.isfile(pool):
        raise ConfigError(f"textspan.pool: text pool file {pool} does not exist (one description per line)")
