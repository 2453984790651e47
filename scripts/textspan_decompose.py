"""Rule textspan_decompose: one streaming decomposition pass of a CLIP over a sampled split."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.textspan.run import run_decompose  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
w, p = snakemake.wildcards, snakemake.params
run_decompose(p.spec, snakemake.input.get("weights"), w.clip, p.sample_dir, w.dataset, p.dataset_spec,
              p.textspan, snakemake.output[0], log=log.info)
