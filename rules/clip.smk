# The shared CLIP stack: a CLIP pre-trained in the workflow (toy world), image embeddings cached per
# (model, dataset, split), and every model's zero-shot top-1 on the config's zero-shot set.
# Pretrained or local-checkpoint models (config/paper.yaml) skip train_clip.


rule train_clip:
    input:
        indexes=clip_train_indexes,
    output:
        model="results/clip/{clip}/model.pt",
        metrics="results/clip/{clip}/metrics.json",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dirs=clip_train_sample_dirs,
        zero_shot=clip_zero_shot_params(),
        seed=config["seed"],
    log:
        "logs/train_clip/{clip}.log",
    benchmark:
        "benchmarks/train_clip/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=2 * 24 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/train_clip.py"


rule embed_clip:
    input:
        unpack(clip_embed_inputs),
    output:
        "results/embeddings/{clip}/{dataset}/{split}.npz",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        batch_size=CLIP.get("batch_size", 256),
        device=CLIP.get("device", "auto"),
    log:
        "logs/embed_clip/{clip}/{dataset}/{split}.log",
    benchmark:
        "benchmarks/embed_clip/{clip}/{dataset}/{split}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=12 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/embed_clip.py"


rule zeroshot_clip:
    input:
        unpack(clip_zero_shot_inputs),
    output:
        "results/clip/{clip}/zeroshot.json",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        zero_shot=clip_zero_shot_params(),
        device=CLIP.get("device", "auto"),
    log:
        "logs/zeroshot_clip/{clip}.log",
    benchmark:
        "benchmarks/zeroshot_clip/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/zeroshot_clip.py"
