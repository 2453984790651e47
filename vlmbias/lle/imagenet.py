"""Whac-A-Mole's ImageNet protocol (t15; research notes §2.2, §3.2, §3.4): a backbone trained (or
pretrained) on the ImageNet(-like) training set, then **last-layer retraining** (LLR) on its frozen
features for each method of ``imagenet_methods.yaml``, and the six shortcut columns measured on
the evaluation sets.

- :func:`train_backbone` (rule ``lle_imagenet_backbone``, toy world only): the backbone's ERM
  training through the one loop (the recipe's classification objective) -> a timm state dict
  that the LLR runs load strictly (:func:`build_backbone`). A pretrained backbone (paper: torchvision's
  ResNet-50 as ``resnet50.tv_in1k``, MAE fine-tuned ViTs from local checkpoints) skips this.
- :func:`run_llr` (rule ``lle_imagenet``): one (backbone, method, seed). The backbone frozen in
  eval mode (``LastLayerEnsemble(freeze_backbone=True)``), every head initialised from the
  backbone's classifier, the shift predictor fresh; the method's blocks
  (``vlmbias.lle.imagenet_shifts``) drawn |train| per epoch; LLE's loss (a single-head method:
  plain CE of head 0, the 1-way shift term is 0) through the one loop; after the last epoch
  (the official code evaluates then) the metrics of :func:`evaluate`. Method ``as_is`` trains
  nothing: the backbone's own classifier evaluated.
- :func:`evaluate`: logits on ``val``, ``val`` under ImageNet-W (``vlmbias.lle.watermark``,
  after resize and crop, before normalisation), ``val_stylized``, ``val_rendition``,
  ``val_mixed_same`` and ``val_mixed_rand`` -> ``metrics.imagenet_shortcut_metrics``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Callable, Mapping

import torch
from torch import nn

from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, spec_hash, write_json
from vlmbias.lle.ensemble import LastLayerEnsemble, LLEObjective
from vlmbias.lle.imagenet_shifts import BackgroundSwap, ShiftBlocks, build_blocks, watermark_transform
from vlmbias.lle.metrics import IMAGENET_COLUMNS, imagenet_shortcut_metrics
from vlmbias.lle.watermark import ImageNetW, watermarked
from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.shards.reader import ShardError
from vlmbias.train import models
from vlmbias.train import recipe as R
from vlmbias.train.loop import finish_run, fit, predict

EVAL_SETS = ("val", "val_stylized", "val_rendition", "val_mixed_same", "val_mixed_rand")


def load_set(spec: Mapping, name: str):
    """(records, index rows) of evaluation or training set ``name`` (``spec["sets"][name]``:
    ``{sample_dir, split}``)."""
    s = spec["sets"].get(name)
    if not s:
        raise ShardError(f"lle.imagenet: no {name!r} set configured (sets: {sorted(spec['sets'])})")
    return labeled_split(s["sample_dir"], s["split"])


def rendition_classes(spec: Mapping, metadata, labels) -> list[int]:
    """The IN-R class subset: the config's list; else the ``rendition_classes`` the toy's
    rendition samples carry in their metadata (they must agree); else the classes present in
    the rendition set (ImageNet-R: its 200 classes, every one of which it holds)."""
    if spec.get("rendition_classes"):
        return [int(c) for c in spec["rendition_classes"]]
    found = {tuple((json.loads(m) if isinstance(m, str) else m or {}).get("rendition_classes") or ())
             for m in metadata}
    if len(found) > 1:
        raise ShardError("lle.imagenet: the val_rendition samples disagree on 'rendition_classes'; "
                         "set lle.imagenet.rendition_classes")
    listed = next(iter(found), ())
    return [int(c) for c in listed] if listed else sorted({int(y) for y in labels})


def job_spec(spec: Mapping, in9_map_inputs) -> dict:
    """A job's spec with the IN-9 class map pointed at the rule's declared input (if any)."""
    out = dict(spec)
    if in9_map_inputs:
        out["in9_map"] = list(in9_map_inputs)[0]
    return out


def in9_map(spec: Mapping) -> list[int] | None:
    """The 1000 -> 9 class map of IN-9 (a JSON list or {class: in9 class} file), None: same space."""
    path = spec.get("in9_map")
    if not path:
        return None
    with open(path) as f:
        m = json.load(f)
    if isinstance(m, dict):
        n = int(spec["num_classes"])
        out = [-1] * n
        for k, v in m.items():
            out[int(k)] = int(v)
        return out
    return [int(v) for v in m]


def _setup(spec: Mapping) -> tuple[dict, torch.device, int, int, int]:
    """(recipe, device, seed, class count, eval batch) of a job."""
    recipe = dict(spec["recipe"])
    return (recipe, pick_device(recipe.get("device", "auto")), int(spec["seed"]), int(spec["num_classes"]),
            int(recipe.get("micro_batch_size") or recipe["batch_size"]))


def metrics_from_sets(spec: Mapping, sets: Mapping[str, tuple], rendition_rows: tuple | None) -> dict:
    """``imagenet_shortcut_metrics`` of ``sets`` with the spec's carton class, IN-9 map and the
    rendition classes (``rendition_rows``: the rendition set's (metadata, labels)), and the set sizes."""
    rc = rendition_classes(spec, *rendition_rows) if rendition_rows is not None else None
    m = imagenet_shortcut_metrics(sets, int(spec["carton"]), rc, in9_map(spec))
    m["n"] = {k: int(len(v[1])) for k, v in sets.items()}
    return m


def build_backbone(spec: Mapping, weights: str | None) -> nn.Module:
    """The backbone with its classifier: the config's model (pretrained weights as it names them,
    e.g. ``resnet50.tv_in1k``), or the one the workflow trained (``weights``: its state dict,
    loaded strictly; timm's ``pretrained_file`` would drop a classifier whose class count differs
    from the architecture's default, and LLR initialises its heads from that classifier)."""
    model = models.build_model(dict(spec["backbone"]), int(spec["num_classes"]), int(spec["recipe"]["input_size"]))
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


@torch.no_grad()
def evaluate(model: nn.Module, spec: Mapping, device: torch.device, batch: int,
             log: Callable[[str], None] = print) -> dict:
    """The six columns (and the accuracies behind them) of ``model`` (metrics module doc)."""
    recipe = spec["recipe"]
    size = int(recipe["input_size"])
    eval_tf = R.eval_transform(recipe)
    sets, rend_rows = {}, None
    for name in EVAL_SETS:
        if name not in spec["sets"]:
            continue
        rec, rows = load_set(spec, name)
        if name == "val_rendition":
            rend_rows = (rows["metadata"], rows["label"])
        ds = ShardImageDataset(rec, eval_tf, cache_images=True)
        views = [(name, ds)] + ([("val_w", ds.with_transform(watermarked(eval_tf, ImageNetW(size))))]
                                if name == "val" else [])
        for view, d in views:
            z, y = predict(model, d, device, batch, desc=view, progress=False, logits=True)
            sets[view] = (z[0].numpy(), y.numpy())
    m = metrics_from_sets(spec, sets, rend_rows)
    log("  ".join(f"{k} {m[k]:.1f}" for k in IMAGENET_COLUMNS if k in m))
    return m


def train_backbone(spec: Mapping, model_path: str, metrics_path: str, progress: bool = True,
                   log: Callable[[str], None] = print) -> dict:
    """ERM training of the toy backbone on the ``train`` set (module doc)."""
    t0 = time.time()
    recipe, device, seed, n_classes, batch = _setup(spec)
    rec, _ = load_set(spec, "train")
    train_ds = ShardImageDataset(rec, R.train_transform(recipe), cache_images=bool(recipe.get("cache_images")))
    torch.manual_seed(seed)
    model = build_backbone(spec, None)
    ckpt = os.path.join(os.path.dirname(model_path), "checkpoint.pt")
    state = fit(model, train_ds, n_classes, recipe, seed, ckpt, spec_hash(spec), device, progress=progress, log=log)
    metrics = {"backbone": spec["name"], "seed": seed, "test": evaluate(model, spec, device, batch, log),
               "n_train": len(train_ds), "steps": state.step, "epochs": state.epoch,
               "loss_curve": state.loss_curve, "config": dict(spec), "config_hash": spec_hash(spec),
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device), "host": platform.node()}}
    with atomic_path(model_path) as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    return metrics


