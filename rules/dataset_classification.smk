# Dataset classification (Liu & He): one training job per run (vlmbias/dsc/plan.py says which
# runs each table needs; runs shared by several tables are one job), one rule per kind of table.
from vlmbias.dsc import plan as dsc_plan
from vlmbias.dsc.spec import sample_datasets

check_config(dsc_plan.check)
DSC_RUNS = dsc_plan.dsc_runs(config)
DSC_GPUS = int(config.get("train_gpus", 1))  # one DDP process per GPU, its loader workers each


wildcard_constraints:
    run=alternatives(DSC_RUNS),


rule train_dsc:
    input:
        unpack(lambda wildcards: sample_inputs(sample_datasets(DSC_RUNS[wildcards.run]))),
    output:
        metrics="results/runs/dsc/{run}/metrics.json",
        model="results/runs/dsc/{run}/model.pt",
    params:
        spec=lambda wildcards: DSC_RUNS[wildcards.run],
        sample_dirs=lambda wildcards: sample_dirs(sample_datasets(DSC_RUNS[wildcards.run])),
    log:
        "logs/train_dsc/{run}.log",
    benchmark:
        "benchmarks/dsc/train_dsc/{run}.tsv"
    threads: lambda wildcards: train_threads(wildcards) * DSC_GPUS
    resources:
        gpu=DSC_GPUS,
        mem_mb=32000,
        runtime=3 * 24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_dsc.py"


# The tables whose rows are runs (t01-t07): the registry's writer of each (vlmbias/dsc/tables.py).
rule dsc_table:
    input:
        metrics=lambda wildcards: dsc_plan.table_metrics(config, wildcards.table),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
        rows=lambda wildcards: dsc_plan.param_rows(config, wildcards.table),
    wildcard_constraints:
        table=table_ids("dsc_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/dsc/dsc_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"


use rule dsc_table as dsc_figure_table with:
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        png="results/figures/{table}.png",
    wildcard_constraints:
        table=table_ids("dsc_figure_table"),
    benchmark:
        "benchmarks/dsc/dsc_figure_table/{table}.tsv"


rule composition_table:
    input:
        indexes=lambda wildcards: sample_inputs(registry.table(wildcards.table).section(config)["datasets"])["indexes"],
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("composition_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/dsc/composition_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"
