"""One UrbanCars run (rule ``lle_urbancars``): a method of the registry, one seed, trained through
the one loop on the train split, evaluated on val after every epoch, and the test
metrics of the epoch with the best validation worst-group accuracy reported (the official
``BaseTrainer``; research notes §2.1). The official code evaluates test after every epoch too;
here test is evaluated on the epochs that selection could report (``metrics.needs_test_eval``: the
first, and each that raises the best val value) and on the last: the same reported numbers, for
about half the evaluation. ``metrics.json`` keeps every epoch's val metrics (and test where
evaluated, else null), the selection rule and epoch beside the selected numbers, the last
epoch's test metrics, and what the method found.
"""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Callable, Mapping

import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from vlmbias.core.device import pick_device
from vlmbias.core.io import spec_hash, write_json
from vlmbias.lle import methods
from vlmbias.lle.methods.base import Context
from vlmbias.lle.ensemble import LastLayerEnsemble, ensemble_outputs
from vlmbias.lle.metrics import (SELECTION_KEYS, ensemble_diagnostics, needs_test_eval, select_epoch,
                                 urbancars_metrics)
from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.shards.reader import ShardError
from vlmbias.train import models
from vlmbias.train import recipe as R
from vlmbias.train.loop import finish_run, fit, predict
from vlmbias.train.objectives import Objective

FACTORS = ("label", "background", "coobj")


def factors(rows: pd.DataFrame, where: str) -> pd.DataFrame:
    """label / background / coobj / group of each image, from the index's json metadata."""
    out = {k: [] for k in FACTORS}
    for key, meta in zip(rows["key"], rows["metadata"]):
        m = json.loads(meta) if isinstance(meta, str) and meta else {}
        missing = [k for k in FACTORS if not isinstance(m.get(k), int) or m[k] not in (0, 1)]
        if missing:
            raise ShardError(f"{where}: sample {key} has no 0/1 {missing} in its json metadata "
                             "(an UrbanCars sample needs label, background and coobj)")
        for k in FACTORS:
            out[k].append(int(m[k]))
    f = pd.DataFrame(out)
    f["group"] = 4 * f["label"] + 2 * f["background"] + f["coobj"]
    return f


def jsonable(m: dict) -> dict:
    """urbancars_metrics' output as JSON: group keys "bg_<state>/coobj_<state>", cells as a list."""
    out = {k: float(v) for k, v in m.items() if k not in ("group_acc", "cell_acc")}
    out["group_acc"] = {f"bg_{b}/coobj_{c}": float(v) for (b, c), v in m["group_acc"].items()}
    out["cell_acc"] = [float(v) for v in m["cell_acc"]]
    return out


