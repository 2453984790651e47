# Self-supervised pre-training and linear probes (Liu & He, Tables 7 and 8).


rule pretrain_mae:
    input:
        unpack(mae_inputs),
    output:
        encoder="results/runs/mae/{mae}/encoder.pt",
        metrics="results/runs/mae/{mae}/metrics.json",
    params:
        spec=lambda wildcards: MAE_RUNS[wildcards.mae],
        sample_dirs=mae_sample_dirs,
    log:
        "logs/pretrain_mae/{mae}.log",
    benchmark:
        "benchmarks/pretrain_mae/{mae}.tsv"
    threads: dsc_train_threads
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
        unpack(probe_inputs),
    output:
        metrics="results/runs/probe/{probe}/metrics.json",
    params:
        spec=lambda wildcards: PROBE_RUNS[wildcards.probe],
        sample_dirs=probe_sample_dirs,
    log:
        "logs/probe/{probe}.log",
    benchmark:
        "benchmarks/probe/{probe}.tsv"
    threads: dsc_train_threads
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/probe.py"


rule t08_mae_linear_probe:
    input:
        **transfer_table_inputs("t08_mae_linear_probe"),
    output:
        csv="results/tables/t08_mae_linear_probe.csv",
        md="results/tables/t08_mae_linear_probe.md",
    params:
        table_id="t08_mae_linear_probe",
    log:
        "logs/tables/t08_mae_linear_probe.log",
    benchmark:
        "benchmarks/tables/t08_mae_linear_probe.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_transfer.py"


use rule t08_mae_linear_probe as t09_transfer with:
    input:
        **transfer_table_inputs("t09_transfer"),
    output:
        csv="results/tables/t09_transfer.csv",
        md="results/tables/t09_transfer.md",
    params:
        table_id="t09_transfer",
    log:
        "logs/tables/t09_transfer.log",
    benchmark:
        "benchmarks/tables/t09_transfer.tsv"
