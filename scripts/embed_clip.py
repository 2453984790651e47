"""Rule embed_clip: image embeddings of one split of a sampled dataset, for one CLIP."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.clip.embed import embed_split  # noqa: E402
from vlmbias.clip.load import load_clip  # noqa: E402
from vlmbias.core import smk  # noqa: E402
from vlmbias.core.device import pick_device  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
bundle = load_clip(snakemake.params.spec, checkpoint=snakemake.input.get("weights"),
                   device=pick_device(snakemake.params.device), name=w.clip)
info = embed_split(bundle, snakemake.params.sample_dir, w.dataset, w.split, snakemake.output[0],
                   batch_size=int(snakemake.params.batch_size), preprocess=snakemake.params.preprocess)
log.info("embedded %s", info)
