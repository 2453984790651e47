"""One training run on N processes (one per GPU; gloo on CPU): DistributedDataParallel.

:func:`launch` runs ``fn(*args, **kwargs)`` on ``nprocs`` processes of this node, as
``torchrun --standalone --nproc_per_node=N`` would (``torch.distributed.launcher``'s
``elastic_launch``, the API torchrun itself calls: c10d rendezvous on a free local port, no
restarts), and returns what rank 0 returned. ``nprocs == 1`` calls ``fn`` in this process,
without spawning. Each process initialises its process group (NCCL on CUDA, gloo on CPU),
takes the GPU of its local rank, and appends its log lines to the rule's log file.

Under torch.distributed, ``vlmbias.train.loop.fit`` runs the same global batch and schedule as
one process: each rank takes its 1/N slice of every global micro-batch of the one seeded order,
DDP averages the gradients (no all-reduce on non-final micro-steps of an accumulation), rank 0
alone evaluates, checkpoints and logs; every rank resumes from the checkpoint.

:func:`processes` says how many processes a job gets: one per GPU it was given (``gpu=N`` on
the rule; ``vlmbias.core.gpu`` bound them), one on CPU.

A run on N GPUs is not bit-identical to one on one GPU (reduction order, per-rank BatchNorm
statistics and augmentation draws). Objectives with per-sample state (LfF, JTT, GroupDRO, ...)
are refused. The config's ``train_gpus: N`` gives rule ``train_dsc`` ``gpu=N``: on a workstation
pass ``--resources gpu=`` at least N; on SLURM see ``profiles/slurm/README.md``.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import uuid
from typing import Any, Callable

import torch
import torch.distributed as dist

TIMEOUT = datetime.timedelta(hours=2)  # rank 0's evaluation and checkpoint, while the others wait


def rank_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_world()[0] == 0


def barrier() -> None:
    if rank_world()[1] > 1:
        dist.barrier()


def processes(gpus: int | None) -> int:
    """Processes for a job with ``gpus`` GPUs requested: one per GPU it can see (at most
    ``gpus``), one when it has none (CPU: a second process would only share the same cores)."""
    want = max(1, int(gpus or 1))
    if not torch.cuda.is_available():
        return 1
    have = torch.cuda.device_count()
    if have < want:
        raise RuntimeError(f"the job asks for {want} GPUs but sees {have} "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    return want


def init_from_env(backend: str | None = None) -> None:
    """Join the process group torchrun's environment describes (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR/PORT); on CUDA, take the local rank's GPU. Nothing when WORLD_SIZE is 1 or unset."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=TIMEOUT)


def _log_to(path: str | None) -> Callable[[str], None]:
    rank = int(os.environ.get("RANK", "0"))
    if path:
        f = open(path, "a", buffering=1)
        sys.stdout = sys.stderr = f
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format=f"%(asctime)s %(levelname)s [rank {rank}] %(message)s")
    return logging.getLogger(f"vlmbias.rank{rank}").info


def _entry(fn: Callable, args: tuple, kwargs: dict, log_path: str | None, threads: int | None,
           backend: str | None):
    if threads:
        torch.set_num_threads(threads)
    log = _log_to(log_path)
    init_from_env(backend)
    try:
        return fn(*args, **kwargs, log=log)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(fn: Callable[..., Any], nprocs: int, *args, log: Callable[[str], None] = print,
           log_path: str | None = None, threads: int | None = None, backend: str | None = None,
           **kwargs) -> Any:
    """``fn(*args, **kwargs, log=...)`` on ``nprocs`` local processes (module-level ``fn``:
    the processes are spawned); returns rank 0's result. ``log_path``: the file every rank
    appends its log lines to (else stderr); ``threads``: torch threads of each process."""
    if nprocs <= 1:
        return fn(*args, **kwargs, log=log)
    import tempfile

    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    log(f"launching {nprocs} processes (DistributedDataParallel, "
        f"{backend or ('nccl' if torch.cuda.is_available() else 'gloo')})")
    if log_path:  # the children append to it: what this process wrote first must be there
        sys.stdout.flush()
        sys.stderr.flush()
    # the elastic agent's own log folder (else a torchelastic_* folder left in /tmp per run)
    with tempfile.TemporaryDirectory(prefix="vlmbias-ddp-") as agent_logs:
        cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nprocs, run_id=uuid.uuid4().hex,
                           rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                           monitor_interval=0.1, start_method="spawn",
                           logs_specs=DefaultLogsSpecs(log_dir=agent_logs))
        results = elastic_launch(cfg, _entry)(fn, args, kwargs, log_path, threads, backend)
    return results[0]
