# PerceptionCLIP (An, Zhu et al., ICLR 2024): infer the contextual attributes Z of an image,
# P(z|x), then classify conditioned on them, P(y|x) = sum_z P(y|x,z) P(z|x) (t16 Waterbirds,
# t17 CelebA; vlmbias/perceptionclip/). Image features come from the shared embedding cache;
# each text head is a file of its own, so a new temperature or setting never re-embeds images.
from vlmbias.perceptionclip import plan as pclip_plan

check_config(pclip_plan.check)
PCLIP = pclip_plan.section(config)
PCLIP_MODELS = pclip_plan.models(config)
PCLIP_HEADS = pclip_plan.heads(config)
PCLIP_TASKS = pclip_plan.tasks(config)


wildcard_constraints:
    pclip_head=alternatives(PCLIP_HEADS),
    pclip_task=alternatives(PCLIP_TASKS),


rule perceptionclip_head:
    input:
        unpack(lambda wildcards: clip_spec.weights_input(config, wildcards.clip)),
    output:
        "results/perceptionclip/{clip}/heads/{pclip_head}.pt",
    params:
        spec=lambda wildcards: CLIP_MODELS[wildcards.clip],
        prompts=lambda wildcards: PCLIP_HEADS[wildcards.pclip_head],
        device=CLIP.get("device", "auto"),
    log:
        "logs/perceptionclip_head/{clip}/{pclip_head}.log",
    benchmark:
        "benchmarks/perceptionclip/perceptionclip_head/{clip}/{pclip_head}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/perceptionclip_head.py"


rule perceptionclip_eval:
    input:
        unpack(lambda wildcards: pclip_plan.eval_inputs(config, wildcards.clip, wildcards.pclip_task)),
    output:
        "results/perceptionclip/{clip}/{pclip_task}.json",
    params:
        task=lambda wildcards: pclip_plan.task(config, wildcards.pclip_task),
        temperatures=pclip_plan.temperatures(config),
        tau=PCLIP.get("tau", "val"),
        modes=pclip_plan.modes(config),
    log:
        "logs/perceptionclip_eval/{clip}/{pclip_task}.log",
    benchmark:
        "benchmarks/perceptionclip/perceptionclip_eval/{clip}/{pclip_task}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/perceptionclip_eval.py"


rule perceptionclip_table:
    input:
        runs=lambda wildcards: expand("results/perceptionclip/{clip}/{task}.json", clip=PCLIP_MODELS,
                                      task=registry.table(wildcards.table).config[-1]),
    output:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        sweep="results/tables/{table}_tau_sweep.csv",
        inference="results/tables/{table}_inference.csv",
        png="results/figures/{table}.png",
    params:
        table=lambda wildcards: wildcards.table,
        models=PCLIP_MODELS,
        backbones=PCLIP.get("backbones") or {},
    wildcard_constraints:
        table=table_ids("perceptionclip_table"),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/perceptionclip/perceptionclip_table/{table}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table.py"
