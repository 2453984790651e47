"""Rules t01_combinations, t02_architectures: a dataset-classification table."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias import smk, tables  # noqa: E402

log = smk.setup(snakemake)
tables.write_dsc_table(snakemake.params.table_id, list(snakemake.params.rows),
                       tables.load_metrics(snakemake.input), snakemake.output.csv,
                       snakemake.output.md, snakemake.config)
log.info("wrote %s", snakemake.output.md)
