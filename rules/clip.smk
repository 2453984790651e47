# The shared CLIP stack (vlmbias/clip/): a CLIP pre-trained in the workflow (toy world), image
# embeddings cached per (model, dataset, split), and every model's zero-shot top-1 on the
# config's zero-shot set. Pretrained or local-checkpoint models (config/paper.yaml) skip train_clip.
from vlmbias.clip import spec as clip_spec

check_config(clip_spec.check)
CLIP = clip_spec.section(config)
CLIP_MODELS = clip_spec.models(config)


wildcard_constraints:
    clip=alternatives(CLIP_MODELS),
    split=alternatives(clip_spec.split_names(config)),


rule train_clip:
    input:
        unpack(lambda wildcards: sample_inputs(clip_spec.train_datasets(config, wildcards.clip))),
    output:
        model="results/clip/{clip}/model.pt",
        metrics="results/clip/{clip}/metrics.json",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dirs=lambda wildcards: sample_dirs(clip_spec.train_datasets(config, wildcards.clip)),
        zero_shot=clip_spec.zero_shot_params(config),
        seed=config["seed"],
    log:
        "logs/train_clip/{clip}.log",
    benchmark:
        "benchmarks/clip/train_clip/{clip}.tsv"
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
        unpack(lambda wildcards: sample_inputs([wildcards.dataset])),
        unpack(lambda wildcards: clip_spec.weights_input(config, wildcards.clip)),
    output:
        "results/embeddings/{clip}/{dataset}/{split}.npz",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dir=lambda wildcards: sample_dir(wildcards.dataset),
        batch_size=CLIP.get("batch_size", 256),
        device=CLIP.get("device", "auto"),
        preprocess="clip",
    log:
        "logs/embed_clip/{clip}/{dataset}/{split}.log",
    benchmark:
        "benchmarks/clip/embed_clip/{clip}/{dataset}/{split}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=12 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/embed_clip.py"


# The same cache under another image preprocessing (vlmbias/clip/preprocess.py), e.g. the official
# PerceptionCLIP scripts' Waterbirds / CelebA transforms: <split>@<preprocessing>.npz.
use rule embed_clip as embed_clip_preprocessed with:
    output:
        "results/embeddings/{clip}/{dataset}/{split}@{preprocess}.npz",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        sample_dir=lambda wildcards: sample_dir(wildcards.dataset),
        batch_size=CLIP.get("batch_size", 256),
        device=CLIP.get("device", "auto"),
        preprocess=lambda wildcards: wildcards.preprocess,
    wildcard_constraints:
        preprocess="waterbirds_official|celeba_official|imagenet_w",
    log:
        "logs/embed_clip/{clip}/{dataset}/{split}@{preprocess}.log",
    benchmark:
        "benchmarks/clip/embed_clip/{clip}/{dataset}/{split}@{preprocess}.tsv"


rule zeroshot_clip:
    input:
        unpack(lambda wildcards: clip_spec.weights_input(config, wildcards.clip)),
        embeddings=lambda wildcards: "results/embeddings/{clip}/{dataset}/{split}.npz".format(
            clip=wildcards.clip, **CLIP["zero_shot"]),
    output:
        "results/clip/{clip}/zeroshot.json",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        zero_shot=clip_spec.zero_shot_params(config),
        device=CLIP.get("device", "auto"),
    log:
        "logs/zeroshot_clip/{clip}.log",
    benchmark:
        "benchmarks/clip/zeroshot_clip/{clip}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/zeroshot_clip.py"
