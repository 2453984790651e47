# Self-supervised pre-training and linear probes (Liu & He, Tables 7 and 8; config section `ssl`,
# vlmbias/dsc/ssl_plan.py). A probe job trains every head of its sweep (layers x base lrs) of
# one encoder on one task on a single frozen forward pass.
from vlmbias.dsc import ssl_plan

MAE_RUNS = ssl_plan.mae_runs(config)
PROBE_RUNS = ssl_plan.probe_runs(config)


wildcard_constraints:
    mae=alternatives(MAE_RUNS),
    probe=alternatives(PROBE_RUNS),


rule pretrain_mae:
    input:
        unpack(lambda wildcards: ssl_plan.mae_inputs(MAE_RUNS[wildcards.mae])),
    output:
        encoder="results/runs/mae/{mae}/encoder.pt",
        metrics="results/runs/mae/{mae}/metrics.json",
    params:
        spec=lambda wildcards: MAE_RUNS[wildcards.mae],
        sample_dirs=lambda wildcards: sample_dirs(MAE_RUNS[wildcards.mae]["datasets"]),
    log:
        "logs/pretrain_mae/{mae}.log",
    benchmark:
        "benchmarks/dsc/pretrain_mae/{mae}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=3 * 24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/pretrain_mae.py"


rule probe:
    input:
        unpack(lambda wildcards: ssl_plan.probe_inputs(PROBE_RUNS[wildcards.probe])),
    output:
        metrics="results/runs/probe/{probe}/metrics.json",
    params:
        spec=lambda wildcards: PROBE_RUNS[wildcards.probe],
        sample_dirs=lambda wildcards: sample_dirs(ssl_plan.probe_datasets(PROBE_RUNS[wildcards.probe])),
    log:
        "logs/probe/{probe}.log",
    benchmark:
        "benchmarks/dsc/probe/{probe}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/probe.py"


rule mae_probe_table:
    input:
        unpack(lambda wildcards: ssl_plan.table_inputs(config, wildcards.table)),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("mae_probe_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/dsc/mae_probe_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"


use rule mae_probe_table as transfer_table with:
    wildcard_constraints:
        table=table_ids("transfer_table"),
    benchmark:
        "benchmarks/dsc/transfer_table/{table}.tsv"
