"""Rule toyworld: one toy-world source as raw WebDataset shards."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.toyworld import generate_source  # noqa: E402

log = smk.setup(snakemake)
summary = generate_source(snakemake.wildcards.source, int(snakemake.params.n_images), list(snakemake.output),
                          image_size=int(snakemake.params.image_size), seed=int(snakemake.params.seed),
                          progress=True, **snakemake.params.difficulty)
log.info("toy source %s: %s", snakemake.wildcards.source, summary)
