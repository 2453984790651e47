"""Rule lle_imagenet_backbone: the toy ImageNet backbone's ERM training (vlmbias.lle.imagenet)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.lle.imagenet import train_backbone  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
train_backbone(snakemake.params.spec, snakemake.output.model, snakemake.output.metrics, log=log.info)
