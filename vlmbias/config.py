"""Checks of a workflow config beyond its JSON schema (config/schema.yaml): that every name an
experiment uses resolves, and that every raw shard a dataset names exists. Run by
rules/common.smk at start-up, so a bad config stops the run before any job, with a message
naming the culprit."""

from __future__ import annotations

import os


class ConfigError(ValueError):
    pass


def toy_source(entry: dict) -> str | None:
    """The toy-world source a dataset entry names, or None (real shards)."""
    return entry.get("toy")


def dataset_shard_paths(config: dict, name: str, toy_root: str = "results/toyworld") -> list[str]:
    """Raw shard paths of a dataset: the toy world's generated shards, or the user's patterns
    (paths, globs, brace ranges) expanded and checked to exist."""
    from vlmbias.shards import ShardError, expand_shards

    entry = config["datasets"][name]
    if toy_source(entry):
        n = int(config["toyworld"]["n_shards"])
        return [os.path.join(toy_root, toy_source(entry), f"{i:05d}.tar") for i in range(n)]
    try:
        return expand_shards(entry["shards"], must_exist=True)
    except ShardError as e:
        raise ConfigError(f"datasets.{name}.shards: {e}") from None


def check(config: dict) -> None:
    from vlmbias import experiments

    datasets = config.get("datasets") or {}
    toy_sources = None
    for name, entry in datasets.items():
        if bool(toy_source(entry)) == bool(entry.get("shards")):
            raise ConfigError(f"datasets.{name}: give exactly one of 'toy' (a toy-world source) "
                              "or 'shards' (raw shard paths/patterns)")
        if toy_source(entry):
            if toy_sources is None:
                from vlmbias.toyworld import SOURCES
                toy_sources = sorted(SOURCES)
            if entry["toy"] not in toy_sources:
                raise ConfigError(f"datasets.{name}.toy: unknown toy-world source {entry['toy']!r} "
                                  f"(known: {toy_sources})")
            if "toyworld" not in config:
                raise ConfigError(f"datasets.{name} uses the toy world but the config has no "
                                  "'toyworld' section")
        else:
            dataset_shard_paths(config, name)
    t10 = (config.get("dataset_classification") or {}).get("t10_composition")
    for d in (t10 or {}).get("datasets", []):
        if d not in datasets:
            raise ConfigError(f"dataset_classification.t10_composition: dataset {d!r} is not defined "
                              f"under 'datasets' (defined: {sorted(datasets)})")
    try:
        experiments.dsc_runs(config)
    except experiments.ExperimentError as e:
        raise ConfigError(str(e)) from None
    if config.get("clip"):
        from vlmbias import clip_config as clip

        try:
            clip.check_config(config)
        except clip.ClipError as e:
            raise ConfigError(str(e)) from None