def build_training_set(spec: Mapping, method: Mapping, recipe: Mapping) -> tuple[ShiftBlocks, int]:
    """The method's blocks over the ``train`` (and ``train_stylized``) sets, and |train|."""
    cache = bool(recipe.get("cache_images"))
    size = int(recipe["input_size"])
    train_tf = R.train_transform(recipe)
    rec, _ = load_set(spec, "train")
    aug = R.augment_settings(recipe)

    base = ShardImageDataset(rec, train_tf, cache_images=cache)   # one decode cache for every block over train

    def texture():
        srec, _ = load_set(spec, "train_stylized")
        return ShardImageDataset(srec, train_tf, cache_images=cache)

    def background():
        return BackgroundSwap(base, [r.label for r in rec], size, aug["scale"], aug["ratio"], float(aug["hflip"]),
                              tuple(recipe.get("mean", R.IMAGENET_MEAN)), tuple(recipe.get("std", R.IMAGENET_STD)))

    make = {"original": lambda: base, "texture": texture, "background": background,
            "watermark": lambda: base.with_transform(
                watermark_transform(train_tf, size, float(method.get("watermark_p", 1.0))))}
    data = ShiftBlocks(build_blocks(method["blocks"], make), method["heads"])
    return data, len(rec)


def run_llr(spec: Mapping, backbone_weights: str | None, metrics_path: str, progress: bool = True,
            log: Callable[[str], None] = print) -> dict:
    """One (backbone, method, seed) of t15 (module doc)."""
    t0 = time.time()
    recipe, device, seed, n_classes, batch = _setup(spec)
    method = spec["method_def"]
    torch.manual_seed(seed)
    backbone = build_backbone(spec, backbone_weights)
    info: dict = {"blocks": list(method["blocks"]), "heads": list(method["heads"])}
    state = None
    if method["blocks"]:
        data, n_train = build_training_set(spec, method, recipe)
        n_heads = max(method["heads"]) + 1
        model = LastLayerEnsemble(backbone, n_classes, n_heads, freeze_backbone=True, init_heads_from_backbone=True)
        info["block_sizes"] = data.sizes()
        log(f"{spec['row']}: {n_heads} head(s) on the frozen {spec['backbone_name']}, blocks {data.sizes()}, "
            f"{n_train} drawn per epoch")
        ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
        state = fit(model, data, n_classes, recipe, seed, ckpt, spec_hash(spec), device, progress=progress, log=log,
                    objective=LLEObjective(data.shift_of), epoch_samples=n_train)
    else:
        model = backbone
        ckpt = None
    test = evaluate(model.to(device), spec, device, batch, log)
    metrics = {"backbone": spec["backbone_name"], "method": spec["method"], "row": spec["row"], "seed": seed,
               "test": test, "info": info, "config": dict(spec), "config_hash": spec_hash(spec),
               "steps": state.step if state else 0, "epochs": state.epoch if state else 0,
               "loss_curve": state.loss_curve if state else [],
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device), "host": platform.node(),
                            "resumed_from_epoch": state.resumed_from_epoch if state else None}}
    write_json(metrics_path, metrics)
    if ckpt:
        finish_run(ckpt)
    return metrics
