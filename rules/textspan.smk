# TextSpan (Gandelsman, Efros, Steinhardt, ICLR 2024): exact head/token decomposition of a CLIP
# ViT, mean-ablations (t18, f19), TextSpan head descriptions (t20), token heatmaps (f21) and the
# Waterbirds place-head ablation (t22). One streaming decomposition pass per (CLIP, dataset);
# everything after it reads the compact statistics, without the model (vlmbias/interpret.py).


rule textspan_decompose:
    input:
        unpack(textspan_model_inputs),
    output:
        "results/textspan/{clip}/{dataset}/decomposition.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        dataset_spec=lambda wildcards: config["datasets"][wildcards.dataset],
        textspan=TEXTSPAN,
    log:
        "logs/textspan_decompose/{clip}/{dataset}.log",
    benchmark:
        "benchmarks/textspan_decompose/{clip}/{dataset}.tsv"
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
        unpack(textspan_pool_inputs),
    output:
        "results/textspan/{clip}/pool.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        textspan=TEXTSPAN,
    log:
        "logs/textspan_pool/{clip}.log",
    benchmark:
        "benchmarks/textspan_pool/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_pool.py"


rule textspan_ablations:
    input:
        decomposition="results/textspan/{clip}/{dataset}/decomposition.pt",
    output:
        "results/textspan/{clip}/{dataset}/ablations.json",
    log:
        "logs/textspan_ablations/{clip}/{dataset}.log",
    benchmark:
        "benchmarks/textspan_ablations/{clip}/{dataset}.tsv"
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
        decomposition=f"results/textspan/{{clip}}/{TEXTSPAN.get('dataset', 'none')}/decomposition.pt",
        pool="results/textspan/{clip}/pool.pt",
    output:
        json="results/textspan/{clip}/heads.json",
        pt="results/textspan/{clip}/heads.pt",
    params:
        textspan=TEXTSPAN,
    log:
        "logs/textspan_heads/{clip}.log",
    benchmark:
        "benchmarks/textspan_heads/{clip}.tsv"
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
        decomposition=f"results/textspan/{{clip}}/{TEXTSPAN.get('waterbirds', {}).get('dataset', 'none')}/decomposition.pt",
        heads="results/textspan/{clip}/heads.json",
    output:
        "results/textspan/{clip}/waterbirds.json",
    params:
        waterbirds=TEXTSPAN.get("waterbirds"),
        seed=config["seed"],
    log:
        "logs/textspan_waterbirds/{clip}.log",
    benchmark:
        "benchmarks/textspan_waterbirds/{clip}.tsv"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_waterbirds.py"


rule t18_textspan_mlp_ablation:
    input:
        runs=textspan_files("{dataset}/ablations.json"),
    output:
        csv="results/tables/t18_textspan_mlp_ablation.csv",
        md="results/tables/t18_textspan_mlp_ablation.md",
    params:
        table_id="t18_textspan_mlp_ablation",
    log:
        "logs/tables/t18_textspan_mlp_ablation.log",
    benchmark:
        "benchmarks/tables/t18_textspan_mlp_ablation.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_textspan.py"


use rule t18_textspan_mlp_ablation as f19_textspan_msa_ablation with:
    output:
        csv="results/tables/f19_textspan_msa_ablation.csv",
        md="results/tables/f19_textspan_msa_ablation.md",
        png="results/figures/f19_textspan_msa_ablation.png",
    params:
        table_id="f19_textspan_msa_ablation",
    log:
        "logs/tables/f19_textspan_msa_ablation.log",
    benchmark:
        "benchmarks/tables/f19_textspan_msa_ablation.tsv"


rule t20_textspan_heads:
    input:
        runs=textspan_files("heads.json"),
        indexes=textspan_dataset_index(),
    output:
        csv="results/tables/t20_textspan_heads.csv",
        md="results/tables/t20_textspan_heads.md",
        accuracy="results/tables/t20_textspan_heads_accuracy.csv",
        png=textspan_model_figures("t20_textspan_heads"),
    params:
        table_id="t20_textspan_heads",
        models=TEXTSPAN_MODELS,
        show_texts=TEXTSPAN.get("show_texts", 5),
    log:
        "logs/tables/t20_textspan_heads.log",
    benchmark:
        "benchmarks/tables/t20_textspan_heads.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_textspan.py"


use rule t18_textspan_mlp_ablation as t22_textspan_waterbirds with:
    input:
        runs=textspan_files("waterbirds.json"),
    output:
        csv="results/tables/t22_textspan_waterbirds.csv",
        md="results/tables/t22_textspan_waterbirds.md",
    params:
        table_id="t22_textspan_waterbirds",
    log:
        "logs/tables/t22_textspan_waterbirds.log",
    benchmark:
        "benchmarks/tables/t22_textspan_waterbirds.tsv"


rule f21_token_heatmaps:
    input:
        unpack(textspan_heatmap_inputs),
    output:
        csv="results/tables/f21_token_heatmaps.csv",
        md="results/tables/f21_token_heatmaps.md",
        png=textspan_model_figures("f21_token_heatmaps"),
    params:
        models=TEXTSPAN_MODELS,
        specs={m: CLIP_MODELS[m] for m in TEXTSPAN_MODELS},
        weights=textspan_weight_list(),
        dataset_spec=config["datasets"].get(TEXTSPAN.get("dataset"), {}),
        textspan=TEXTSPAN,
    log:
        "logs/tables/f21_token_heatmaps.log",
    benchmark:
        "benchmarks/tables/f21_token_heatmaps.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/textspan_heatmaps.py"
