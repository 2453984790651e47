"""Rule textspan_decompose: one streaming decomposition pass of a CLIP over a sampled split."""
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias import interpret, smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
interpret.run_decompose(snakemake.params.spec, snakemake.input.get("weights"), w.clip,
                        os.path.dirname(snakemake.input.index), w.dataset, snakemake.params.dataset_spec,
                        snakemake.params.textspan, snakemake.output[0], log=log.info)
