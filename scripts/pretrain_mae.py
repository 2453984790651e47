"""Rule pretrain_mae: MAE pre-training (or import of a public MAE checkpoint)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.dsc.mae import pretrain_mae  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
pretrain_mae(snakemake.params.spec, dict(snakemake.params.sample_dirs), snakemake.output.encoder,
             snakemake.output.metrics, log=log.info)
