# Report pages (snakemake --report results/report.html): every table id of the run rendered as
# HTML (the report viewer renders HTML and images, not Markdown or CSV), every figure copied
# beside it, both marked by report_item (rules/common.smk). Local, cheap jobs.


rule table_html:
    input:
        csv="results/tables/{table}.csv",
        md="results/tables/{table}.md",
        figures=table_figures,
    output:
        report_item("results/report/{table}.html", "{table}", "table"),
    params:
        table_id=lambda wildcards: wildcards.table,
        title=lambda wildcards: registry.table(wildcards.table).title,
        category=lambda wildcards: registry.category(wildcards.table),
        provenance=REPORT_PROVENANCE,
    wildcard_constraints:
        table=alternatives(TABLES),
    log:
        "logs/report/{table}.log",
    benchmark:
        "benchmarks/report/table_html/{table}.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/table_html.py"


rule figure_report:
    input:
        "results/figures/{figure}.png",
    output:
        report_item("results/report/{figure}.png", "{figure}", "figure"),
    params:
        table_id=lambda wildcards: wildcards.figure,
        title=lambda wildcards: registry.table(registry.table_of(wildcards.figure)).title,
        category=lambda wildcards: registry.category(wildcards.figure),
        provenance=REPORT_PROVENANCE,
    wildcard_constraints:
        figure="[^/]+",
    log:
        "logs/report/{figure}.png.log",
    benchmark:
        "benchmarks/report/figure_report/{figure}.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    shell:
        "cp {input:q} {output:q} 2> {log:q}"
