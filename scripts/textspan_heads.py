"""Rule textspan_heads: TextSpan per head of the last layers, replaced accuracy, top images."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.analyses import run_heads  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run_heads(snakemake.input.decomposition, snakemake.input.pool, snakemake.params.textspan,
          snakemake.output.json, snakemake.output.pt, log=log.info)
