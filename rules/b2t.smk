# B2T (Kim, Mo et al., CVPR 2024): classify -> caption -> YAKE keywords of the mispredicted
# captions -> CLIP score (vlmbias/b2t/). Captions are computed once per (captioner, dataset,
# split) and read by every later job.
from vlmbias.b2t import plan as b2t_plan

check_config(b2t_plan.check)
B2T = b2t_plan.section(config)
B2T_TASKS = b2t_plan.tasks(config)
B2T_GROUP_TASKS = b2t_plan.group_tasks(config)
B2T_CAPTIONER = b2t_plan.captioner(config) if B2T else {}


wildcard_constraints:
    b2t_task=alternatives(B2T_TASKS),


rule b2t_train_classifier:
    input:
        unpack(lambda wildcards: sample_inputs([b2t_plan.task(config, wildcards.b2t_task)["dataset"]])),
    output:
        model="results/b2t/{b2t_task}/classifier/model.pt",
        metrics="results/b2t/{b2t_task}/classifier/metrics.json",
    params:
        spec=lambda wildcards: b2t_plan.classifier_spec(config, wildcards.b2t_task),
        sample_dir=lambda wildcards: sample_dir(b2t_plan.task(config, wildcards.b2t_task)["dataset"]),
    log:
        "logs/b2t_train_classifier/{b2t_task}.log",
    benchmark:
        "benchmarks/b2t/b2t_train_classifier/{b2t_task}.tsv"
    threads: train_threads
    resources:
        gpu=1,
        mem_mb=32000,
        runtime=24 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/b2t_train_classifier.py"


rule b2t_predict:
    input:
        unpack(lambda wildcards: sample_inputs([b2t_plan.task(config, wildcards.b2t_task)["dataset"]])),
        unpack(lambda wildcards: b2t_plan.classifier_weights(config, wildcards.b2t_task)),
    output:
        "results/b2t/{b2t_task}/classifier/{split}.parquet",
    params:
        spec=lambda wildcards: b2t_plan.classifier_spec(config, wildcards.b2t_task),
        sample_dir=lambda wildcards: sample_dir(b2t_plan.task(config, wildcards.b2t_task)["dataset"]),
    log:
        "logs/b2t_predict/{b2t_task}/{split}.log",
    benchmark:
        "benchmarks/b2t/b2t_predict/{b2t_task}/{split}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=2 * 60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/b2t_predict.py"


rule b2t_train_captioner:
    input:
        unpack(lambda wildcards: b2t_plan.captioner_train_inputs(config)),
    output:
        model="results/b2t/clipcap/model.pt",
        metrics="results/b2t/clipcap/metrics.json",
        tokenizer=directory("results/b2t/clipcap/tokenizer"),
    params:
        spec=B2T_CAPTIONER,
    log:
        "logs/b2t_train_captioner/clipcap.log",
    benchmark:
        "benchmarks/b2t/b2t_train_captioner/clipcap.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=24 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/b2t_train_captioner.py"


rule b2t_caption:
    input:
        unpack(lambda wildcards: b2t_plan.caption_inputs(config, wildcards.dataset, wildcards.split)),
    output:
        "results/captions/clipcap/{dataset}/{split}.parquet",
    params:
        spec=B2T_CAPTIONER,
        device=CLIP.get("device", "auto"),
    log:
        "logs/b2t_caption/{dataset}/{split}.log",
    benchmark:
        "benchmarks/b2t/b2t_caption/{dataset}/{split}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=6 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/b2t_caption.py"


rule b2t_keywords:
    input:
        unpack(lambda wildcards: b2t_plan.keyword_inputs(config, wildcards.b2t_task)),
    output:
        "results/b2t/{b2t_task}/keywords.json",
    params:
        task=lambda wildcards: b2t_plan.task(config, wildcards.b2t_task),
        scorer=B2T.get("scorer"),
        scorer_spec=CLIP_MODELS.get(B2T.get("scorer"), {}),
        options=B2T.get("keywords") or {},
        device=CLIP.get("device", "auto"),
    log:
        "logs/b2t_keywords/{b2t_task}.log",
    benchmark:
        "benchmarks/b2t/b2t_keywords/{b2t_task}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=2 * 60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/b2t_keywords.py"


rule b2t_zeroshot:
    input:
        unpack(lambda wildcards: b2t_plan.zero_shot_inputs(config, wildcards.b2t_task)),
    output:
        "results/b2t/{b2t_task}/zeroshot.json",
    params:
        task=lambda wildcards: b2t_plan.task(config, wildcards.b2t_task),
        clip=(B2T.get("zero_shot") or {}).get("clip"),
        clip_spec=CLIP_MODELS.get((B2T.get("zero_shot") or {}).get("clip"), {}),
        options=B2T.get("zero_shot") or {},
        device=CLIP.get("device", "auto"),
    log:
        "logs/b2t_zeroshot/{b2t_task}.log",
    benchmark:
        "benchmarks/b2t/b2t_zeroshot/{b2t_task}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/b2t_zeroshot.py"


rule b2t_zeroshot_table:
    input:
        runs=expand("results/b2t/{task}/zeroshot.json", task=B2T_GROUP_TASKS),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("b2t_zeroshot_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/b2t/b2t_zeroshot_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"


rule b2t_keywords_table:
    input:
        runs=expand("results/b2t/{task}/keywords.json", task=B2T_GROUP_TASKS),
        captioner=["results/b2t/clipcap/metrics.json"] if B2T_CAPTIONER.get("train") else [],
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("b2t_keywords_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/b2t/b2t_keywords_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"


rule b2t_label_diagnosis:
    input:
        unpack(lambda wildcards: b2t_plan.diagnosis_inputs(config, wildcards.b2t_task)),
    output:
        run="results/b2t/{b2t_task}/diagnosis.json",
        images="results/b2t/{b2t_task}/diagnosis_images.npz",
    params:
        task=lambda wildcards: b2t_plan.task(config, wildcards.b2t_task),
        examples=b2t_plan.diagnosis(config).get("examples"),
        sample_dir=lambda wildcards: sample_dir(b2t_plan.task(config, wildcards.b2t_task)["dataset"]),
    log:
        "logs/b2t_label_diagnosis/{b2t_task}.log",
    benchmark:
        "benchmarks/b2t/b2t_label_diagnosis/{b2t_task}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/b2t_label_diagnosis.py"


rule b2t_diagnosis_table:
    input:
        run=lambda wildcards: f"results/b2t/{b2t_plan.diagnosis(config)['task']}/diagnosis.json",
        images=lambda wildcards: f"results/b2t/{b2t_plan.diagnosis(config)['task']}/diagnosis_images.npz",
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        png="results/figures/{table}.png",
    params:
        table=lambda wildcards: wildcards.table,
    wildcard_constraints:
        table=table_ids("b2t_diagnosis_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/b2t/b2t_diagnosis_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"
