"""The ``perceptionclip`` section of the config -> jobs (no torch).

A *task* is one table's dataset (``waterbirds``: t16, ``celeba``: t17; the registry says which
section switches which table on). Per (CLIP, task) the jobs are: the image embeddings of the
evaluation and validation splits (the shared cache, rule embed_clip); one text head per
(setting, mode) -- a setting is a table row, the factors of Z in order; a mode ClassAttr or
PureAttr -- cached as a file of its own (rule perceptionclip_head), so a new temperature or
table never re-embeds anything; and one evaluation over every setting, mode and temperature
(rule perceptionclip_eval).
"""

from __future__ import annotations

import re
from typing import Mapping

from vlmbias.clip.spec import need_models
from vlmbias.core.config import ConfigError, need_dataset
from vlmbias.perceptionclip import prompts as P
from vlmbias.tables import registry

TABLE_RULE = "perceptionclip_table"
DEFAULT_TEMPERATURES = [0.5, 0.8, 1, 3, 5, 10]
MODES = ("class_attr", "pure_attr")
_SETTING_RE = re.compile(r"^[A-Za-z0-9_+-]+$")


def section(config: Mapping) -> dict:
    return dict(config.get("perceptionclip") or {})


def models(config: Mapping) -> list[str]:
    return list(section(config).get("models", []))


def modes(config: Mapping) -> list[str]:
    return list(section(config).get("modes", MODES))


def temperatures(config: Mapping) -> list[float]:
    return [float(t) for t in section(config).get("temperatures", DEFAULT_TEMPERATURES)]


def tasks(config: Mapping) -> dict[str, str]:
    """Task key -> table id, for the tables the config asks for."""
    return {registry.table(tid).config[-1]: tid for tid in registry.enabled(config, rule=TABLE_RULE)}


def task(config: Mapping, key: str) -> dict:
    """A task's section with its defaults filled in."""
    t = dict(section(config)[key])
    t.setdefault("split", "test")
    t.setdefault("val_split", "val")
    t.setdefault("preprocess", "clip")
    t.setdefault("world", key)
    t.setdefault("truth", {})
    return t


def head_id(task_key: str, setting: str, mode: str) -> str:
    return f"{task_key}-{setting}-{mode}"


def heads(config: Mapping) -> dict[str, dict]:
    """Every text head, by id: its prompt set (``prompts.prompt_set``) and where it comes from."""
    out = {}
    for key in tasks(config):
        t = task(config, key)
        dictionary = P.dictionary(t["attributes"], t["world"])
        for setting, factors in t["settings"].items():
            # ClassAttr heads always (step 2 reads them); PureAttr ones where Z has several values
            for mode in ["class_attr"] + (["pure_attr"] if "pure_attr" in modes(config) and factors else []):
                generic = t["generic"] if mode == "pure_attr" else None
                ps = P.prompt_set(t["main_template"], t["classes"], dictionary, factors, generic)
                out[head_id(key, setting, mode)] = {**ps, "task": key, "setting": setting, "factors": list(factors)}
    return out


def embedding(clip: str, dataset: str, split: str, preprocess: str = "clip") -> str:
    """The shared image-embedding cache file (a preprocessing other than CLIP's gets its own)."""
    suffix = "" if preprocess == "clip" else f"@{preprocess}"
    return f"results/embeddings/{clip}/{dataset}/{split}{suffix}.npz"


def eval_inputs(config: Mapping, clip: str, task_key: str) -> dict:
    t = task(config, task_key)
    return {"eval": embedding(clip, t["dataset"], t["split"], t["preprocess"]),
            "val": embedding(clip, t["dataset"], t["val_split"], t["preprocess"]),
            "heads": [f"results/perceptionclip/{clip}/heads/{h}.pt" for h, spec in heads(config).items()
                      if spec["task"] == task_key]}


def check(config: Mapping) -> None:
    """Cross-references the schema cannot see; raises ConfigError naming the key."""
    s = section(config)
    if not s:
        return
    need_models(config, "perceptionclip.models", s["models"])
    for key in tasks(config):
        t = task(config, key)
        where = f"perceptionclip.{key}"
        need_dataset(config, where, t["dataset"])
        splits = config["datasets"][t["dataset"]].get("splits") or {"train": 0, "val": 0}
        for split in (t["split"], t["val_split"]):
            if split not in splits:
                raise ConfigError(f"{where}: dataset {t['dataset']!r} has no split {split!r} "
                                  f"(its splits: {list(splits)})")
        for setting in t["settings"]:
            if not _SETTING_RE.match(setting):
                raise ConfigError(f"{where}.settings: {setting!r} must match {_SETTING_RE.pattern}")
        if "{c}" not in t["main_template"]:
            raise ConfigError(f"{where}.main_template: {t['main_template']!r} has no {{c}}")
        try:
            dictionary = P.dictionary(t["attributes"], t["world"])
            for factors in t["settings"].values():
                P.composite_values(dictionary, factors)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
        for factor in t["truth"]:
            if factor not in dictionary:
                raise ConfigError(f"{where}.truth: {factor!r} is not an attribute of the dictionary")
