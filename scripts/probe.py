"""Rule probe: the linear probes of one frozen encoder on one task (one head per layer x lr)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import smk  # noqa: E402
from vlmbias.dsc.probe import run_probe  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
run_probe(snakemake.params.spec, dict(snakemake.params.sample_dirs), snakemake.input.get("encoder"),
          snakemake.output.metrics, log=log.info)