def train(spec: Mapping, sample_dir: str, metrics_path: str, progress: bool = True,
          log: Callable[[str], None] = print) -> dict:
    t0 = time.time()
    recipe = dict(spec["recipe"])
    device = pick_device(recipe.get("device", "auto"))
    seed = int(spec["seed"])
    splits = spec["splits"]
    cache = bool(recipe.get("cache_images"))
    data, facs = {}, {}
    for part in ("train", "val", "test"):
        rec, rows = labeled_split(sample_dir, splits[part])
        facs[part] = factors(rows, f"{sample_dir} {splits[part]}")
        data[part] = rec
    eval_tf = R.eval_transform(recipe)
    train_ds = ShardImageDataset(data["train"], R.train_transform(recipe), cache_images=cache)
    eval_train_ds = train_ds.with_transform(eval_tf)
    val_ds = ShardImageDataset(data["val"], eval_tf, cache_outputs=True)   # evaluated after every epoch
    test_ds = ShardImageDataset(data["test"], eval_tf, cache_outputs=True)
    batch = int(recipe.get("micro_batch_size") or recipe["batch_size"])
    run_dir = os.path.dirname(metrics_path)
    n_models = [0]

    def new_model() -> nn.Module:
        torch.manual_seed(seed * 1_000 + n_models[0])
        n_models[0] += 1
        return models.build_model(spec["model"], 2, int(recipe["input_size"]))

    def fit_stage(name: str, model: nn.Module, dataset: Dataset, objective: Objective | None = None,
                  epochs: float = 1.0):
        r = dict(recipe, samples_seen=max(1, int(round(epochs * len(dataset)))))
        return fit(model, dataset, 2, r, seed, os.path.join(run_dir, f"stage_{name}.pt"),
                   spec_hash({**spec, "stage": name}), device, progress=progress, log=log, objective=objective)

    ctx = Context(train_ds=train_ds, eval_train_ds=eval_train_ds, factors=facs["train"], num_classes=2,
                  recipe=recipe, params=dict(spec["params"]), seed=seed, device=device, new_model=new_model,
                  fit_stage=fit_stage, log=log,
                  predict=lambda m, ds: predict(m, ds, device, batch, progress=False, logits=True)[0][0],
                  mean=tuple(recipe.get("mean", R.IMAGENET_MEAN)), std=tuple(recipe.get("std", R.IMAGENET_STD)))
    setup = methods.setup(spec["module"], ctx)
    recipe.update(setup.info.get("recipe_overrides") or {})

    eval_ds = {"val": val_ds, "test": test_ds}
    key = SELECTION_KEYS[spec["selection"]]
    best_val = 0.0   # the best val selection value this process has seen (needs_test_eval)

    def evaluate(part: str, model: nn.Module) -> dict:
        f = facs[part]
        diagnose = part == "test" and isinstance(model, LastLayerEnsemble)  # what each head and the shift predictor do
        if diagnose:   # one pass gives the ensemble's prediction and its parts
            pred, heads, probs = ensemble_outputs(model, eval_ds[part], device, batch)
        else:
            pred = predict(model, eval_ds[part], device, batch, desc=f"eval {part}", progress=False)[0][0]
        out = jsonable(urbancars_metrics(f["label"], f["background"], f["coobj"], pred.numpy(),
                                         spec["bg_ratio"], spec["coobj_ratio"]))
        if diagnose:
            out["ensemble"] = ensemble_diagnostics(f["label"], f["background"], f["coobj"], heads.numpy(),
                                                   probs.numpy(), spec["bg_ratio"], spec["coobj_ratio"])
        return out

    def on_epoch_end(epoch: int, model: nn.Module) -> dict:
        # val every epoch; test only on the epochs select_epoch could report (needs_test_eval): the
        # reported numbers are those of evaluating test after every epoch, at ~half the cost
        nonlocal best_val
        val = evaluate("val", model)
        test = None
        if needs_test_eval(epoch, val, best_val, spec["selection"]):
            test = evaluate("test", model)
            best_val = max(best_val, val[key])
        shown = (f", test id {test['id_acc']:.1f} bg {test['bg_gap']:.1f} coobj {test['coobj_gap']:.1f} "
                 f"both {test['both_gap']:.1f}") if test else ""
        log(f"epoch {epoch}: val worst cell {val['worst_cell']:.1f}{shown}")
        return {"epoch": epoch, "val": val, "test": test}

    ckpt = os.path.join(run_dir, "checkpoint.pt")
    state = fit(setup.model, setup.train_ds if setup.train_ds is not None else train_ds, 2, recipe, seed, ckpt,
                spec_hash(spec), device, progress=progress, log=log, objective=setup.objective,
                on_epoch_end=on_epoch_end, epoch_samples=setup.epoch_samples)
    selected = select_epoch(state.history, spec["selection"])
    final_test = state.history[-1]["test"] or evaluate("test", setup.model)   # the model is the last epoch's
    info = {k: v for k, v in setup.info.items()}
    metrics = {"method": spec["method"], "row": spec["row"], "seed": seed,
               "selection": {"rule": selected["rule"], "epoch": selected["epoch"], "val": selected["val"],
                             "epochs": state.epoch},
               "test": selected["test"], "final_epoch_test": final_test,
               "history": state.history, "info": info, "n_train": len(train_ds), "n_val": len(val_ds),
               "n_test": len(test_ds), "steps": state.step, "loss_curve": state.loss_curve,
               "config": dict(spec), "config_hash": spec_hash(spec),
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device), "host": platform.node(),
                            "resumed_from_epoch": state.resumed_from_epoch}}
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    for f in os.listdir(run_dir):
        if f.startswith("stage_") and f.endswith(".pt"):
            os.remove(os.path.join(run_dir, f))
    t = selected["test"]
    log(f"{spec['row']} seed {seed}: epoch {selected['epoch']}/{state.epoch} by {selected['rule']}: "
        f"I.D. {t['id_acc']:.1f}, BG {t['bg_gap']:.1f}, CoObj {t['coobj_gap']:.1f}, BG+CoObj {t['both_gap']:.1f}")
    return metrics
