"""Rule b2t_train_captioner: a toy ClipCap trained on image-caption pairs."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.b2t.captioner import train  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
o = snakemake.output
train(snakemake.params.spec, list(snakemake.input.embeddings), list(snakemake.input.indexes), o.model, o.metrics,
      o.tokenizer, holdout_embeddings=list(snakemake.input.holdout), log=log.info)
