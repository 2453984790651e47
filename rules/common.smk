# Config validation and input functions shared by every rule file.
import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from vlmbias import config as vconfig
from vlmbias import experiments, transfer
from vlmbias import report as vreport

validate(config, "../config/schema.yaml")
try:
    vconfig.check(config)
except vconfig.ConfigError as e:
    raise WorkflowError(f"Invalid config: {e}")

DSC_RUNS = experiments.dsc_runs(config)
MAE_RUNS = transfer.mae_runs(config)
PROBE_RUNS = transfer.probe_runs(config)
TOY_SOURCES = sorted({vconfig.toy_source(e) for e in config["datasets"].values()} - {None})
TABLES = (
    experiments.enabled_tables(config)
    + transfer.enabled_tables(config)
    + [t for t in ("t10_composition",) if t in config.get("dataset_classification", {})]
)


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    dataset=_alternatives(config["datasets"]),
    source=_alternatives(TOY_SOURCES),
    run=_alternatives(DSC_RUNS),
    mae=_alternatives(MAE_RUNS),
    probe=_alternatives(PROBE_RUNS),


def all_tables():
    figures = [f"results/figures/{t}.png" for t in TABLES if t in experiments.FIGURES]
    figures += interpret.figure_paths(config)
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"]) + figures


# The report (snakemake --report results/report.html; rules/report.smk). New table rules need
# nothing more than their id in TABLES (and figures results/figures/<id>*.png in all_tables()):
# each id gets results/report/<id>.html, each figure results/report/<figure>.png, marked by
# report_item (category = paper from vlmbias/report.py, subcategory = table id). Any other
# output can be marked too: output: report_item("results/...", "t18_textspan_mlp_ablation").
REPORT_PROVENANCE = vreport.provenance(config, workflow.configfiles, workflow.basedir)


def report_item(path, table_id, kind="table"):
    """``path`` marked for the report under its paper and table (``table_id`` may be a
    wildcard pattern such as "{table}"), captioned by report/result.rst."""
    def resolve(w):
        return table_id.format(**w) if "{" in table_id else table_id

    return report(path, caption="../report/result.rst", category=lambda w: vreport.category(resolve(w)),
                  subcategory=lambda w: resolve(w), labels=lambda w: {"table": resolve(w), "file": kind})


def report_figures():
    return [f for f in all_tables() if f.startswith("results/figures/") and f.endswith(".png")]


def table_figures(wildcards):
    """The figures of a table: results/figures/<table id>*.png among the targets."""
    return [f for f in report_figures() if os.path.basename(f).startswith(wildcards.table)]


def report_targets():
    figures = [f"results/report/{os.path.basename(f)}" for f in report_figures()]
    return expand("results/report/{table}.html", table=TABLES) + figures


def toy_shard_outputs():
    n = config["toyworld"]["n_shards"] if "toyworld" in config else 0
    return [f"results/toyworld/{{source}}/{i:05d}.tar" for i in range(n)]


def toy_n_images(wildcards):
    """Images of one toy source: toyworld.n_images, or its entry in n_images_by_source."""
    tw = config["toyworld"]
    return int((tw.get("n_images_by_source") or {}).get(wildcards.source, tw["n_images"]))


def dataset_shards(wildcards):
    return vconfig.dataset_shard_paths(config, wildcards.dataset)


def dataset_splits(wildcards):
    """A dataset's own predefined splits to keep (split -> images), or None (n_train/n_val)."""
    return config["datasets"][wildcards.dataset].get("splits")


def dsc_run_spec(wildcards):
    return DSC_RUNS[wildcards.run]


def dsc_run_sample_dirs(wildcards):
    """Dataset -> sample directory, for the datasets a run reads."""
    return {d: f"results/samples/{d}" for d in experiments.sample_datasets(DSC_RUNS[wildcards.run])}


def dsc_run_indexes(wildcards):
    return [f"{d}/index.parquet" for d in dsc_run_sample_dirs(wildcards).values()]


def dsc_train_threads(wildcards):
    return max(1, int(config["train"].get("num_workers", 0)))


def dsc_table_metrics(table_id):
    if table_id not in TABLES:
        return []
    runs = dict.fromkeys(r["run"] for r in experiments.table_rows(config, table_id))
    return [f"results/runs/dsc/{run}/metrics.json" for run in runs]


def dsc_table_rows(table_id):
    """Table rows without the run specs (those are the training rule's params)."""
    if table_id not in TABLES:
        return []
    return [{k: v for k, v in r.items() if k != "spec"} for r in experiments.table_rows(config, table_id)]


def composition_indexes(wildcards):
    t = config.get("dataset_classification", {}).get("t10_composition")
    return [f"results/samples/{d}/index.parquet" for d in t["datasets"]] if t else []


def mae_inputs(wildcards):
    spec = MAE_RUNS[wildcards.mae]
    if spec["checkpoint"]:  # a public checkpoint: imported, nothing to sample
        return {"checkpoint": spec["checkpoint"]}
    return {"indexes": [f"results/samples/{d}/index.parquet" for d in spec["datasets"]]}


def mae_sample_dirs(wildcards):
    return {d: f"results/samples/{d}" for d in MAE_RUNS[wildcards.mae]["datasets"]}


def probe_sample_dirs(wildcards):
    return {d: f"results/samples/{d}" for d in transfer.probe_datasets(PROBE_RUNS[wildcards.probe])}


def probe_inputs(wildcards):
    spec = PROBE_RUNS[wildcards.probe]
    inputs = {"indexes": [f"{d}/index.parquet" for d in probe_sample_dirs(wildcards).values()]}
    encoder = transfer.probe_encoder_input(spec)
    if encoder:
        inputs["encoder"] = encoder
    return inputs


