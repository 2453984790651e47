# The toy world: raw WebDataset shards of the stand-in sources, generated procedurally
# (vlmbias/toyworld/), for the datasets the config points at a toy source (`toy:`).
TOY_SOURCES = vconfig.toy_sources(config)
TOY = config.get("toyworld") or {}


wildcard_constraints:
    source=alternatives(TOY_SOURCES),


rule toyworld:
    output:
        [f"results/toyworld/{{source}}/{i:05d}.tar" for i in range(TOY.get("n_shards", 0))],
    params:
        n_images=lambda wildcards: vconfig.toy_n_images(config, wildcards.source),
        image_size=TOY.get("image_size", 0),
        seed=TOY.get("seed", 0),
        # the world's difficulty: web stand-ins only (the other sources keep their defaults, and jobs)
        difficulty=lambda wildcards: vconfig.toy_difficulty(config, wildcards.source),
    log:
        "logs/toyworld/{source}.log",
    benchmark:
        "benchmarks/data/toyworld/{source}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/toyworld.yaml"
    script:
        "../scripts/toyworld.py"
