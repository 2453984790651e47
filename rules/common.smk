# Config validation and input functions shared by every rule file.
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from vlmbias import config as vconfig
from vlmbias import experiments, transfer

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
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"]) + figures


def toy_shard_outputs():
    n = config["toyworld"]["n_shards"] if "toyworld" in config else 0
    return [f"results/toyworld/{{source}}/{i:05d}.tar" for i in range(n)]


def dataset_shards(wildcards):
    return vconfig.dataset_shard_paths(config, wildcards.dataset)


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
