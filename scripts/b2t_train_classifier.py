"""Rule b2t_train_classifier: ERM on a task's train split (the classifier B2T audits)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.b2t.classify import train  # noqa: E402
from vlmbias.core import smk  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
train(snakemake.params.spec, snakemake.params.sample_dir, snakemake.output.model, snakemake.output.metrics,
      log=log.info)
