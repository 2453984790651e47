"""Rule textspan_waterbirds: worst-group accuracy, base vs place heads vs random heads ablated."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.analyses import run_waterbirds  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run_waterbirds(snakemake.input.decomposition, snakemake.input.heads, snakemake.params.waterbirds,
               snakemake.params.seed, snakemake.output[0], log=log.info)
