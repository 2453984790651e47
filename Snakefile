# vlmbias: every table of the material regenerated from raw image shards.
# Default config: the toy world (config/config.yaml). The material's protocol on real data:
#   snakemake --configfile config/paper.yaml ...
# (a --configfile replaces the default config instead of being merged into it).
# The tables: vlmbias/tables/registry.yaml; each has a target rule of its own name.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the vlmbias package, whatever env runs Snakemake

from vlmbias.core.scheduler import coalesce_reevaluation_timers

coalesce_reevaluation_timers()  # one pending re-evaluation timer, not one more per job event


if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "rules/common.smk"
include: "rules/toyworld.smk"
include: "rules/sampling.smk"
include: "rules/dataset_classification.smk"
include: "rules/ssl.smk"
include: "rules/clip.smk"
include: "rules/textspan.smk"
include: "rules/b2t.smk"
include: "rules/perceptionclip.smk"
include: "rules/lle.smk"
include: "rules/report.smk"


report: "report/workflow.rst"


rule all:
    default_target: True
    input:
        all_tables(),
        report_targets(),
        # the zero-shot accuracy of every CLIP (from the embedding cache); `clip` embeds the rest
        [f"results/clip/{m}/zeroshot.json" for m in CLIP_MODELS] if CLIP.get("zero_shot") else [],


# The shared CLIP stack alone: trained models, embedding caches, zero-shot accuracies.
rule clip:
    input:
        clip_spec.targets(config),


# One target rule per table of the config, named by its id: `snakemake <table id>`.
for _table in TABLES:

    rule:
        name:
            _table
        input:
            table_files(_table),
        localrule: True
