"""Self-supervised pre-training and linear probes (Liu & He, Tables 7 and 8).

t08: an MAE pre-trained on the YFCC+CC+DataComp stand-ins, and one on the ImageNet stand-in (or
a public MAE checkpoint given as a local path), each linear-probed for dataset classification on
YCD with a frozen encoder (MAE's probe: BatchNorm without affine + linear head, LARS), beside a
fully supervised ViT of the same size (a dataset-classification run).

t09: ViTs trained on dataset classification over Y+C+D, +W, +L, +I, and a randomly initialised
one, linear-probed on an ImageNet-like labeled task (the toy world's object classes, or your
labeled shards), sweeping the probe layer and base learning rate; the best of the sweep is
reported, as the paper does. An MAE probe is the reference row. Deviation: the paper probes the
dataset-classification checkpoint of epoch 250/300; this probes the final one.

Everything trains through ``vlmbias.train.fit``: MAE with ``loss_fn=mae_loss``, probes as a
classifier whose encoder is frozen.
"""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any, Callable

from vlmbias import experiments
from vlmbias.ssl_recipes import mae_config, mae_pretrain_recipe_defaults, probe_lr, probe_recipe_defaults

# The run registry above the drivers is resolved while Snakemake parses the workflow: it imports
# no torch. The drivers (pretrain_mae, run_probe) import what they need when they run.

T08 = "t08_mae_linear_probe"
T09 = "t09_transfer"
TITLES = {
    T08: "Self-supervised MAE pre-training + linear probing for dataset classification on "
         "YFCC+CC+DataComp (Liu & He, Table 7)",
    T09: "Transfer: features of dataset-classification ViTs, linear-probed on an ImageNet-like "
         "task (Liu & He, Table 8)",
}


class TransferError(ValueError):
    pass


def _ssl(config: dict) -> dict:
    return config.get("ssl") or {}


def enabled_tables(config: dict) -> list[str]:
    return [t for t in (T08, T09) if t in _ssl(config)]


# ---------------------------------------------------------------- run registry

def _inherit_runtime(recipe: dict, config: dict) -> None:
    """Device and data-loading settings come from the main training recipe."""
    for key in ("device", "num_workers", "cache_images"):
        if key in config["train"]:
            recipe.setdefault(key, config["train"][key])


def _n_train(config: dict, datasets: list[str]) -> int:
    return int(config["sampling"]["n_train"]) * len(datasets)


def mae_spec(config: dict, name: str) -> dict[str, Any]:
    ssl = _ssl(config)
    runs = ssl.get("mae", {}).get("runs", {})
    if name not in runs:
        raise TransferError(f"MAE run {name!r} is not defined under ssl.mae.runs")
    run = runs[name]
    for d in run["datasets"]:
        if d not in config["datasets"]:
            raise TransferError(f"ssl.mae.runs.{name}: dataset {d!r} is not defined under 'datasets'")
    model = mae_config(ssl["mae"].get("model"))
    recipe = mae_pretrain_recipe_defaults(_n_train(config, run["datasets"]),
                                          input_size=model["img_size"])
    recipe.update(copy.deepcopy(ssl["mae"].get("train") or {}))
    _inherit_runtime(recipe, config)
    for key in ("epochs", "warmup_epochs", "blr"):
        recipe.pop(key, None)
    return {"name": name, "family": "mae", "datasets": list(run["datasets"]),
            "checkpoint": run.get("checkpoint"), "model": model, "recipe": recipe,
            "n_train": int(config["sampling"]["n_train"]), "seed": int(config["seed"])}


def mae_runs(config: dict) -> dict[str, dict]:
    needed = set()
    ssl = _ssl(config)
    if T08 in ssl:
        needed |= set(ssl[T08]["mae"])
    if T09 in ssl and ssl[T09].get("mae_reference"):
        needed.add(ssl[T09]["mae_reference"])
    return {n: mae_spec(config, n) for n in sorted(needed)}


