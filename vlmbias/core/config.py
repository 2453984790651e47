"""The part of a workflow config every family shares: the ``datasets`` section (toy-world
sources or the user's raw shards) and the error a bad config raises. The JSON schema
(config/schema.yaml) checks types and keys; each family's plan module checks its own section's
cross-references (``check``). rules/common.smk runs all of it while the workflow is parsed, so
a bad config stops the run before any job, with a message naming the culprit."""

from __future__ import annotations

import os

from vlmbias.shards import manifest
from vlmbias.shards.reader import ShardError


class ConfigError(ValueError):
    pass


SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "config", "schema.yaml")


def load_config(paths: list[str]) -> dict:
    """The config of ``snakemake --configfile PATH...`` outside Snakemake (for the tools under
    ``python -m``): the files overlaid in order as Snakemake overlays them
    (``snakemake.utils.update_config``), validated against config/schema.yaml with its defaults
    filled in, as rules/common.smk validates it. A missing or malformed file, or a config the
    schema rejects, raises ConfigError naming the file(s)."""
    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import update_config, validate

    if not paths:
        raise ConfigError("no config file given")
    cfg: dict = {}
    for path in paths:
        try:
            with open(path) as f:
                part = yaml.safe_load(f)
        except OSError as e:
            raise ConfigError(f"config file {path}: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
        if part is None:
            continue
        if not isinstance(part, dict):
            raise ConfigError(f"config file {path}: expected a mapping at the top, got {type(part).__name__}")
        update_config(cfg, part)
    try:
        validate(cfg, SCHEMA, set_default=True)
    except WorkflowError as e:
        raise ConfigError(f"{' + '.join(map(str, paths))}: {e}") from None
    return cfg


def toy_source(entry: dict) -> str | None:
    """The toy-world source a dataset entry names, or None (real shards)."""
    return entry.get("toy")


def dataset_shard_paths(config: dict, name: str, toy_root: str = "results/toyworld") -> list[str]:
    """Raw shard paths of a dataset: the toy world's generated shards, the converted shards of
    an official UrbanCars folder, or the user's patterns (paths, globs, brace ranges) expanded
    and checked to exist."""
    entry = config["datasets"][name]
    if toy_source(entry):
        n = int(config["toyworld"]["n_shards"])
        return [os.path.join(toy_root, toy_source(entry), f"{i:05d}.tar") for i in range(n)]
    if entry.get("urbancars_official"):
        return converted_shard_paths(name)
    return [p for p, _, _ in shard_listing(config, name)]


_LISTINGS: dict[tuple[str, str], list] = {}  # one listing per dataset and pattern while a workflow parses


def shard_listing(config: dict, name: str) -> list[tuple[str, int, int]]:
    """``(path, size, mtime_ns)`` of a user's dataset's shards (``datasets.<name>.shards``),
    listed once per process (a workflow parse: the config check and the manifest's digest share
    it; ~2 s for the paper's 388,000 shards)."""
    patterns = config["datasets"][name]["shards"]
    key = (name, repr(patterns))
    if key not in _LISTINGS:
        try:
            _LISTINGS[key] = manifest.listing(patterns)
        except ShardError as e:
            raise ConfigError(f"datasets.{name}.shards: {e}") from None
    return _LISTINGS[key]


def manifest_path(name: str) -> str:
    """The shard manifest of a user's dataset (rule shard_manifest; vlmbias.shards.manifest)."""
    return f"results/manifests/{name}.tsv"


def uses_manifest(config: dict, name: str) -> bool:
    """A dataset given as the user's shards: sampled from its manifest, not from the shard
    files as inputs (toy-world and converted shards are outputs of the DAG itself)."""
    entry = config["datasets"][name]
    return not toy_source(entry) and not entry.get("urbancars_official")


def scan_input(config: dict, name: str) -> dict[str, str | list[str]]:
    """The shards a dataset's header pass reads: ``{"manifest": path}`` or ``{"shards": [...]}``."""
    if uses_manifest(config, name):
        return {"manifest": manifest_path(name)}
    return {"shards": dataset_shard_paths(config, name)}


def scan_chunks(config: dict, name: str) -> int:
    """How many ``sample_scan`` jobs split the dataset's header pass: ``datasets.<name>.scan_chunks``,
    else ``sampling.scan_chunks`` (1: the ``sample`` job scans on its own)."""
    n = config["datasets"][name].get("scan_chunks", config["sampling"].get("scan_chunks", 1))
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"datasets.{name}.scan_chunks / sampling.scan_chunks must be an integer >= 1, got {n!r}")
    return n


