"""The part of a workflow config every family shares: the ``datasets`` section (toy-world
sources or the user's raw shards) and the error a bad config raises. The JSON schema
(config/schema.yaml) checks types and keys; each family's plan module checks its own section's
cross-references (``check``). rules/common.smk runs all of it while the workflow is parsed, so
a bad config stops the run before any job, with a message naming the culprit."""

from __future__ import annotations

import os

from vlmbias.shards.reader import ShardError, expand_shards


class ConfigError(ValueError):
    pass


def toy_source(entry: dict) -> str | None:
    """The toy-world source a dataset entry names, or None (real shards)."""
    return entry.get("toy")


def dataset_shard_paths(config: dict, name: str, toy_root: str = "results/toyworld") -> list[str]:
    """Raw shard paths of a dataset: the toy world's generated shards, or the user's patterns
    (paths, globs, brace ranges) expanded and checked to exist."""
    entry = config["datasets"][name]
    if toy_source(entry):
        n = int(config["toyworld"]["n_shards"])
        return [os.path.join(toy_root, toy_source(entry), f"{i:05d}.tar") for i in range(n)]
    try:
        return expand_shards(entry["shards"], must_exist=True)
    except ShardError as e:
        raise ConfigError(f"datasets.{name}.shards: {e}") from None


def toy_sources(config: dict) -> list[str]:
    """The toy-world sources the datasets name."""
    return sorted({toy_source(e) for e in (config.get("datasets") or {}).values()} - {None})


def toy_n_images(config: dict, source: str) -> int:
    """Images of one toy source: toyworld.n_images, or its entry in n_images_by_source."""
    tw = config["toyworld"]
    return int((tw.get("n_images_by_source") or {}).get(source, tw["n_images"]))


def check_datasets(config: dict) -> None:
    """Every dataset is exactly one of a known toy source or existing shards."""
    for name, entry in (config.get("datasets") or {}).items():
        if bool(toy_source(entry)) == bool(entry.get("shards")):
            raise ConfigError(f"datasets.{name}: give exactly one of 'toy' (a toy-world source) "
                              "or 'shards' (raw shard paths/patterns)")
        if toy_source(entry):
            from vlmbias.toyworld import SOURCES  # the generator's registry, only where it is used

            if entry["toy"] not in SOURCES:
                raise ConfigError(f"datasets.{name}.toy: unknown toy-world source {entry['toy']!r} "
                                  f"(known: {sorted(SOURCES)})")
            if "toyworld" not in config:
                raise ConfigError(f"datasets.{name} uses the toy world but the config has no "
                                  "'toyworld' section")
        else:
            dataset_shard_paths(config, name)


def need_dataset(config: dict, where: str, dataset: str) -> None:
    """A dataset a section names must be defined under ``datasets``."""
    datasets = config.get("datasets") or {}
    if dataset not in datasets:
        raise ConfigError(f"{where}: dataset {dataset!r} is not defined under 'datasets' "
                          f"(defined: {sorted(datasets)})")
