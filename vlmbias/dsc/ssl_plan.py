"""Self-supervised pre-training and linear probes (Liu & He, Tables 7 and 8), planned from the
``ssl`` section of the config (no torch).

t08: an MAE pre-trained on the YFCC+CC+DataComp stand-ins, and one on the ImageNet stand-in (or
a public MAE checkpoint given as a local path), each linear-probed for dataset classification on
YCD with a frozen encoder (MAE's probe: BatchNorm without affine + linear head, LARS), beside a
fully supervised ViT of the same size (a dataset-classification run).

t09: ViTs trained on dataset classification over Y+C+D, +W, +L, +I, and a randomly initialised
one, linear-probed on an ImageNet-like labeled task (the toy world's object classes, or your
labeled shards), sweeping the probe layer and base learning rate; the best of the sweep is
reported, as the paper does. An MAE probe is the reference row. Deviation: the paper probes the
dataset-classification checkpoint of epoch 250/300; this probes the final one.

The runs (``vlmbias.dsc.mae``, ``vlmbias.dsc.probe``) train through the one loop,
``vlmbias.train.loop.fit``: MAE with the masked-image objective, probes as a classifier whose
encoder is frozen.
"""

from __future__ import annotations

import copy
from typing import Any

from vlmbias.core.config import need_dataset
from vlmbias.core.paths import run_file, sample_inputs
from vlmbias.dsc.spec import MODEL_LABELS, PlanError, combo_key, letter, parse_view, run_spec
from vlmbias.dsc.ssl_recipes import mae_config, mae_pretrain_recipe_defaults, probe_lr, probe_recipe_defaults
from vlmbias.tables import registry

MAE_PROBE_RULE, TRANSFER_RULE = "mae_probe_table", "transfer_table"


def _ssl(config: dict) -> dict:
    return config.get("ssl") or {}


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
        raise PlanError(f"MAE run {name!r} is not defined under ssl.mae.runs")
    run = runs[name]
    for d in run["datasets"]:
        need_dataset(config, f"ssl.mae.runs.{name}", d)
    model = mae_config(ssl["mae"].get("model"))
    recipe = mae_pretrain_recipe_defaults(_n_train(config, run["datasets"]),
                                          input_size=model["img_size"])
    recipe.update(copy.deepcopy(ssl["mae"].get("train") or {}))
    recipe.update(copy.deepcopy(run.get("train") or {}))   # this run's own, over every run's
    _inherit_runtime(recipe, config)
    for key in ("epochs", "warmup_epochs", "blr"):
        recipe.pop(key, None)
    return {"name": name, "family": "mae", "datasets": list(run["datasets"]),
            "checkpoint": run.get("checkpoint"), "model": model, "recipe": recipe,
            "n_train": int(config["sampling"]["n_train"]), "seed": int(config["seed"])}


def mae_runs(config: dict) -> dict[str, dict]:
    """The MAE runs the probes read, by name."""
    names = {p["encoder"]["ref"] for p in probe_runs(config).values() if p["encoder"]["kind"] == "mae"}
    return {n: mae_spec(config, n) for n in sorted(names)}


def _encoder(config: dict, kind: str, ref: str | dict) -> dict[str, Any]:
    """An encoder to probe, with what it takes to build it before its weights are loaded:
    ``mae`` (an MAE run's encoder), ``dsc`` (a dataset-classification run's model) or ``random``
    (a model spec, randomly initialised)."""
    if kind == "mae":
        return {"kind": "mae", "ref": ref, "id": f"mae-{ref}", "model": mae_spec(config, ref)["model"]}
    if kind == "dsc":  # ref: the run's spec
        spec = ref
        return {"kind": "dsc", "ref": spec["run_id"], "id": f"dsc-{spec['run_id']}", "model": spec["model"],
                "num_classes": len(spec["classes"]), "input_size": int(spec["recipe"]["input_size"])}
    if kind == "random":
        if ref not in config["models"]:
            raise PlanError(f"model {ref!r} is not defined under 'models'")
        return {"kind": "random", "ref": ref, "id": f"random-{ref}",
                "model": copy.deepcopy(config["models"][ref])}
    raise PlanError(f"unknown encoder kind {kind!r}")


