"""The ``b2t`` section of the config -> jobs (no torch).

Per task (a labeled dataset: ``waterbirds``, ``celeba``): the classifier under audit (ERM on
the train split, or a released checkpoint) and its predictions on the audited split; the
captions of that split (one captioner, computed once per (captioner, dataset, split)); the
keywords of each class's mispredicted captions with their scores. The captioner: a toy ClipCap
trained in the workflow on image-caption pairs (``captioner.train``) or the official weights
(``captioner.weights`` + ``captioner.tokenizer``), reading the image embeddings of its CLIP
(``captioner.clip``) from the shared cache; the keywords are scored with ``scorer``'s.
"""

from __future__ import annotations

import copy
from typing import Mapping

from vlmbias.clip.spec import need_models, weights_input
from vlmbias.core.config import ConfigError, need_dataset
from vlmbias.core.paths import sample_inputs

CAPTIONER = "clipcap"
CAPTIONER_DEFAULTS = {"prefix_length": 10, "max_tokens": 67, "vocab_size": 1000,
                      "gpt": {"n_embd": 128, "n_layer": 2, "n_head": 4}}
CLASSIFIER_KEYS = ("model", "train", "checkpoints")


def section(config: Mapping) -> dict:
    return dict(config.get("b2t") or {})


def tasks(config: Mapping) -> list[str]:
    return list(section(config).get("tasks") or {})


def task(config: Mapping, key: str) -> dict:
    """A task, resolved: its splits, its group attribute (None: a task without groups, as the
    label diagnosis on ImageNet) and its dataset's config entry (``dataset_spec``, where the
    class names come from when ``classes`` is not given: see :func:`class_list`)."""
    t = dict(section(config)["tasks"][key])
    t.setdefault("train_split", "train")
    t.setdefault("audit_split", "val")
    t.setdefault("test_split", "test")
    t.setdefault("group_attribute", None)
    t["task"] = key
    t["dataset_spec"] = dict(config["datasets"][t["dataset"]])
    return t


def class_list(t: Mapping) -> list[str]:
    """The class names of a task (or a classifier spec): its ``classes``, else its dataset's
    (a toy source's own list, or a named list such as open_clip's ImageNet names). Jobs call
    this, not the DAG: a named list imports open_clip."""
    if t.get("classes"):
        return [str(c) for c in t["classes"]]
    from vlmbias.clip.spec import class_names

    return class_names(t["dataset_spec"])


def group_tasks(config: Mapping) -> list[str]:
    """The tasks with groups (t11's keyword table, t12's worst-group accuracy)."""
    return [k for k in tasks(config) if task(config, k)["group_attribute"]]


def diagnosis(config: Mapping) -> dict:
    """t13's options: the task whose labels are diagnosed and the number of example images."""
    return {"examples": 12, **(section(config).get("label_diagnosis") or {})}


def pretrained(config: Mapping, key: str) -> bool:
    """Whether the task's classifier is the model's own pretrained weights (nothing trained)."""
    return key in (section(config)["classifier"].get("pretrained") or [])


def classifier_spec(config: Mapping, key: str) -> dict:
    """Everything the classifier job of a task needs, resolved (model spec, recipe, classes)."""
    t, c = task(config, key), section(config)["classifier"]
    recipe = copy.deepcopy(config["train"])
    recipe.update(copy.deepcopy(c.get("train") or {}))
    recipe.update(copy.deepcopy(t.get("train") or {}))  # the task's own overrides
    model = copy.deepcopy(config["models"][c["model"]])
    if "input_size" in model:
        recipe["input_size"] = model.pop("input_size")
    return {"task": key, "dataset": t["dataset"], "classes": list(t.get("classes") or []),
            "dataset_spec": t["dataset_spec"], "model": model, "recipe": recipe, "train_split": t["train_split"],
            "val_split": t["audit_split"], "group_attribute": t["group_attribute"],
            "checkpoint": (c.get("checkpoints") or {}).get(key), "pretrained": pretrained(config, key),
            "seed": int(config["seed"])}


def classifier_weights(config: Mapping, key: str) -> dict:
    """The classifier's weights, as a rule's input: a released checkpoint, or the one trained
    here; none when the model's own pretrained weights are the classifier."""
    if pretrained(config, key):
        return {}
    return {"weights": classifier_spec(config, key)["checkpoint"] or f"results/b2t/{key}/classifier/model.pt"}


def captioner(config: Mapping) -> dict:
    c = copy.deepcopy(section(config)["captioner"])
    out = {**copy.deepcopy(CAPTIONER_DEFAULTS), **c, "seed": int(config["seed"])}
    if "train" in c:
        recipe = copy.deepcopy(c["train"])
        out["data"] = recipe.pop("data")
        out["recipe"] = {"optimizer": "adamw", "weight_decay": 0.01, "label_smoothing": 0.0, "warmup_samples": 0,
                         "device": config["train"].get("device", "auto"), **recipe}
    return out


