"""Rule textspan_heatmaps: per-token contribution maps of two prompts, for a few images, one CLIP."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.run import run_heatmaps  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
run_heatmaps(p.spec, snakemake.input.get("weights"), snakemake.wildcards.clip, p.sample_dir, p.textspan,
             p.dataset_spec, snakemake.output[0], log=log.info)
