"""vlmbias: data-bias experiments on vision and vision-language models, as one Snakemake DAG.

Layout of the repository:

Snakefile              includes, rule all, rule clip, one target rule per table
rules/                 common.smk (config validation, registry, shared helpers), then one file per
                       stage: toyworld, sampling, dataset_classification, ssl, clip, textspan,
                       perceptionclip, b2t, lle, report
config/                config.yaml (toy), paper.yaml, smoke.yaml, subtle_cues.yaml, schema.yaml, README.md
scripts/               one thin script per rule (table.py: every table rule, through the registry)
vlmbias/core/          atomic files and JSON, device, GPU slots, config datasets, results paths, script glue
vlmbias/shards/        the one reader and writer of shards, the seeded sampler, datasets over samples
vlmbias/toyworld/      drawing, objects, scenes by kind, labeled worlds, signatures, sources, generation
vlmbias/train/         the one training loop, recipe (timm), models, corruptions, objectives (the seam
                       where methods plug in their loss, sample weights and extra networks)
vlmbias/clip/          specs (torch-free), loader, templates, zero-shot, pre-training, embedding cache
vlmbias/tables/        registry.yaml + registry.py, CSV/Markdown writing, figures, report pages
vlmbias/dsc/           dataset classification: plan, ssl_plan (config -> jobs, no torch), run, mae,
                       probe, composition, tables, figures
vlmbias/textspan/      TextSpan: plan, decompose, span, pool, run, analyses, tables, figures, bench
vlmbias/perceptionclip/  PerceptionCLIP: plan, prompts (+ official attribute dictionaries), infer, run, tables
vlmbias/b2t/           B2T: plan, classify (the audited classifier), clipcap + captioner, keywords (YAKE,
                       score, tags), audit, prompting (t12), diagnosis (t13), tables, figures
vlmbias/lle/           Whac-A-Mole: plan, metrics (official), run, methods/ (one module per method,
                       registry methods.yaml), ensemble + shifts (LLE), convert, watermark, tables;
                       t15: imagenet (backbone, LLR runs), imagenet_shifts, imagenet_methods.yaml,
                       imagenet_clip (zero-shot rows)
vlmbias/bench.py       `python -m vlmbias.bench`: workflow benchmarks; `gpu`: the GPU check (gpucheck.py)
tests/<concern>/       unit tests by package folder; tests/workflow/: DAG, parse, e2e, reruns, SLURM, lint
envs/ profiles/ report/    conda envs per rule family, workstation and SLURM profiles, report captions

Each family folder has a plan module that resolves the config into jobs without importing torch
(parsing the workflow never does: `tests/workflow/test_parse.py`), run modules and table writers.
Adding a table is one registry entry, one writer, its rule. The module docstrings say how each
step is implemented and where it departs from the paper.
"""
