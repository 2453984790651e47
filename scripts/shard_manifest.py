"""Rule shard_manifest: a user's dataset's shards with their sizes and mtimes (the sample job's input)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.shards import manifest  # noqa: E402

log = smk.setup(snakemake)
entries = manifest.listing(snakemake.params.patterns)
manifest.write_manifest(snakemake.output[0], entries)
log.info("%s: %s listed in %s", snakemake.wildcards.dataset, manifest.digest(entries), snakemake.output[0])