def _head(encoder: dict, task: dict, layer: int | None, blr: float, batch: int) -> dict:
    """One probe of a sweep: a head on block ``layer`` (None: the last) at base lr ``blr``."""
    layer_tag = "last" if layer is None else f"L{layer}"
    return {"id": f"{encoder['id']}__{task['id']}__{layer_tag}__blr{blr:g}", "layer": layer,
            "blr": float(blr), "lr": probe_lr(blr, batch)}


def probe_spec(config: dict, encoder: dict, task: dict, sweep: list[tuple[int | None, float]],
               overrides: dict | None = None) -> dict:
    """One probe job: the encoder's frozen forward pass shared by one head per (layer, blr) of
    ``sweep``. Each head trains exactly as it would alone (same initialisation, same batches, its
    own lr): the job only saves the repeated forward passes. ``overrides``: a table's own
    ``probe:`` keys, over ``ssl.probe``."""
    pcfg = copy.deepcopy(_ssl(config).get("probe") or {})
    pcfg.update(copy.deepcopy(overrides or {}))
    epochs = float(pcfg.pop("epochs", 90))
    warmup = float(pcfg.pop("warmup_epochs", 10))
    batch = int(pcfg.get("batch_size", 16384))
    if task["kind"] == "dsc":
        n_train = int(config["sampling"]["n_train"]) * len(task["views"])
    else:
        n_train = int(config["sampling"]["n_train"])
    heads = sorted((_head(encoder, task, layer, float(blr), batch) for layer, blr in dict.fromkeys(sweep)),
                   key=lambda h: (-1 if h["layer"] is None else h["layer"], h["blr"]))
    recipe = probe_recipe_defaults(n_train, blr=heads[0]["blr"], batch_size=batch, epochs=epochs,
                                   warmup_epochs=warmup,
                                   input_size=int(pcfg.get("input_size", config["train"]["input_size"])))
    recipe.update(pcfg)
    recipe["lr"] = heads[0]["lr"]
    _inherit_runtime(recipe, config)
    for key in ("epochs", "warmup_epochs", "blr"):
        recipe.pop(key, None)
    return {"probe_id": f"{encoder['id']}__{task['id']}", "family": "probe", "encoder": encoder,
            "task": task, "heads": heads, "recipe": recipe, "seed": int(config["seed"])}


def _dsc_task(datasets: list[str]) -> dict:
    return {"kind": "dsc", "id": "dsc-" + "+".join(datasets), "views": [parse_view(d) for d in datasets]}


def _labeled_task(config: dict, dataset: str) -> dict:
    need_dataset(config, "probe task", dataset)
    return {"kind": "labeled", "id": f"labels-{dataset}", "dataset": dataset}


def mae_probe_rows(config: dict, t: dict) -> list[dict]:
    """t08: the fully supervised run, then one probe per MAE (its ``layer``, its ``blr``)."""
    ds = t["datasets"]
    task = _dsc_task(ds)
    sup = run_spec(config, ds, t["supervised_model"])
    rows = [{"case": f"fully-supervised ({MODEL_LABELS.get(t['supervised_model'], t['supervised_model'])})",
             "key": "supervised", "kind": "dsc", "run": sup["run_id"], "dsc_spec": sup}]
    for mae_name, label in t["mae"].items():
        p = probe_spec(config, _encoder(config, "mae", mae_name), task, [(t.get("layer"), float(t.get("blr", 0.1)))],
                       t.get("probe"))
        rows.append({"case": f"linear probing w/ {label}", "key": f"mae_{mae_name}", "kind": "probe",
                     "run": p["probe_id"], "head": p["heads"][0]["id"], "probe_spec": p,
                     "probe_overrides": t.get("probe")})
    for r in rows:
        r["chance"] = 100.0 / len(ds)
    return rows


