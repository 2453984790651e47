"""Rule train_dsc: one dataset-classification training run, on as many processes as the job
has GPUs (gpu=N: DistributedDataParallel, one process per GPU; on CPU one process)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.core import gpu, smk  # noqa: E402
from vlmbias.dsc.run import run  # noqa: E402
from vlmbias.train import distributed  # noqa: E402

log = smk.setup(snakemake)
nproc = distributed.processes(gpu.gpu_resource(snakemake))
threads = max(1, snakemake.threads // nproc)
torch.set_num_threads(threads)
distributed.launch(run, nproc, snakemake.params.spec, dict(snakemake.params.sample_dirs),
                   snakemake.output.metrics, snakemake.output.model, progress=True,
                   log=log.info, log_path=snakemake.log[0], threads=threads)
