# Per dataset: seeded uniform sampling without replacement of n_train + n_val images across all
# of its raw shards, resized, written as shards + an index parquet + bad-input counts. A dataset
# entry with `splits:` keeps its own predefined splits instead, with a count per split.


# A user's dataset (shards: patterns) is listed once while the workflow parses; its sample job
# reads the shard manifest, not the shards as inputs (388,000 of them in config/paper.yaml), and
# the listing's digest as a parameter reruns the manifest, hence the sampling, when a shard is
# added, removed, resized or touched (vlmbias/shards/manifest.py).
rule shard_manifest:
    output:
        "results/manifests/{dataset}.tsv",
    params:
        digest=lambda wildcards: vconfig.shard_digest(config, wildcards.dataset),
        patterns=lambda wildcards: config["datasets"][wildcards.dataset]["shards"],
    log:
        "logs/shard_manifest/{dataset}.log",
    benchmark:
        "benchmarks/data/shard_manifest/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/sampling.yaml"
    script:
        "../scripts/shard_manifest.py"


# The header pass of a dataset split over `scan_chunks` jobs (sampling.scan_chunks, or per dataset):
# each scans a contiguous slice of the shard list and keeps its lowest priorities and its bad-input
# counts; rule sample merges them into exactly the single job's sample (vlmbias.shards.sampler).
rule sample_scan:
    input:
        unpack(lambda wildcards: vconfig.scan_input(config, wildcards.dataset)),
    output:
        candidates=temp("results/samples/{dataset}/scan/{chunk}-of-{n_chunks}.parquet"),
        counts=temp("results/samples/{dataset}/scan/{chunk}-of-{n_chunks}.parquet.json"),
    wildcard_constraints:
        chunk=r"\d+",
        n_chunks=r"\d+",
    params:
        sampling=config["sampling"],
        splits=lambda wildcards: config["datasets"][wildcards.dataset].get("splits"),
        seed=config["seed"],
        max_bad_fraction=config["max_bad_fraction"],
    log:
        "logs/sample_scan/{dataset}/{chunk}-of-{n_chunks}.log",
    benchmark:
        "benchmarks/data/sample_scan/{dataset}/{chunk}-of-{n_chunks}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=12 * 60,
    conda:
        "../envs/sampling.yaml"
    script:
        "../scripts/sample_scan.py"


rule sample:
    input:
        unpack(lambda wildcards: vconfig.sample_input(config, wildcards.dataset)),
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
