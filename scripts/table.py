"""Every table rule: the table's registered writer (vlmbias/tables/registry.yaml) on the rule's
declared inputs and outputs."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.tables import registry  # noqa: E402

log = smk.setup(snakemake)
registry.write(registry.TableJob.from_snakemake(snakemake))
log.info("wrote %s", snakemake.output.md)
