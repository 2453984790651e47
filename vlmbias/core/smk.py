"""Glue for the thin scripts under scripts/: logging to the rule's log file, and the job's GPU."""

from __future__ import annotations

import logging
import os
import platform
import sys

from vlmbias.core import gpu


def setup(snakemake) -> logging.Logger:
    """Send stdout, stderr (tqdm bars included) and a logger to the rule's ``log:`` file, then
    give a GPU job its device(s) (``vlmbias.gpu.assign``; before any CUDA call) and log where
    the job runs: host, SLURM job id, ``CUDA_VISIBLE_DEVICES``."""
    if snakemake.log:
        f = open(snakemake.log[0], "w", buffering=1)
        sys.stdout = sys.stderr = f
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", force=True)
    log = logging.getLogger(f"vlmbias.{snakemake.rule}")
    assignment = gpu.assign(gpu.gpu_resource(snakemake))
    log.info("job: rule %s on %s, SLURM job %s; %s", snakemake.rule, platform.node(),
             os.environ.get("SLURM_JOB_ID", "none"), assignment.describe())
    return log