def _encoder(kind: str, ref: str, config: dict) -> dict[str, Any]:
    """An encoder to probe: ``mae`` (an MAE run), ``dsc`` (a dataset-classification run's
    model) or ``random`` (a model spec, randomly initialised)."""
    if kind == "mae":
        return {"kind": "mae", "ref": ref, "id": f"mae-{ref}"}
    if kind == "dsc":
        return {"kind": "dsc", "ref": ref, "id": f"dsc-{ref}"}
    if kind == "random":
        if ref not in config["models"]:
            raise TransferError(f"model {ref!r} is not defined under 'models'")
        return {"kind": "random", "ref": ref, "id": f"random-{ref}",
                "model": copy.deepcopy(config["models"][ref])}
    raise TransferError(kind)


def probe_spec(config: dict, encoder: dict, task: dict, layer: int | None, blr: float) -> dict:
    ssl = _ssl(config)
    pcfg = copy.deepcopy(ssl.get("probe") or {})
    epochs = float(pcfg.pop("epochs", 90))
    warmup = float(pcfg.pop("warmup_epochs", 10))
    batch = int(pcfg.get("batch_size", 16384))
    if task["kind"] == "dsc":
        n_train = int(config["sampling"]["n_train"]) * len(task["views"])
    else:
        n_train = int(config["sampling"]["n_train"])
    recipe = probe_recipe_defaults(n_train, blr=blr, batch_size=batch, epochs=epochs,
                                   warmup_epochs=warmup,
                                   input_size=int(pcfg.get("input_size", config["train"]["input_size"])))
    recipe.update(pcfg)
    recipe["lr"] = probe_lr(blr, recipe["batch_size"])
    _inherit_runtime(recipe, config)
    for key in ("epochs", "warmup_epochs", "blr"):
        recipe.pop(key, None)
    layer_tag = "last" if layer is None else f"L{layer}"
    pid = f"{encoder['id']}__{task['id']}__{layer_tag}__blr{blr:g}"
    return {"probe_id": pid, "family": "probe", "encoder": encoder, "task": task, "layer": layer,
            "blr": float(blr), "recipe": recipe, "seed": int(config["seed"])}


def _dsc_task(config: dict, datasets: list[str]) -> dict:
    return {"kind": "dsc", "id": "dsc-" + "+".join(datasets),
            "views": [experiments.parse_view(d) for d in datasets]}


def _labeled_task(config: dict, dataset: str) -> dict:
    if dataset not in config["datasets"]:
        raise TransferError(f"probe task dataset {dataset!r} is not defined under 'datasets'")
    return {"kind": "labeled", "id": f"labels-{dataset}", "dataset": dataset}


def t08_rows(config: dict) -> list[dict]:
    t = _ssl(config)[T08]
    ds = t["datasets"]
    task = _dsc_task(config, ds)
    sup = experiments.run_spec(config, ds, t["supervised_model"])
    rows = [{"case": f"fully-supervised ({experiments.MODEL_LABELS.get(t['supervised_model'], t['supervised_model'])})",
             "key": "supervised", "kind": "dsc", "run": sup["run_id"], "dsc_spec": sup}]
    for mae_name, label in t["mae"].items():
        p = probe_spec(config, _encoder("mae", mae_name, config), task, t.get("layer"),
                       float(t.get("blr", 0.1)))
        rows.append({"case": f"linear probing w/ {label}", "key": f"mae_{mae_name}", "kind": "probe",
                     "run": p["probe_id"], "probe_spec": p})
    for r in rows:
        r["chance"] = 100.0 / len(ds)
    return rows


def t09_rows(config: dict) -> list[dict]:
    """One row per pre-training; each row holds the probes of its sweep."""
    t = _ssl(config)[T09]
    task = _labeled_task(config, t["task"])
    if t["model"] not in config["models"] or not config["models"][t["model"]]["arch"].startswith(
            ("vit_", "deit")):
        raise TransferError(f"ssl.t09_transfer.model must be a ViT defined under 'models' (the probe "
                            f"reads the class token of block `layer`), got {t['model']!r}")
    encoders = [("random weights", "random", _encoder("random", t["model"], config), None)]
    for ds in t["pretrain"]:
        spec = experiments.run_spec(config, ds, t["model"])
        key = experiments.combo_key(config, ds)
        encoders.append(("+".join(experiments.letter(config, d) for d in ds), key,
                         _encoder("dsc", spec["run_id"], config), spec))
    if t.get("mae_reference"):
        encoders.append(("MAE (reference)", "mae", _encoder("mae", t["mae_reference"], config), None))
    rows = []
    for label, key, enc, dsc_spec in encoders:
        probes = [probe_spec(config, enc, task, layer, float(blr))
                  for layer in t["layers"] for blr in t["blrs"]]
        rows.append({"pretraining": label, "key": key, "encoder": enc, "dsc_spec": dsc_spec,
                     "probes": probes})
    return rows


