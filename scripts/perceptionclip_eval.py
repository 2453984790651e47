"""Rule perceptionclip_eval: every setting, mode and temperature of one task, for one CLIP."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.perceptionclip.run import evaluate  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
evaluate(snakemake.input.eval, snakemake.input.val, list(snakemake.input.heads), p.task, p.temperatures, p.tau,
         p.modes, snakemake.output[0], log=log.info)
