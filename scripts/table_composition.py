"""Rule t10_composition: group shares per dataset from the sampled images' metadata."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias import smk, tables  # noqa: E402

log = smk.setup(snakemake)
tables.write_composition_table(list(snakemake.params.datasets), list(snakemake.input),
                               snakemake.params.attributes, snakemake.output.csv,
                               snakemake.output.md, snakemake.config)
log.info("wrote %s", snakemake.output.md)