def required_dsc_specs(config: dict) -> list[dict]:
    """Dataset-classification runs the transfer tables need (shared with the other tables)."""
    ssl = _ssl(config)
    out = []
    if T08 in ssl:
        out += [r["dsc_spec"] for r in t08_rows(config) if r["kind"] == "dsc"]
    if T09 in ssl:
        out += [r["dsc_spec"] for r in t09_rows(config) if r["dsc_spec"] is not None]
    return out


def probe_runs(config: dict) -> dict[str, dict]:
    ssl = _ssl(config)
    runs: dict[str, dict] = {}
    if T08 in ssl:
        runs.update({r["run"]: r["probe_spec"] for r in t08_rows(config) if r["kind"] == "probe"})
    if T09 in ssl:
        for row in t09_rows(config):
            runs.update({p["probe_id"]: p for p in row["probes"]})
    return runs


def probe_encoder_input(spec: dict) -> str | None:
    enc = spec["encoder"]
    if enc["kind"] == "mae":
        return f"results/runs/mae/{enc['ref']}/encoder.pt"
    if enc["kind"] == "dsc":
        return f"results/runs/dsc/{enc['ref']}/model.pt"
    return None


def probe_datasets(spec: dict) -> list[str]:
    task = spec["task"]
    if task["kind"] == "dsc":
        return list(dict.fromkeys(v["dataset"] for v in task["views"]))
    return [task["dataset"]]


# ---------------------------------------------------------------- drivers

def _labeled_records(sample_dir: str, split: str) -> list:
    from vlmbias.data import ImageRecord
    from vlmbias.sampling import load_index, split_frame

    frame = split_frame(load_index(sample_dir), split)
    if frame["label"].isna().any():
        raise TransferError(f"{sample_dir}: {int(frame['label'].isna().sum())} {split} images have no "
                            "integer 'label' in their json metadata; a labeled probe task needs one")
    return [ImageRecord(os.path.join(sample_dir, r.shard), int(r.offset), int(r.size), int(r.label))
            for r in frame.itertuples(index=False)]


def pretrain_mae(spec: dict, sample_dirs: dict[str, str], encoder_path: str, metrics_path: str,
                 progress: bool = True, log: Callable[[str], None] = print) -> dict:
    import torch

    from vlmbias import recipe as R
    from vlmbias.data import ShardImageDataset, records_for
    from vlmbias.mae import build_mae, encoder_of, load_encoder_checkpoint, mae_loss
    from vlmbias.train import fit, pick_device, spec_hash

    t0 = time.time()
    torch.manual_seed(spec["seed"])
    mae = build_mae(spec["model"])
    info: dict[str, Any] = {"name": spec["name"], "family": "mae", "datasets": spec["datasets"],
                            "config": spec, "config_hash": spec_hash(spec)}
    if spec.get("checkpoint"):
        report = load_encoder_checkpoint(encoder_of(mae), spec["checkpoint"])
        info.update(imported_from=spec["checkpoint"], loaded_keys=len(report["loaded"]))
        log(f"MAE {spec['name']}: encoder imported from {spec['checkpoint']}")
    else:
        recipe = spec["recipe"]
        views = [experiments.parse_view(d) for d in spec["datasets"]]
        records = records_for(views, sample_dirs, "train", spec["n_train"])
        ds = ShardImageDataset(records, R.train_transform(recipe),
                               cache_images=bool(recipe.get("cache_images", False)))
        device = pick_device(recipe.get("device", "auto"))
        ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
        state = fit(mae, ds, 1, recipe, spec["seed"], ckpt, spec_hash(spec), device,
                    num_workers=int(recipe.get("num_workers", 0)), progress=progress, log=log,
                    loss_fn=mae_loss)
        info.update(loss_curve=state.loss_curve, epoch_loss=state.epoch_loss,
                    samples_seen=R.make_budget(recipe, len(ds)).samples_seen, n_train=len(ds),
                    steps=state.step)
        if os.path.exists(ckpt):
            os.remove(ckpt)
    torch.save(encoder_of(mae).state_dict(), encoder_path)
    info["run_info"] = {"wall_time_s": time.time() - t0, "torch": torch.__version__}
    with open(metrics_path, "w") as f:
        json.dump(info, f, indent=1)
    return info


