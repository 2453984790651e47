"""Dataset classification (Liu & He): one run = train on the union of equal-size samples of
N datasets, label = index of the source dataset, evaluate on their held-out images."""

from __future__ import annotations

import os
import platform
import time
from typing import Callable

import torch

from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, spec_hash, write_json
from vlmbias.shards.dataset import ShardImageDataset, records_for
from vlmbias.train import corruptions, models
from vlmbias.train import distributed as D
from vlmbias.train import recipe as R
from vlmbias.train.loop import evaluate, finish_run, fit


def _train_eval_subset(records, per_class: int | None):
    """The first ``per_class`` training images of each dataset (rank order is already a seeded
    random order), for the clean pass that measures training accuracy."""
    if not per_class:
        return records
    out, seen = [], {}
    for r in records:
        if seen.get(r.label, 0) < per_class:
            out.append(r)
            seen[r.label] = seen.get(r.label, 0) + 1
    return out


def run(spec: dict, sample_dirs: dict[str, str], metrics_path: str, model_path: str,
        progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train and evaluate one run. ``sample_dirs`` maps each dataset of ``spec['views']`` to its
    sample directory (results/samples/<dataset>). Under torch.distributed (``vlmbias.train.
    distributed.launch``) every rank trains; rank 0 alone evaluates and writes, the others
    return None."""
    t_start = time.time()
    recipe = spec["recipe"]
    classes = spec["classes"]
    k = len(classes)
    device = pick_device(recipe.get("device", "auto"))
    cache = bool(recipe.get("cache_images", False))
    workers = int(recipe.get("num_workers", 0))

    views = spec["views"]
    train_records = records_for(views, sample_dirs, "train", spec["n_train"])
    val_records = records_for(views, sample_dirs, "val", None)
    # A corruption hits training and validation images alike (fresh draws for training,
    # fixed ones for evaluation); see vlmbias/train/corruptions.py.
    corrupt = corruptions.build(spec.get("corruption"))
    fixed_seed = spec["seed"] if corrupt is not None else None
    train_ds = ShardImageDataset(train_records, R.train_transform(recipe), cache_images=cache,
                                 pre_transform=corrupt)
    val_ds = ShardImageDataset(val_records, R.eval_transform(recipe), pre_transform=corrupt,
                               pre_transform_seed=fixed_seed)
    clean_ds = ShardImageDataset(_train_eval_subset(train_records, recipe.get("train_acc_samples")),
                                 R.eval_transform(recipe), pre_transform=corrupt,
                                 pre_transform_seed=fixed_seed)
    log(f"{spec['run_id']}: {len(train_ds)} train / {len(val_ds)} val images, classes {classes}, "
        f"device {device}")

    torch.manual_seed(spec["seed"])
    model = models.build_model(spec["model"], k, int(recipe["input_size"]))
    n_params = models.count_params(model)
    run_hash = spec_hash(spec)
    ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
    state = fit(model, train_ds, k, recipe, spec["seed"], ckpt, run_hash, device,
                num_workers=workers, progress=progress, log=log)
    if not D.is_main():
        return None

    eval_bs = int(recipe.get("micro_batch_size") or recipe["batch_size"])
    val = evaluate(model, val_ds, k, device, eval_bs, workers, "val", progress)
    train = evaluate(model, clean_ds, k, device, eval_bs, workers, "train (clean)", progress)
    budget = R.make_budget(recipe, len(train_ds))
    metrics = {
        "run_id": spec["run_id"], "family": spec["family"], "classes": classes,
        "datasets": spec["datasets"], "model": spec["model_name"], "params": n_params,
        "aug": spec["aug"], "corruption": spec["corruption_name"],
        "val_acc": val["acc"], "val_per_class_acc": val["per_class_acc"],
        "confusion_matrix": val["confusion"], "n_val": val["n"],
        "train_acc": train["acc"], "train_acc_images": train["n"], "n_train": len(train_ds),
        "loss_curve": state.loss_curve, "epoch_loss": state.epoch_loss,
        "samples_seen": budget.samples_seen, "batch_size": budget.batch_size,
        "steps": state.step, "epochs": state.epoch,
        "seed": spec["seed"], "config_hash": run_hash, "config": spec,
        "run_info": {  # what may differ between two runs of the same config
            "wall_time_s": time.time() - t_start, "train_time_s": state.elapsed_s,
            "device": str(device), "processes": D.rank_world()[1], "torch": torch.__version__,
            "host": platform.node(),
            "resumed_from_epoch": state.resumed_from_epoch},
    }
    with atomic_path(model_path) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    log(f"{spec['run_id']}: val {val['acc']:.2f}%  train {train['acc']:.2f}%  "
        f"({state.step} steps, {budget.samples_seen} samples, {metrics['run_info']['wall_time_s']:.1f}s)")
    return metrics
