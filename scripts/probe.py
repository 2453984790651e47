"""Rule probe: one linear probe of a frozen encoder."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias import smk, transfer  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
transfer.run_probe(snakemake.params.spec, dict(snakemake.params.sample_dirs),
                   snakemake.input.get("encoder"), snakemake.output.metrics, log=log.info)
