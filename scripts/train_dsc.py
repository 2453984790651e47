"""Rule train_dsc: one dataset-classification training run."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.dsc.run import run  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run(snakemake.params.spec, dict(snakemake.params.sample_dirs), snakemake.output.metrics,
    snakemake.output.model, progress=True, log=log.info)
