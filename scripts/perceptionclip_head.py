"""Rule perceptionclip_head: one PerceptionCLIP text head (a row per class x attribute value)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.perceptionclip.run import build_head  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
build_head(p.spec, snakemake.input.get("weights"), snakemake.wildcards.clip, p.prompts, snakemake.output[0],
           device=p.device, log=log.info)
