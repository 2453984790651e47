"""Rule b2t_predict: the audited classifier's prediction for every image of a split."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.b2t.classify import predict_split  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
predict_split(snakemake.params.spec, snakemake.input.get("weights"), snakemake.params.sample_dir, snakemake.wildcards.split,
              snakemake.output[0], log=log.info)
