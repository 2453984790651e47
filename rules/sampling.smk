# Per dataset: seeded uniform sampling without replacement of n_train + n_val images across all
# of its raw shards, resized, written as shards + an index parquet + bad-input counts. A dataset
# entry with `splits:` keeps its own predefined splits instead, with a count per split.


rule sample:
    input:
        lambda wildcards: vconfig.dataset_shard_paths(config, wildcards.dataset),
    output:
        shards=directory("results/samples/{dataset}/shards"),
        index="results/samples/{dataset}/index.parquet",
        counts="results/samples/{dataset}/bad_input.json",
    params:
        sampling=config["sampling"],
        splits=lambda wildcards: config["datasets"][wildcards.dataset].get("splits"),
        seed=config["seed"],
        max_bad_fraction=config["max_bad_fraction"],
    log:
        "logs/sample/{dataset}.log",
    benchmark:
        "benchmarks/data/sample/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=24 * 60,
    conda:
        "../envs/sampling.yaml"
    script:
        "../scripts/sample.py"
