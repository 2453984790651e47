"""The classifier B2T audits: ERM on a labeled dataset's train split through the one training
loop (the toy world: a CPU-sized ResNet-50; real runs: a ResNet-50 from ImageNet weights, or
the GroupDRO authors' released ERM checkpoints, whole pickled modules), and its per-image
predictions on a split (B2T audits the validation split, as the official code).
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from typing import Callable, Mapping

import pandas as pd
import torch
from torch import nn

from vlmbias.b2t.plan import class_list
from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, spec_hash, write_json
from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.train import models
from vlmbias.train import recipe as R
from vlmbias.train.loop import evaluate, finish_run, fit, predict


def train(spec: Mapping, sample_dir: str, model_path: str, metrics_path: str, progress: bool = True,
          log: Callable[[str], None] = print) -> dict:
    """ERM on ``spec['train_split']`` of a labeled sampled dataset; metrics on ``val_split``."""
    t0 = time.time()
    recipe, classes = spec["recipe"], class_list(spec)
    k = len(classes)
    device = pick_device(recipe.get("device", "auto"))
    train_rec, _ = labeled_split(sample_dir, spec["train_split"])
    val_rec, _ = labeled_split(sample_dir, spec["val_split"])
    train_ds = ShardImageDataset(train_rec, R.train_transform(recipe), cache_images=bool(recipe.get("cache_images")))
    val_ds = ShardImageDataset(val_rec, R.eval_transform(recipe))
    torch.manual_seed(spec["seed"])
    model = models.build_model(spec["model"], k, int(recipe["input_size"]))
    ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
    workers = int(recipe.get("num_workers", 0))
    state = fit(model, train_ds, k, recipe, spec["seed"], ckpt, spec_hash(spec), device, num_workers=workers,
                progress=progress, log=log)
    val = evaluate(model, val_ds, k, device, int(recipe.get("micro_batch_size") or recipe["batch_size"]), workers,
                   "val", progress)
    with atomic_path(model_path) as tmp:
        torch.save(model.state_dict(), tmp)
    metrics = {"task": spec["task"], "classes": classes, "val_acc": val["acc"],
               "val_per_class_acc": val["per_class_acc"], "n_train": len(train_ds), "n_val": val["n"],
               "loss_curve": state.loss_curve, "steps": state.step, "config": dict(spec), "config_hash": spec_hash(spec),
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device), "host": platform.node(),
                            "resumed_from_epoch": state.resumed_from_epoch}}
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    log(f"{spec['task']}: ERM val accuracy {val['acc']:.2f}% ({len(train_ds)} train images, {state.step} steps)")
    return metrics


def load(spec: Mapping, weights: str) -> nn.Module:
    """The classifier: our state dict (``model.pt``), a released checkpoint that is a whole
    pickled module (``spec['checkpoint']``: unpickling runs code from the file, so only load files
    you trust -- the GroupDRO authors' CodaLab checkpoints are such files), or, with
    ``spec['pretrained']`` (``weights`` None), the model's own pretrained weights as it is built
    (timm's, or its ``pretrained_file``: an ImageNet classifier audited as it is)."""
    if spec.get("pretrained"):
        return models.build_model(spec["model"], len(class_list(spec)), int(spec["recipe"]["input_size"]))
    if spec.get("checkpoint"):
        warnings.warn(f"{weights}: unpickling a whole model runs code stored in the file; load only files you "
                      "trust (the GroupDRO authors' released checkpoints are pickled modules)", stacklevel=2)
        model = torch.load(weights, map_location="cpu", weights_only=False)
        if not isinstance(model, nn.Module):
            raise TypeError(f"{weights}: expected a pickled torch.nn.Module, got {type(model).__name__}")
        return model
    model = models.build_model(spec["model"], len(class_list(spec)), int(spec["recipe"]["input_size"]))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


def predict_split(spec: Mapping, weights: str | None, sample_dir: str, split: str, out_path: str,
                  progress: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Per image of ``split``, in rank order: key, label, prediction, group (2 x label +
    confounder) and confounder (the json ``group_attribute``; both -1 for a task without one)."""
    recipe = spec["recipe"]
    device = pick_device(recipe.get("device", "auto"))
    model = load(spec, weights).to(device)
    records, rows = labeled_split(sample_dir, split)
    preds, labels = predict(model, ShardImageDataset(records, R.eval_transform(recipe)), device,
                            int(recipe.get("micro_batch_size") or recipe["batch_size"]),
                            int(recipe.get("num_workers", 0)), f"predict {split}", progress)
    attr = spec.get("group_attribute")
    conf = [int(json.loads(m)[attr]) for m in rows["metadata"]] if attr else [-1] * len(rows)
    df = pd.DataFrame({"key": rows["key"].astype(str), "label": labels.numpy(), "prediction": preds[0].numpy(),
                       "confounder": conf})
    df["group"] = 2 * df["label"] + df["confounder"] if attr else -1
    with atomic_path(out_path) as tmp:
        df.to_parquet(tmp, index=False)
    log(f"{spec['task']}/{split}: accuracy {100 * float((df['label'] == df['prediction']).mean()):.2f}% "
        f"over {len(df)} images")
    return df
