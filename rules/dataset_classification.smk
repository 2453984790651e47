# Dataset classification (Liu & He): one training job per run, one target rule per table.


rule train_dsc:
    input:
        dsc_run_indexes,
    output:
        metrics="results/runs/dsc/{run}/metrics.json",
        model="results/runs/dsc/{run}/model.pt",
    params:
        spec=dsc_run_spec,
        sample_dirs=dsc_run_sample_dirs,
    log:
        "logs/train_dsc/{run}.log",
    benchmark:
        "benchmarks/train_dsc/{run}.tsv"
    threads: dsc_train_threads
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=3 * 24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_dsc.py"


rule t01_combinations:
    input:
        dsc_table_metrics("t01_combinations"),
    output:
        csv="results/tables/t01_combinations.csv",
        md="results/tables/t01_combinations.md",
    params:
        table_id="t01_combinations",
        rows=dsc_table_rows("t01_combinations"),
    log:
        "logs/tables/t01_combinations.log",
    benchmark:
        "benchmarks/tables/t01_combinations.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_dsc.py"


rule t02_architectures:
    input:
        dsc_table_metrics("t02_architectures"),
    output:
        csv="results/tables/t02_architectures.csv",
        md="results/tables/t02_architectures.md",
    params:
        table_id="t02_architectures",
        rows=dsc_table_rows("t02_architectures"),
    log:
        "logs/tables/t02_architectures.log",
    benchmark:
        "benchmarks/tables/t02_architectures.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_dsc.py"
