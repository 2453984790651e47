# Shared by every family's file: the validated config, the table registry, the sampled datasets'
# paths, the report's marking. Each family's file opens with what its plan module resolves.
import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from vlmbias.core import config as vconfig
from vlmbias.core.paths import sample_dir, sample_dirs, sample_inputs
from vlmbias.tables import registry
from vlmbias.tables import report as vreport

validate(config, "../config/schema.yaml")


def check_config(check):
    """Run a config check (vlmbias.core.config, a family's plan.check): a bad config stops the
    run before any job, naming the culprit."""
    try:
        check(config)
    except vconfig.ConfigError as e:
        raise WorkflowError(f"Invalid config: {e}")


check_config(vconfig.check_datasets)

TABLES = registry.enabled(config)  # the tables this config asks for, in the material's order


def alternatives(names):
    """A wildcard constraint matching exactly ``names`` (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def table_ids(rule):
    """Constraint of a table rule's {table} wildcard: the ids the registry assigns the rule."""
    return alternatives(registry.ids(rule=rule))


wildcard_constraints:
    dataset=alternatives(config["datasets"]),


def train_threads(wildcards):
    """Threads of a training job: its data-loading workers (at least one)."""
    return max(1, int(config["train"].get("num_workers", 0)))


def table_files(table_id):
    """A table's CSV, Markdown and figures."""
    t = registry.table(table_id)
    return [f"results/tables/{table_id}.csv", f"results/tables/{table_id}.md", *t.figure_paths(config)]


def all_tables():
    return [f for t in TABLES for f in table_files(t)]


# The report (snakemake --report results/report.html; rules/report.smk): each table id gets
# results/report/<id>.html, each figure results/report/<figure>.png, marked by report_item
# (category = the table's paper, subcategory = table id). Any other output can be marked too:
# output: report_item("results/...", "<table id>").
REPORT_PROVENANCE = vreport.provenance(config, workflow.configfiles, workflow.basedir)


def report_item(path, table_id, kind="table"):
    """``path`` marked for the report under its paper and table (``table_id`` may be a
    wildcard pattern such as "{table}"), captioned by report/result.rst."""
    def resolve(w):
        return table_id.format(**w) if "{" in table_id else table_id

    return report(path, caption="../report/result.rst", category=lambda w: registry.category(resolve(w)),
                  subcategory=lambda w: resolve(w), labels=lambda w: {"table": resolve(w), "file": kind})


def report_figures():
    return registry.figure_paths(config)


def table_figures(wildcards):
    """The figures of a table."""
    return registry.table(wildcards.table).figure_paths(config)


def report_targets():
    figures = [f"results/report/{os.path.basename(f)}" for f in report_figures()]
    return expand("results/report/{table}.html", table=TABLES) + figures
