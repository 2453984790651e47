# TextSpan (Gandelsman, Efros, Steinhardt, ICLR 2024): exact head/token decomposition of a CLIP
# ViT, mean-ablations (t18, f19), TextSpan head descriptions (t20), token heatmaps (f21) and the
# Waterbirds place-head ablation (t22). One streaming decomposition pass per (CLIP, dataset);
# the analyses after it read the compact statistics, without the model (vlmbias/textspan/).
from vlmbias.textspan import plan as textspan_plan

check_config(textspan_plan.check)
TEXTSPAN = textspan_plan.section(config)
TEXTSPAN_MODELS = textspan_plan.models(config)
TEXTSPAN_DATASET = textspan_plan.dataset(config)
WATERBIRDS_DATASET = textspan_plan.waterbirds_dataset(config)


rule textspan_decompose:
    input:
        unpack(lambda wildcards: textspan_plan.model_inputs(config, wildcards.clip, wildcards.dataset)),
    output:
        "results/textspan/{clip}/{dataset}/decomposition.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dir=lambda wildcards: sample_dir(wildcards.dataset),
        dataset_spec=lambda wildcards: config["datasets"][wildcards.dataset],
        textspan=TEXTSPAN,
    log:
        "logs/textspan_decompose/{clip}/{dataset}.log",
    benchmark:
        "benchmarks/textspan/textspan_decompose/{clip}/{dataset}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=6 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_decompose.py"


rule textspan_pool:
    input:
        unpack(lambda wildcards: textspan_plan.pool_inputs(config, wildcards.clip)),
    output:
        "results/textspan/{clip}/pool.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        textspan=TEXTSPAN,
    log:
        "logs/textspan_pool/{clip}.log",
    benchmark:
        "benchmarks/textspan/textspan_pool/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_pool.py"


rule textspan_heatmaps:
    input:
        unpack(lambda wildcards: textspan_plan.model_inputs(config, wildcards.clip, TEXTSPAN_DATASET)),
    output:
        "results/textspan/{clip}/heatmaps.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dir=sample_dir(TEXTSPAN_DATASET),
        dataset_spec=config["datasets"].get(TEXTSPAN_DATASET, {}),
        textspan=TEXTSPAN,
    log:
        "logs/textspan_heatmaps/{clip}.log",
    benchmark:
        "benchmarks/textspan/textspan_heatmaps/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_heatmaps.py"


rule textspan_ablations:
    input:
        decomposition="results/textspan/{clip}/{dataset}/decomposition.pt",
    output:
        "results/textspan/{clip}/{dataset}/ablations.json",
    log:
        "logs/textspan_ablations/{clip}/{dataset}.log",
    benchmark:
        "benchmarks/textspan/textspan_ablations/{clip}/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_ablations.py"


rule textspan_heads:
    input:
        decomposition=f"results/textspan/{{clip}}/{TEXTSPAN_DATASET}/decomposition.pt",
        pool="results/textspan/{clip}/pool.pt",
    output:
        json="results/textspan/{clip}/heads.json",
        pt="results/textspan/{clip}/heads.pt",
    params:
        textspan=TEXTSPAN,
    log:
        "logs/textspan_heads/{clip}.log",
    benchmark:
        "benchmarks/textspan/textspan_heads/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=2 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_heads.py"


rule textspan_waterbirds:
    input:
        decomposition=f"results/textspan/{{clip}}/{WATERBIRDS_DATASET}/decomposition.pt",
        heads="results/textspan/{clip}/heads.json",
    output:
        "results/textspan/{clip}/waterbirds.json",
    params:
        waterbirds=TEXTSPAN.get("waterbirds"),
        seed=config["seed"],
    log:
        "logs/textspan_waterbirds/{clip}.log",
    benchmark:
        "benchmarks/textspan/textspan_waterbirds/{clip}.tsv"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_waterbirds.py"


# The tables: the registry's writer (vlmbias/textspan/tables.py) gets one result file per
# TextSpan model, in textspan.models order.
rule textspan_mlp_table:
    input:
        runs=textspan_plan.per_model(config, "results/textspan/{clip}/{dataset}/ablations.json"),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("textspan_mlp_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/textspan/textspan_mlp_table/{table}.tsv"
    conda:
        "../envs/clip.yaml"  # t20's figure reads the images through the torch dataset
    script:
        "../scripts/table.py"


use rule textspan_mlp_table as textspan_msa_table with:
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        png="results/figures/{table}.png",
    wildcard_constraints:
        table=table_ids("textspan_msa_table"),
    benchmark:
        "benchmarks/textspan/textspan_msa_table/{table}.tsv"


use rule textspan_mlp_table as textspan_waterbirds_table with:
    input:
        runs=textspan_plan.per_model(config, "results/textspan/{clip}/waterbirds.json"),
    wildcard_constraints:
        table=table_ids("textspan_waterbirds_table"),
    benchmark:
        "benchmarks/textspan/textspan_waterbirds_table/{table}.tsv"


use rule textspan_mlp_table as textspan_heatmaps_table with:
    input:
        runs=textspan_plan.per_model(config, "results/textspan/{clip}/heatmaps.pt"),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        png=textspan_plan.per_model(config, "results/figures/{{table}}_{clip}.png"),
    params:
        table=lambda wildcards: wildcards.table,
        models=TEXTSPAN_MODELS,
    wildcard_constraints:
        table=table_ids("textspan_heatmaps_table"),
    benchmark:
        "benchmarks/textspan/textspan_heatmaps_table/{table}.tsv"


use rule textspan_mlp_table as textspan_heads_table with:
    input:
        runs=textspan_plan.per_model(config, "results/textspan/{clip}/heads.json"),
        index=f"{sample_dir(TEXTSPAN_DATASET)}/index.parquet",
        shards=f"{sample_dir(TEXTSPAN_DATASET)}/shards",
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        accuracy="results/tables/{table}_accuracy.csv",
        png=textspan_plan.per_model(config, "results/figures/{{table}}_{clip}.png"),
    params:
        table=lambda wildcards: wildcards.table,
        models=TEXTSPAN_MODELS,
        show_texts=TEXTSPAN.get("show_texts", 5),
    wildcard_constraints:
        table=table_ids("textspan_heads_table"),
    benchmark:
        "benchmarks/textspan/textspan_heads_table/{table}.tsv"
