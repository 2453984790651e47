"""Rule textspan_ablations: base, MLP mean-ablated and accumulated MSA mean-ablated accuracy."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.analyses import run_ablations  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run_ablations(snakemake.input.decomposition, snakemake.output[0], log=log.info)
