"""Rules t08_mae_linear_probe, t09_transfer."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias import smk, tables  # noqa: E402

log = smk.setup(snakemake)
dsc = tables.load_metrics(snakemake.input.get("dsc", []))
probes = {m["probe_id"]: m for m in tables.load_json(snakemake.input.get("probes", []))}
tables.write_transfer_table(snakemake.params.table_id, snakemake.config, dsc, probes,
                            snakemake.output.csv, snakemake.output.md)
log.info("wrote %s", snakemake.output.md)