def _build_encoder(spec: dict, encoder_path: str | None, num_dsc_classes: int | None):
    import torch

    from vlmbias import models

    enc = spec["encoder"]
    torch.manual_seed(spec["seed"])
    if enc["kind"] == "mae":
        from vlmbias.mae import build_mae, encoder_of

        with open(os.path.join(os.path.dirname(encoder_path), "metrics.json")) as f:
            mae_cfg = json.load(f)["config"]["model"]
        encoder = encoder_of(build_mae(mae_cfg))
        encoder.load_state_dict(torch.load(encoder_path, map_location="cpu"))
        return encoder
    if enc["kind"] == "dsc":
        with open(os.path.join(os.path.dirname(encoder_path), "metrics.json")) as f:
            m = json.load(f)
        dspec = m["config"]
        model = models.build_model(dspec["model"], len(dspec["classes"]),
                                   int(dspec["recipe"]["input_size"]))
        model.load_state_dict(torch.load(encoder_path, map_location="cpu"))
        return model
    return models.build_model(enc["model"], num_dsc_classes or 2, int(spec["recipe"]["input_size"]))


def run_probe(spec: dict, sample_dirs: dict[str, str], encoder_path: str | None, metrics_path: str,
              progress: bool = True, log: Callable[[str], None] = print) -> dict:
    import torch

    from vlmbias import recipe as R
    from vlmbias.data import ShardImageDataset, records_for
    from vlmbias.probe import LinearProbe
    from vlmbias.train import evaluate, fit, pick_device, spec_hash

    t0 = time.time()
    recipe = spec["recipe"]
    task = spec["task"]
    if task["kind"] == "dsc":
        train_rec = records_for(task["views"], sample_dirs, "train")
        val_rec = records_for(task["views"], sample_dirs, "val")
        k = len(task["views"])
    else:
        d = sample_dirs[task["dataset"]]
        train_rec, val_rec = _labeled_records(d, "train"), _labeled_records(d, "val")
        k = 1 + max(r.label for r in train_rec + val_rec)
    encoder = _build_encoder(spec, encoder_path, k)
    model = LinearProbe(encoder, k, spec["layer"])
    cache = bool(recipe.get("cache_images", False))
    train_ds = ShardImageDataset(train_rec, R.train_transform(recipe), cache_images=cache)
    val_ds = ShardImageDataset(val_rec, R.eval_transform(recipe))
    device = pick_device(recipe.get("device", "auto"))
    ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
    workers = int(recipe.get("num_workers", 0))
    state = fit(model, train_ds, k, recipe, spec["seed"], ckpt, spec_hash(spec), device,
                num_workers=workers, progress=progress, log=log)
    val = evaluate(model, val_ds, k, device, int(recipe.get("micro_batch_size") or recipe["batch_size"]),
                   workers, "val", progress)
    metrics = {"probe_id": spec["probe_id"], "family": "probe", "val_acc": val["acc"],
               "confusion_matrix": val["confusion"], "n_val": val["n"], "n_train": len(train_ds),
               "num_classes": k, "layer": model.layer, "blr": spec["blr"],
               "loss_curve": state.loss_curve, "epoch_loss": state.epoch_loss,
               "samples_seen": R.make_budget(recipe, len(train_ds)).samples_seen,
               "config": spec, "config_hash": spec_hash(spec), "seed": spec["seed"],
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device),
                            "torch": torch.__version__, "resumed_from_epoch": state.resumed_from_epoch}}
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=1)
    if os.path.exists(ckpt):
        os.remove(ckpt)
    log(f"probe {spec['probe_id']}: val {val['acc']:.2f}%")
    return metrics
