"""Rule b2t_keywords: keywords of each class's mispredicted captions, scored with a CLIP."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.b2t.audit import find_keywords  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p, i = snakemake.params, snakemake.input
find_keywords(p.task, i.predictions, i.captions, i.embeddings, p.scorer_spec, i.get("weights"), p.scorer, p.options,
              snakemake.output[0], device=p.device, log=log.info)