def scan_paths(name: str, n_chunks: int) -> list[str]:
    """The candidate files of a dataset's ``sample_scan`` jobs (each with its ``.json`` counts)."""
    return [f"results/samples/{name}/scan/{c:04d}-of-{n_chunks:04d}.parquet" for c in range(n_chunks)]


def sample_input(config: dict, name: str) -> dict[str, str | list[str]]:
    """The input of a dataset's ``sample`` job: its shards (:func:`scan_input`) and, when its header
    pass is split, the chunks' candidates and counts (``scans``, ``scan_counts``)."""
    inputs = scan_input(config, name)
    n = scan_chunks(config, name)
    if n > 1:
        inputs["scans"] = scan_paths(name, n)
        inputs["scan_counts"] = [p + ".json" for p in inputs["scans"]]
    return inputs


def shard_digest(config: dict, name: str) -> str:
    """The manifest job's parameter: a digest of the dataset's shard listing (see
    vlmbias.shards.manifest), so the manifest is rewritten when a shard changes."""
    return manifest.digest(shard_listing(config, name))


#: shards a converted dataset is written as (rule lle_convert_urbancars)
CONVERTED_SHARDS = 10


def converted_shard_paths(name: str) -> list[str]:
    """The shards rule ``lle_convert_urbancars`` writes for a dataset given as the official
    UrbanCars folder tree (``urbancars_official: <root>``)."""
    return [f"results/converted/{name}/{i:05d}.tar" for i in range(CONVERTED_SHARDS)]


def converted_datasets(config: dict) -> dict[str, str]:
    """Dataset -> the official UrbanCars root it is converted from."""
    return {n: e["urbancars_official"] for n, e in (config.get("datasets") or {}).items()
            if e.get("urbancars_official")}


def toy_sources(config: dict) -> list[str]:
    """The toy-world sources the datasets name."""
    return sorted({toy_source(e) for e in (config.get("datasets") or {}).values()} - {None})


def toy_n_images(config: dict, source: str) -> int:
    """Images of one toy source: toyworld.n_images, or its entry in n_images_by_source."""
    tw = config["toyworld"]
    return int((tw.get("n_images_by_source") or {}).get(source, tw["n_images"]))


def toy_difficulty(config: dict, source: str) -> dict:
    """The difficulty knobs ``generate_source`` takes for a toy source: toyworld.shared_content,
    signature_strength and texture_strength for the web stand-ins, {} for every other source
    (their defaults). texture_strength only when it is not 0, so that a world made before the
    knob existed keeps its rule parameters (and is not regenerated)."""
    from vlmbias.toyworld.sources import SOURCES

    spec = SOURCES.get(source)
    if spec is None or not spec.web:
        return {}
    tw = config.get("toyworld") or {}
    knobs = {"shared_content": float(tw.get("shared_content", 0.0)),
             "signature_strength": float(tw.get("signature_strength", 1.0))}
    if float(tw.get("texture_strength", 0.0)) != 0.0:
        knobs["texture_strength"] = float(tw["texture_strength"])
    return knobs


def check_datasets(config: dict) -> None:
    """Every dataset is exactly one of a known toy source or existing shards."""
    for name, entry in (config.get("datasets") or {}).items():
        kinds = [k for k in ("toy", "shards", "urbancars_official") if entry.get(k)]
        if len(kinds) != 1:
            raise ConfigError(f"datasets.{name}: give exactly one of 'toy' (a toy-world source), "
                              "'shards' (raw shard paths/patterns) or 'urbancars_official' (the official "
                              f"UrbanCars folder tree, converted to shards){'; got ' + ', '.join(kinds) if kinds else ''}")
        if entry.get("urbancars_official"):
            if not os.path.isdir(entry["urbancars_official"]):
                raise ConfigError(f"datasets.{name}.urbancars_official: {entry['urbancars_official']!r} is not a "
                                  "folder (the root that holds bg-0.95_co_occur_obj-0.95/ and bg-0.5_co_occur_obj-0.5/)")
            continue
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
