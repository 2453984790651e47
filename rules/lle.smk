# Whac-A-Mole / LLE (Li et al., CVPR 2023; vlmbias/lle/): UrbanCars, every method of the registry
# (vlmbias/lle/methods.yaml) over the table's seeds, one job per (method, seed) -> t14; ImageNet
# shortcuts: a backbone (trained here in the toy world, pretrained in the paper), last-layer
# retraining per method of vlmbias/lle/imagenet_methods.yaml and seed, CLIP zero-shot rows -> t15.
from vlmbias.lle import plan as lle_plan

check_config(lle_plan.check)
LLE_UC = lle_plan.urbancars(config)
LLE_METHODS = lle_plan.methods(config) if LLE_UC else []
LLE_SEEDS = lle_plan.seeds(config) if LLE_UC else []
LLE_IN = lle_plan.imagenet(config)
LLE_IN_BACKBONES = list(lle_plan.imagenet_backbones(config)) if LLE_IN else []


wildcard_constraints:
    lle_method=alternatives(LLE_METHODS),
    lle_seed=r"\d+",
    lle_backbone=alternatives(LLE_IN_BACKBONES),
    lle_in_method=alternatives(lle_plan.imagenet_registry()),


rule lle_urbancars:
    input:
        unpack(lambda wildcards: sample_inputs([LLE_UC["dataset"]])),
    output:
        "results/lle/urbancars/{lle_method}/seed{lle_seed}/metrics.json",
    params:
        spec=lambda wildcards: lle_plan.run_spec(config, wildcards.lle_method, int(wildcards.lle_seed)),
        sample_dir=lambda wildcards: lle_plan.urbancars_sample_dir(config),
    log:
        "logs/lle_urbancars/{lle_method}/seed{lle_seed}.log",
    benchmark:
        "benchmarks/lle/lle_urbancars/{lle_method}/seed{lle_seed}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/lle_urbancars.py"


rule lle_urbancars_table:
    input:
        runs=lle_plan.metrics_paths(config) if LLE_UC else [],
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("lle_urbancars_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/lle/lle_urbancars_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"


rule lle_convert_urbancars:
    input:  # the official tree (a folder: reruns when files are added or removed at its top)
        root=lambda wildcards: vconfig.converted_datasets(config)[wildcards.converted],
    output:
        vconfig.converted_shard_paths("{converted}"),
    wildcard_constraints:
        converted=alternatives(vconfig.converted_datasets(config)),
    log:
        "logs/lle_convert_urbancars/{converted}.log",
    benchmark:
        "benchmarks/lle/lle_convert_urbancars/{converted}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=4 * 60,
    conda:
        "../envs/sampling.yaml"
    script:
        "../scripts/lle_convert_urbancars.py"


rule lle_imagenet_backbone:
    input:
        unpack(lambda wildcards: sample_inputs(lle_plan.imagenet_datasets(config))),
    output:
        model="results/lle/imagenet/{lle_backbone}/backbone/model.pt",
        metrics="results/lle/imagenet/{lle_backbone}/backbone/metrics.json",
    params:
        spec=lambda wildcards: lle_plan.imagenet_backbone_spec(config, wildcards.lle_backbone),
    log:
        "logs/lle_imagenet_backbone/{lle_backbone}.log",
    benchmark:
        "benchmarks/lle/lle_imagenet_backbone/{lle_backbone}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/lle_imagenet_backbone.py"


rule lle_imagenet:
    input:
        unpack(lambda wildcards: sample_inputs(lle_plan.imagenet_datasets(config))),
        backbone=lambda wildcards: lle_plan.imagenet_backbone_weights(config, wildcards.lle_backbone),
        in9_map=[LLE_IN["in9_map"]] if LLE_IN.get("in9_map") else [],
    output:
        "results/lle/imagenet/{lle_backbone}/{lle_in_method}/seed{lle_seed}/metrics.json",
    params:
        spec=lambda wildcards: lle_plan.imagenet_run_spec(config, wildcards.lle_backbone, wildcards.lle_in_method,
                                                          int(wildcards.lle_seed)),
    log:
        "logs/lle_imagenet/{lle_backbone}/{lle_in_method}/seed{lle_seed}.log",
    benchmark:
        "benchmarks/lle/lle_imagenet/{lle_backbone}/{lle_in_method}/seed{lle_seed}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/lle_imagenet.py"


rule lle_imagenet_clip:
    input:
        unpack(lambda wildcards: clip_spec.weights_input(config, wildcards.clip)),
        unpack(lambda wildcards: lle_plan.imagenet_embeddings(config, wildcards.clip)),
        in9_map=[LLE_IN["in9_map"]] if LLE_IN.get("in9_map") else [],
    output:
        "results/lle/imagenet/clip/{clip}/metrics.json",
    params:
        spec=lambda wildcards: lle_plan.imagenet_clip_spec(config, wildcards.clip),
        clip=lambda wildcards: CLIP_MODELS[wildcards.clip],
        device=CLIP.get("device", "auto") if CLIP else "auto",
    log:
        "logs/lle_imagenet_clip/{clip}.log",
    benchmark:
        "benchmarks/lle/lle_imagenet_clip/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/lle_imagenet_clip.py"


rule lle_imagenet_table:
    input:
        runs=lle_plan.imagenet_metrics_paths(config) if LLE_IN else [],
        clip=lle_plan.imagenet_clip_paths(config) if LLE_IN else [],
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("lle_imagenet_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/lle/lle_imagenet_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"
