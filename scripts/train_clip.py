"""Rule train_clip: contrastive pre-training of a CLIP in the workflow (the toy world's)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias import clip, smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
zs = snakemake.params.zero_shot
zero_shot = None
if zs:
    zero_shot = {"dataset": zs["dataset"], "split": zs["split"], "classnames": zs["classnames"],
                 "templates": clip.templates(zs["templates"]),
                 "sample_dir": dict(snakemake.params.sample_dirs)[zs["dataset"]]}
clip.train_clip(snakemake.params.spec, dict(snakemake.params.sample_dirs), snakemake.output.model,
                snakemake.output.metrics, zero_shot=zero_shot, seed=int(snakemake.params.seed),
                name=snakemake.wildcards.clip, log=log.info)