def captioner_files(config: Mapping) -> dict:
    """The captioner's weights and tokenizer: ours, or the official ones (local paths)."""
    c = captioner(config)
    if c.get("weights"):
        return {"model": c["weights"], "tokenizer": c["tokenizer"]}
    return {"model": f"results/b2t/{CAPTIONER}/model.pt", "tokenizer": f"results/b2t/{CAPTIONER}/tokenizer"}


def embedding(clip: str, dataset: str, split: str) -> str:
    return f"results/embeddings/{clip}/{dataset}/{split}.npz"


def captioner_train_inputs(config: Mapping) -> dict:
    c = captioner(config)
    pairs = [(d, s) for d, splits in c["data"].items() for s in splits]
    holdout = [(t["dataset"], t["audit_split"]) for t in map(lambda k: task(config, k), tasks(config))]
    return {"embeddings": [embedding(c["clip"], d, s) for d, s in pairs],
            "holdout": [embedding(c["clip"], d, s) for d, s in dict.fromkeys(holdout)],
            "indexes": sample_inputs(d for d, _ in pairs)["indexes"]}


def caption_file(dataset: str, split: str) -> str:
    return f"results/captions/{CAPTIONER}/{dataset}/{split}.parquet"


def caption_inputs(config: Mapping, dataset: str, split: str) -> dict:
    return {"embeddings": embedding(captioner(config)["clip"], dataset, split), **captioner_files(config)}


def keyword_inputs(config: Mapping, key: str) -> dict:
    t = task(config, key)
    scorer = section(config)["scorer"]
    return {"predictions": f"results/b2t/{key}/classifier/{t['audit_split']}.parquet",
            "captions": caption_file(t["dataset"], t["audit_split"]),
            "embeddings": embedding(scorer, t["dataset"], t["audit_split"]), **weights_input(config, scorer)}


def diagnosis_inputs(config: Mapping, key: str) -> dict:
    """t13: the diagnosed task's predictions, captions and keywords, and its sampled images (the
    metadata's planted label errors, the example images)."""
    t = task(config, key)
    return {"predictions": f"results/b2t/{key}/classifier/{t['audit_split']}.parquet",
            "captions": caption_file(t["dataset"], t["audit_split"]), "keywords": f"results/b2t/{key}/keywords.json",
            **sample_inputs([t["dataset"]])}


def zero_shot_inputs(config: Mapping, key: str) -> dict:
    """t12: the test split's embeddings of the zero-shot CLIP and that CLIP's weights; the task's
    keywords (t11) and its audited captions (the keywords' phrases) unless the config gives both
    B2T template sets (the paper's prompt table)."""
    t, zs = task(config, key), section(config)["zero_shot"]
    out = {"embeddings": embedding(zs["clip"], t["dataset"], t["test_split"]), **weights_input(config, zs["clip"])}
    given = (zs.get("class_templates") or {}).get(key) or {}
    if not {"b2t_pos", "b2t_neg"} <= set(given):  # some templates come from the keywords
        out |= {"keywords": f"results/b2t/{key}/keywords.json", "captions": caption_file(t["dataset"], t["audit_split"])}
    return out


def check(config: Mapping) -> None:
    s = section(config)
    if not s:
        return
    need_models(config, "b2t.scorer", [s["scorer"]])
    if s.get("zero_shot"):
        need_models(config, "b2t.zero_shot.clip", [s["zero_shot"]["clip"]])
    c = s["captioner"]
    need_models(config, "b2t.captioner.clip", [c["clip"]])
    if bool(c.get("train")) == bool(c.get("weights")):
        raise ConfigError("b2t.captioner: give exactly one of train (a toy ClipCap trained here) or weights "
                          "(+ tokenizer: the official ClipCap files)")
    if c.get("weights") and not c.get("tokenizer"):
        raise ConfigError("b2t.captioner.weights needs tokenizer: the GPT-2 tokenizer folder")
    for d in (c.get("train") or {}).get("data", {}):
        need_dataset(config, "b2t.captioner.train.data", d)
    if s["classifier"]["model"] not in config["models"]:
        raise ConfigError(f"b2t.classifier.model: {s['classifier']['model']!r} is not under 'models'")
    for key in s["classifier"].get("pretrained") or []:
        if key not in tasks(config):
            raise ConfigError(f"b2t.classifier.pretrained: {key!r} is not a task (tasks: {tasks(config)})")
    diag = s.get("label_diagnosis")
    if diag and diag["task"] not in tasks(config):
        raise ConfigError(f"b2t.label_diagnosis.task: {diag['task']!r} is not a task (tasks: {tasks(config)})")
    for key in tasks(config):
        need_dataset(config, f"b2t.tasks.{key}", s["tasks"][key]["dataset"])
        t = task(config, key)
        splits = config["datasets"][t["dataset"]].get("splits") or {}
        needed = [t["audit_split"]] + ([] if pretrained(config, key) else [t["train_split"]])
        needed += [t["test_split"]] if t["group_attribute"] and s.get("zero_shot") else []
        for split in needed:
            if split not in splits:
                raise ConfigError(f"b2t.tasks.{key}: dataset {t['dataset']!r} has no split {split!r} "
                                  f"(its splits: {list(splits)})")
