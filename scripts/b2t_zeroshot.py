"""Rule b2t_zeroshot: zero-shot accuracy with the base, group-name, B2T-neg and B2T-pos prompts."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from vlmbias.b2t.prompting import zero_shot  # noqa: E402
from vlmbias.core import smk  # noqa: E402
from vlmbias.core.io import read_json  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p, i = snakemake.params, snakemake.input
keywords = read_json(i.keywords) if "keywords" in i.keys() else None
captions = pd.read_parquet(i.captions)["caption"].tolist() if "captions" in i.keys() else []
zero_shot(p.task, keywords, captions, i.embeddings, p.clip_spec, i.get("weights"), p.clip, p.options,
          snakemake.output[0], device=p.device, log=log.info)
