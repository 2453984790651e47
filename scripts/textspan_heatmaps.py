"""Rule f21_token_heatmaps: per-token contribution maps of two prompts, for a few images."""
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias import clip, interpret, smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
classnames = clip.class_names(p.dataset_spec)
records, arrays = [], {}
for name, weights in zip(p.models, p.weights):
    recs, arr = interpret.run_heatmaps(p.specs[name], weights or None, name, os.path.dirname(snakemake.input.index),
                                       p.textspan, classnames, log=log.info)
    records += recs
    arrays[name] = arr
pngs = snakemake.output.png
pngs = [pngs] if isinstance(pngs, str) else list(pngs)
interpret.write_f21(snakemake.config, records, arrays, snakemake.output.csv, snakemake.output.md,
                    dict(zip(p.models, pngs)))
log.info("wrote %s", snakemake.output.md)
