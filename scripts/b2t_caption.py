"""Rule b2t_caption: captions of every image of a split, once per (captioner, dataset, split)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.b2t.captioner import caption_split  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
caption_split(snakemake.params.spec, snakemake.input.model, snakemake.input.tokenizer, snakemake.input.embeddings,
              snakemake.output[0], device=snakemake.params.device, log=log.info)
