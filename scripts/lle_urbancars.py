"""Rule lle_urbancars: one UrbanCars method, one seed (vlmbias.lle.run)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.lle.run import train  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
train(snakemake.params.spec, snakemake.params.sample_dir, snakemake.output[0], log=log.info)