def transfer_rows(config: dict, t: dict) -> list[dict]:
    """t09: one row per pre-training; each row's probe job holds its sweep (layers x blrs)."""
    task = _labeled_task(config, t["task"])
    if t["model"] not in config["models"] or not config["models"][t["model"]]["arch"].startswith(
            ("vit_", "deit")):
        raise PlanError(f"model must be a ViT defined under 'models' (the probe reads the class token "
                        f"of block `layer`), got {t['model']!r}")
    encoders = [("random weights", "random", _encoder(config, "random", t["model"]), None)]
    for ds in t["pretrain"]:
        spec = run_spec(config, ds, t["model"], samples_seen=t.get("samples_seen"))
        encoders.append(("+".join(letter(config, d) for d in ds), combo_key(config, ds),
                         _encoder(config, "dsc", spec), spec))
    if t.get("mae_reference"):
        encoders.append(("MAE (reference)", "mae", _encoder(config, "mae", t["mae_reference"]), None))
    sweep = [(layer, float(blr)) for layer in t["layers"] for blr in t["blrs"]]
    rows = []
    for label, key, enc, dsc_spec in encoders:
        p = probe_spec(config, enc, task, sweep, t.get("probe"))
        rows.append({"pretraining": label, "key": key, "encoder": enc, "dsc_spec": dsc_spec,
                     "run": p["probe_id"], "heads": p["heads"], "probe_spec": p, "probe_overrides": t.get("probe")})
    return rows


def _rows(config: dict) -> list[dict]:
    return [r for rule in (MAE_PROBE_RULE, TRANSFER_RULE) for tid in registry.enabled(config, rule=rule)
            for r in registry.rows(tid, config)]


def required_dsc_specs(config: dict) -> list[dict]:
    """Dataset-classification runs the ssl tables need (shared with the other tables)."""
    return [r["dsc_spec"] for r in _rows(config) if r.get("dsc_spec") is not None]


def probe_runs(config: dict) -> dict[str, dict]:
    """Every probe job, by id; two tables probing one encoder on one task share its job (the
    union of their sweeps), which needs the same probe recipe (their ``probe:`` keys)."""
    runs: dict[str, dict] = {}
    for r in _rows(config):
        spec = r.get("probe_spec")
        if spec is None:
            continue
        pid = spec["probe_id"]
        prev = runs.get(pid)
        if prev is not None and _shared_recipe(prev) != _shared_recipe(spec):
            raise PlanError(f"probe job {pid}: two tables probe this encoder on this task with different "
                            f"probe: keys ({_shared_recipe(prev)} and {_shared_recipe(spec)}); one job needs one recipe")
        if prev is not None and prev["heads"] != spec["heads"]:
            sweep = [(h["layer"], h["blr"]) for h in prev["heads"] + spec["heads"]]
            spec = probe_spec(config, spec["encoder"], spec["task"], sweep, r.get("probe_overrides"))
        runs[pid] = spec
    return runs


def _shared_recipe(spec: dict) -> dict:
    """A probe job's recipe but the lr, which each head of its sweep sets for itself."""
    return {k: v for k, v in spec["recipe"].items() if k != "lr"}


def mae_inputs(spec: dict) -> dict:
    """An MAE run reads its datasets' samples, or (a public checkpoint) only that file."""
    if spec["checkpoint"]:
        return {"checkpoint": spec["checkpoint"]}
    return sample_inputs(spec["datasets"])


def probe_inputs(spec: dict) -> dict:
    """A probe job reads its task's samples and its encoder's weights (none: random init)."""
    enc = spec["encoder"]
    inputs = sample_inputs(probe_datasets(spec))
    if enc["kind"] == "mae":
        inputs["encoder"] = run_file("mae", enc["ref"], "encoder.pt")
    elif enc["kind"] == "dsc":
        inputs["encoder"] = run_file("dsc", enc["ref"], "model.pt")
    return inputs


def table_inputs(config: dict, table_id: str) -> dict:
    """The runs of a t08/t09 table: dataset-classification metrics and probe-job metrics."""
    rows = registry.rows(table_id, config)
    return {"dsc": [run_file("dsc", r["run"], "metrics.json") for r in rows if r.get("kind") == "dsc"],
            "probes": [run_file("probe", p, "metrics.json")
                       for p in dict.fromkeys(r["run"] for r in rows if "probe_spec" in r)]}


def probe_datasets(spec: dict) -> list[str]:
    task = spec["task"]
    if task["kind"] == "dsc":
        return list(dict.fromkeys(v["dataset"] for v in task["views"]))
    return [task["dataset"]]