def transfer_table_inputs(table_id):
    if table_id not in TABLES:
        return {}
    if table_id == transfer.T08:
        rows = transfer.t08_rows(config)
        dsc = [r["run"] for r in rows if r["kind"] == "dsc"]
        probes = [r["run"] for r in rows if r["kind"] == "probe"]
    else:
        rows = transfer.t09_rows(config)
        dsc = []
        probes = [p["probe_id"] for r in rows for p in r["probes"]]
    return {
        "dsc": [f"results/runs/dsc/{r}/metrics.json" for r in dsc],
        "probes": [f"results/runs/probe/{p}/metrics.json" for p in probes],
    }


# --- the shared CLIP stack (rules/clip.smk) ---------------------------------------------------
CLIP = config.get("clip") or {}
CLIP_MODELS = CLIP.get("models") or {}


def _clip_splits():
    names = {"train", "val"}
    for entry in config["datasets"].values():
        names |= set(entry.get("splits") or {})
    return sorted(names)


wildcard_constraints:
    clip=_alternatives(CLIP_MODELS),
    split=_alternatives(_clip_splits()),


def clip_trained(name):
    return bool(CLIP_MODELS[name].get("train"))


def clip_weights(wildcards):
    """The weights file a CLIP job reads: the workflow's own checkpoint, a local checkpoint, or
    nothing (a pretrained tag, found by open_clip; random init)."""
    spec = CLIP_MODELS[wildcards.clip]
    if spec.get("train"):
        return f"results/clip/{wildcards.clip}/model.pt"
    return spec.get("checkpoint") or []


def clip_train_sample_dirs(wildcards):
    data = CLIP_MODELS[wildcards.clip]["train"]["data"]
    dirs = {d: f"results/samples/{d}" for d in data}
    zs = CLIP.get("zero_shot")
    if zs:
        dirs.setdefault(zs["dataset"], f"results/samples/{zs['dataset']}")
    return dirs


def clip_train_indexes(wildcards):
    return [f"{d}/index.parquet" for d in clip_train_sample_dirs(wildcards).values()]


def clip_embed_inputs(wildcards):
    inputs = {"index": f"results/samples/{wildcards.dataset}/index.parquet"}
    weights = clip_weights(wildcards)
    if weights:
        inputs["weights"] = weights
    return inputs


def clip_zero_shot_inputs(wildcards):
    zs = CLIP["zero_shot"]
    inputs = {"embeddings": f"results/embeddings/{wildcards.clip}/{zs['dataset']}/{zs['split']}.npz"}
    weights = clip_weights(wildcards)
    if weights:
        inputs["weights"] = weights
    return inputs


def clip_targets():
    """Every CLIP output the config asks for: trained models, embeddings, zero-shot accuracies."""
    from vlmbias.clip_config import embed_jobs

    out = [f"results/clip/{m}/metrics.json" for m in CLIP_MODELS if clip_trained(m)]
    out += [f"results/embeddings/{m}/{d}/{s}.npz" for m, d, s in embed_jobs(config)]
    if CLIP.get("zero_shot"):
        out += [f"results/clip/{m}/zeroshot.json" for m in CLIP_MODELS]
    return out


def clip_zero_shot_params():
    """dataset, split, class names and template-set name of the zero-shot evaluation (or None)."""
    zs = CLIP.get("zero_shot")
    if not zs:
        return None
    from vlmbias.clip_config import class_names

    return {**zs, "classnames": class_names(config["datasets"][zs["dataset"]]),
            "templates": CLIP.get("templates", "toy")}


# --- TextSpan (rules/textspan.smk) ---------------------------------------------------------------
from vlmbias import textspan_config as interpret

try:
    interpret.check(config)
except ValueError as e:
    raise WorkflowError(f"Invalid config: {e}")

TEXTSPAN = config.get("textspan") or {}
TEXTSPAN_MODELS = interpret.models(config)
TABLES += interpret.enabled_tables(config)


def textspan_model_inputs(wildcards):
    """A model-running TextSpan job: the sampled dataset's index and the CLIP's weights file."""
    inputs = {"index": f"results/samples/{wildcards.dataset}/index.parquet"}
    weights = clip_weights(wildcards)
    if weights:
        inputs["weights"] = weights
    return inputs


def textspan_pool_inputs(wildcards):
    weights = clip_weights(wildcards)
    inputs = {"weights": weights} if weights else {}
    pool = TEXTSPAN.get("pool", "toy")
    if pool != "toy":
        inputs["pool"] = pool
    return inputs


def textspan_files(name):
    """Per TextSpan model: results/textspan/<clip>/<name>, {dataset} = textspan.dataset."""
    if not TEXTSPAN:
        return []
    rel = name.format(dataset=TEXTSPAN["dataset"])
    return [f"results/textspan/{m}/{rel}" for m in TEXTSPAN_MODELS]


def textspan_dataset_index():
    return [f"results/samples/{TEXTSPAN['dataset']}/index.parquet"] if TEXTSPAN else []


def textspan_model_figures(table_id):
    return [f"results/figures/{table_id}_{m}.png" for m in TEXTSPAN_MODELS]


def _weights_of(name):
    spec = CLIP_MODELS[name]
    return f"results/clip/{name}/model.pt" if spec.get("train") else (spec.get("checkpoint") or "")


def textspan_weight_list():
    """Weights file per TextSpan model, "" for a pretrained tag (found by open_clip)."""
    return [_weights_of(m) for m in TEXTSPAN_MODELS]


def textspan_heatmap_inputs(wildcards):
    return {"index": textspan_dataset_index()[0], "weights": [w for w in textspan_weight_list() if w]}
