"""Rule textspan_pool: the TextSpan text pool and its CLIP text embeddings."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.run import run_text_pool  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run_text_pool(snakemake.params.spec, snakemake.input.get("weights"), snakemake.wildcards.clip,
              snakemake.params.textspan, snakemake.output[0], log=log.info)
