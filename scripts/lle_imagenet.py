"""Rule lle_imagenet: one (backbone, method, seed) of t15, last-layer retraining on the frozen
backbone and the six shortcut columns (vlmbias.lle.imagenet)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.lle.imagenet import job_spec, run_llr  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
spec = job_spec(snakemake.params.spec, snakemake.input.in9_map)
weights = snakemake.input.backbone[0] if snakemake.input.backbone else None
run_llr(spec, weights, snakemake.output[0], log=log.info)
