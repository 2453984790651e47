"""Rule train_clip: contrastive pre-training of a CLIP in the workflow (the toy world's)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.clip.pretrain import train_clip  # noqa: E402
from vlmbias.clip.spec import class_names  # noqa: E402
from vlmbias.clip.templates import templates  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
zs = snakemake.params.zero_shot
sample_dirs = dict(snakemake.params.sample_dirs)
zero_shot = None
if zs:
    zero_shot = {"dataset": zs["dataset"], "split": zs["split"], "classnames": class_names(zs["dataset_spec"]),
                 "templates": templates(zs["templates"]), "sample_dir": sample_dirs[zs["dataset"]]}
train_clip(snakemake.params.spec, sample_dirs, snakemake.output.model, snakemake.output.metrics,
           zero_shot=zero_shot, seed=int(snakemake.params.seed), name=snakemake.wildcards.clip, log=log.info)
