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


# The other tables: the same rule with their own inputs and outputs.
use rule t01_combinations as t02_architectures with:
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


use rule t01_combinations as f03_model_size with:
    input:
        dsc_table_metrics("f03_model_size"),
    output:
        csv="results/tables/f03_model_size.csv",
        md="results/tables/f03_model_size.md",
        png="results/figures/f03_model_size.png",
    params:
        table_id="f03_model_size",
        rows=dsc_table_rows("f03_model_size"),
    log:
        "logs/tables/f03_model_size.log",
    benchmark:
        "benchmarks/tables/f03_model_size.tsv"


use rule t01_combinations as f04_train_images with:
    input:
        dsc_table_metrics("f04_train_images"),
    output:
        csv="results/tables/f04_train_images.csv",
        md="results/tables/f04_train_images.md",
        png="results/figures/f04_train_images.png",
    params:
        table_id="f04_train_images",
        rows=dsc_table_rows("f04_train_images"),
    log:
        "logs/tables/f04_train_images.log",
    benchmark:
        "benchmarks/tables/f04_train_images.tsv"


use rule t01_combinations as t05_augmentation with:
    input:
        dsc_table_metrics("t05_augmentation"),
    output:
        csv="results/tables/t05_augmentation.csv",
        md="results/tables/t05_augmentation.md",
    params:
        table_id="t05_augmentation",
        rows=dsc_table_rows("t05_augmentation"),
    log:
        "logs/tables/t05_augmentation.log",
    benchmark:
        "benchmarks/tables/t05_augmentation.tsv"


use rule t01_combinations as t06_corruptions with:
    input:
        dsc_table_metrics("t06_corruptions"),
    output:
        csv="results/tables/t06_corruptions.csv",
        md="results/tables/t06_corruptions.md",
    params:
        table_id="t06_corruptions",
        rows=dsc_table_rows("t06_corruptions"),
    log:
        "logs/tables/t06_corruptions.log",
    benchmark:
        "benchmarks/tables/t06_corruptions.tsv"


use rule t01_combinations as t07_pseudo_datasets with:
    input:
        dsc_table_metrics("t07_pseudo_datasets"),
    output:
        csv="results/tables/t07_pseudo_datasets.csv",
        md="results/tables/t07_pseudo_datasets.md",
    params:
        table_id="t07_pseudo_datasets",
        rows=dsc_table_rows("t07_pseudo_datasets"),
    log:
        "logs/tables/t07_pseudo_datasets.log",
    benchmark:
        "benchmarks/tables/t07_pseudo_datasets.tsv"


rule t10_composition:
    input:
        composition_indexes,
    output:
        csv="results/tables/t10_composition.csv",
        md="results/tables/t10_composition.md",
    params:
        datasets=lambda wildcards: config["dataset_classification"]["t10_composition"]["datasets"],
        attributes=lambda wildcards: config["dataset_classification"]["t10_composition"].get("attributes"),
    log:
        "logs/tables/t10_composition.log",
    benchmark:
        "benchmarks/tables/t10_composition.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_composition.py"
