# The toy world: raw WebDataset shards of the six stand-in sources, generated procedurally.


rule toyworld:
    output:
        toy_shard_outputs(),
    params:
        n_images=toy_n_images,
        image_size=config["toyworld"]["image_size"] if "toyworld" in config else 0,
        seed=config["toyworld"].get("seed", 0) if "toyworld" in config else 0,
    log:
        "logs/toyworld/{source}.log",
    benchmark:
        "benchmarks/toyworld/{source}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/toyworld.yaml"
    script:
        "../scripts/toyworld.py"
