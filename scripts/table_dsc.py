"""Rules t01_combinations ... t07_pseudo_datasets: a dataset-classification table (and figure)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias import smk, tables  # noqa: E402

log = smk.setup(snakemake)
tables.write_dsc_table(snakemake.params.table_id, list(snakemake.params.rows),
                       tables.load_metrics(snakemake.input), snakemake.output.csv,
                       snakemake.output.md, snakemake.config,
                       png_path=snakemake.output.get("png"))
log.info("wrote %s", snakemake.output.md)
