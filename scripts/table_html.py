"""Rule table_html: a table (and its figures) as one HTML page for the report."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.tables.report import table_html  # noqa: E402

log = smk.setup(snakemake)
table_html(snakemake.params.table_id, snakemake.input.csv, snakemake.input.md, snakemake.output[0],
           dict(snakemake.params.provenance), list(snakemake.input.figures))
log.info("wrote %s", snakemake.output[0])
